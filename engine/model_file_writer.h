// Writer of safetensors files as engine/model_file.h reads them: string
// metadata, then F32, F16 or I8 tensors packed back to back in the given
// order. The file is written beside its destination under a temporary name
// and renamed over it when complete, so a failed write never leaves half a
// model behind; errors name the file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace spdinfer {

struct TensorToWrite {
  std::string name;
  std::string dtype;  // "F32", "F16" or "I8"
  Shape shape;
  std::vector<std::uint8_t> bytes;  // little-endian, numel * the dtype's size
};

// A float tensor stored as F32, or as F16 (rounded to nearest even; values beyond the half
// range become infinities).
TensorToWrite f32_tensor(const std::string& name, const Tensor& t);
TensorToWrite f16_tensor(const std::string& name, const Tensor& t);
// Signed bytes of `shape`; throws when the count does not match.
TensorToWrite i8_tensor(const std::string& name, const Shape& shape, const std::vector<std::int8_t>& values);

// Writes `path`; throws spdinfer::Error("PATH: ...") for a duplicate or malformed tensor or
// a failing write.
void write_safetensors(const std::string& path, const std::map<std::string, std::string>& metadata,
                       const std::vector<TensorToWrite>& tensors);

}  // namespace spdinfer
