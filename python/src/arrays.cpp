// Array checks and copies (see arrays.h).
#include "arrays.h"

#include <cstring>

#include "engine/error.h"

namespace py = pybind11;

namespace spdinfer::python {
namespace {

std::string shape_text(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

std::string dtype_text(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

// The array as a C-contiguous array of T: the same object when it already is
// one, else a contiguous copy (a slice, a transposed view, a negative stride).
template <typename T>
py::array_t<T, py::array::c_style> contiguous(const py::array& a) {
  return py::array_t<T, py::array::c_style>::ensure(a);
}

}  // namespace

Image image_from_array(const py::array& array, const std::string& what) {
  if (!array.dtype().is(py::dtype::of<std::uint8_t>()))
    throw Error(what + ": array of dtype " + dtype_text(array) +
                ", expected uint8 RGB pixels (convert with .astype(numpy.uint8) if the values are 0-255)");
  if (array.ndim() != 3 || array.shape(2) != 3)
    throw Error(what + ": array of shape " + shape_text(array) + ", expected (height, width, 3) RGB");
  const py::ssize_t h = array.shape(0), w = array.shape(1);
  if (h == 0 || w == 0) throw Error(what + ": empty image array of shape " + shape_text(array));
  if (h > kMaxImageSide || w > kMaxImageSide || h * w > kMaxImagePixels)
    throw Error(what + ": image array of shape " + shape_text(array) + " is larger than " +
                std::to_string(kMaxImageSide) + " pixels a side or " + std::to_string(kMaxImagePixels) +
                " pixels in all");
  auto pixels = contiguous<std::uint8_t>(array);
  Image image(static_cast<int>(w), static_cast<int>(h));
  std::memcpy(image.pixels.data(), pixels.data(), image.pixels.size());
  return image;
}

Tensor tensor_from_array(const py::array& array, const std::string& what) {
  if (!array.dtype().is(py::dtype::of<float>()))
    throw Error(what + ": array of dtype " + dtype_text(array) + ", expected float32 (N, 3, H, W)");
  if (array.ndim() != 4 || array.shape(1) != 3)
    throw Error(what + ": array of shape " + shape_text(array) + ", expected (N, 3, H, W)");
  const py::ssize_t n = array.shape(0), h = array.shape(2), w = array.shape(3);
  if (n == 0 || h == 0 || w == 0) throw Error(what + ": empty array of shape " + shape_text(array));
  if (h > kMaxImageSide || w > kMaxImageSide || n * h * w > kMaxImagePixels)
    throw Error(what + ": array of shape " + shape_text(array) + " is larger than " +
                std::to_string(kMaxImageSide) + " a side or " + std::to_string(kMaxImagePixels) +
                " pixels in all (N * H * W)");
  auto values = contiguous<float>(array);
  Tensor tensor(Shape{n, 3, h, w});
  std::memcpy(tensor.data(), values.data(), sizeof(float) * tensor.numel());
  return tensor;
}

py::array_t<float> array_from_tensor(const Tensor& tensor) {
  std::vector<py::ssize_t> shape(tensor.shape().begin(), tensor.shape().end());
  py::array_t<float> out(shape);
  if (tensor.numel() > 0) std::memcpy(out.mutable_data(), tensor.data(), sizeof(float) * tensor.numel());
  return out;
}

py::array_t<std::uint8_t> array_from_image(const Image& image) {
  py::array_t<std::uint8_t> out({py::ssize_t(image.height), py::ssize_t(image.width), py::ssize_t(3)});
  std::memcpy(out.mutable_data(), image.pixels.data(), image.pixels.size());
  return out;
}

py::array_t<float> xyxy_array(const std::vector<Detection>& detections) {
  py::array_t<float> out({py::ssize_t(detections.size()), py::ssize_t(6)});
  auto rows = out.mutable_unchecked<2>();
  for (std::size_t i = 0; i < detections.size(); ++i) {
    const Detection& d = detections[i];
    const py::ssize_t r = static_cast<py::ssize_t>(i);
    rows(r, 0) = d.x1;
    rows(r, 1) = d.y1;
    rows(r, 2) = d.x2;
    rows(r, 3) = d.y2;
    rows(r, 4) = d.confidence;
    rows(r, 5) = static_cast<float>(d.class_id);
  }
  return out;
}

}  // namespace spdinfer::python
