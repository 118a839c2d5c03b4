// Sorting out detect()'s and classify()'s `images` (see inputs.h).
#include "inputs.h"

#include <pybind11/numpy.h>

#include "arrays.h"
#include "engine/error.h"

namespace py = pybind11;

namespace spdinfer::python {
namespace {

// str, bytes (os.fsdecode's) or os.PathLike (pathlib.Path).
bool is_path(const py::handle& item) {
  static const py::object path_like = py::module_::import("os").attr("PathLike");
  return py::isinstance<py::str>(item) || py::isinstance<py::bytes>(item) || py::isinstance(item, path_like);
}

ImageInput one_input(const py::handle& item, const std::string& where) {
  ImageInput input;
  if (is_path(item)) {
    py::object os = py::module_::import("os");
    input.path = os.attr("fsdecode")(item).cast<std::string>();
    if (input.path.empty()) throw Error(where + ": empty file path");
    if (input.path.find('\0') != std::string::npos) throw Error(where + ": file path contains a NUL character");
    input.label = input.path;
  } else if (py::isinstance<py::array>(item)) {
    input.label = where;
    input.pixels = image_from_array(py::reinterpret_borrow<py::array>(item), where);
  } else {
    throw Error(where + ": " + py::str(py::type::of(item).attr("__name__")).cast<std::string>() +
                ", expected a file path or an (H, W, 3) uint8 RGB array");
  }
  return input;
}

}  // namespace

const Image& ImageInput::load(Image& decoded) const {
  if (path.empty()) return pixels;
  decoded = load_image(path);
  return decoded;
}

ImageInputs collect_image_inputs(const py::handle& images) {
  ImageInputs inputs;
  if (py::isinstance<py::list>(images) || py::isinstance<py::tuple>(images)) {
    std::size_t i = 0;
    for (const py::handle item : images)
      inputs.images.push_back(one_input(item, "images[" + std::to_string(i++) + "]"));
  } else {
    inputs.single = true;
    inputs.images.push_back(one_input(images, "images"));
  }
  return inputs;
}

}  // namespace spdinfer::python
