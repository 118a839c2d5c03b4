// NumPy .npy files (format 1.0/2.0/3.0), float32 little-endian, C order: the
// raw-tensor interchange of `spdinfer run`, so anyone can feed the engine what
// they fed PyTorch. float64 and float16 inputs are converted on reading.
#pragma once

#include <string>

#include "engine/tensor.h"

namespace spdinfer {

// Throws spdinfer::Error("PATH: what is wrong").
Tensor read_npy(const std::string& path);
void write_npy(const std::string& path, const Tensor& tensor);

}  // namespace spdinfer
