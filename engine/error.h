// spdinfer's exception types. Every message names the thing that is wrong
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

// An Error whose cause is the model (a layer that cannot run at this input size, a forward pass
// over the memory budget): its message starts with the model file (code that does not know the
// file, such as the engine's golden comparison, leaves that to its caller), and code that names
// the image or sample being processed adds it as context instead of blaming it.
class ModelError : public Error {
 public:
  explicit ModelError(const std::string& message) : Error(message) {}
};

// f() with an spdinfer::Error from it rethrown naming `image` (or a dataset's sample), as the
// command and the Python module report a failing image: "IMAGE: ...". A ModelError keeps the
// model as the file to blame and gets the image as context: "MODEL: at input (1, 3, 640, 480):
// ... (running IMAGE)".
template <class F>
auto naming_image(const std::string& image, F&& f) -> decltype(std::forward<F>(f)()) {
  try {
    return std::forward<F>(f)();
  } catch (const ModelError& e) {
    throw ModelError(std::string(e.what()) + " (running " + image + ")");
  } catch (const Error& e) {
    throw Error(image + ": " + e.what());
  }
}

}  // namespace spdinfer
