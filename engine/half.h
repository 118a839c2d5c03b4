// IEEE binary16 ("half", safetensors F16, NumPy <f2) widened to float32.
#pragma once

#include <cstdint>

namespace spdinfer {

// The plain reference: one value, exact for every half including subnormals,
// Inf and NaN (sign and payload kept, a signalling NaN stays signalling).
float half_to_float(std::uint16_t h);

// n little-endian halves at src (any alignment) into out, bit for bit what
// half_to_float gives. Branch-free, so the compiler vectorises it: model
// loading widens millions of fp16 weights through here.
void halves_to_floats(const std::uint8_t* src, float* out, std::int64_t n);

}  // namespace spdinfer
