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

// An Error whose cause is the model (a layer that cannot run at this input size, a forward pass
// over the memory budget): its message starts with the model file (code that does not know the
// file, such as the engine's golden comparison, leaves that to its caller), and code that names
// the image or sample being processed adds it as context instead of blaming it.
class ModelError : public Error {
 public:
  explicit ModelError(const std::string& message) : Error(message) {}
};

}  // namespace spdinfer
