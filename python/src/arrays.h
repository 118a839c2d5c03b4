// NumPy arrays <-> the engine's images and tensors, with every check a caller's
// array can fail: dtype, rank, channel count, empty or too large. Strided
// (non-contiguous) arrays are copied, never refused. Called with the GIL held.
// What it is not: decoding files (image/image.h) or running a model.
#pragma once

#include <pybind11/numpy.h>
#include <string>
#include <vector>

#include "detect/detection.h"
#include "engine/tensor.h"
#include "image/image.h"

namespace spdinfer::python {

// An (H, W, 3) uint8 RGB array (PIL's layout) -> Image. Throws spdinfer::Error
// "`what`: ..." for any other dtype or shape, an empty array, or one larger
// than the image decoder accepts (image/image.h's kMaxImageSide, kMaxImagePixels).
Image image_from_array(const pybind11::array& array, const std::string& what);

// An (N, 3, H, W) float32 array -> Tensor (owned copy). Throws spdinfer::Error
// "`what`: ..." for another dtype, rank or channel count, an empty array, or
// sides or a size beyond the largest image the engine decodes.
Tensor tensor_from_array(const pybind11::array& array, const std::string& what);

// A float32 array of the tensor's shape and values (a copy).
pybind11::array_t<float> array_from_tensor(const Tensor& tensor);

// An (H, W, 3) uint8 array of the image's pixels (a copy).
pybind11::array_t<std::uint8_t> array_from_image(const Image& image);

// (N, 6) float32 rows x1, y1, x2, y2, confidence, class: YOLOv5's results.xyxy.
pybind11::array_t<float> xyxy_array(const std::vector<Detection>& detections);

}  // namespace spdinfer::python
