// spdinfer's one exception type. Every message names the thing that is wrong
// (a file, a tensor, a node) and what was expected versus found.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace spdinfer {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// f() with an spdinfer::Error from it rethrown naming `image` (or a dataset's
// sample), as the command and the Python module report a failing image:
// "IMAGE: at input (1, 3, 640, 480): ...".
template <class F>
auto naming_image(const std::string& image, F&& f) -> decltype(std::forward<F>(f)()) {
  try {
    return std::forward<F>(f)();
  } catch (const Error& e) {
    throw Error(image + ": " + e.what());
  }
}

}  // namespace spdinfer
