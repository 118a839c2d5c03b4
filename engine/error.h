// spdinfer's one exception type. Every message names the thing that is wrong
// (a file, a tensor, a node) and what was expected versus found.
#pragma once

#include <stdexcept>
#include <string>

namespace spdinfer {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace spdinfer
