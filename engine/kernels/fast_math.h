// exp for the activations: a Cephes-style polynomial written so the compiler
// vectorises it (glibc's expf is a scalar call: on SPD-YOLOv5n, SiLU's ~15 M
// exps per image cost more than the largest convolution). Accurate to ~2 ulp
// over [-87, 88]; saturates below (to ~1e-38, not 0) and, up to ln(FLT_MAX),
// above; past ln(FLT_MAX) it is +inf as std::exp is, so SiLU(-inf) is NaN and
// sigmoid(-inf) is 0 as in PyTorch. NaN in gives NaN out, with no undefined
// behaviour on the way (no float-to-int conversion of a NaN).
#pragma once

#include <cstdint>
#include <cstring>

namespace spdinfer {

inline float exp_approx(float in) {
  float x = in < -87.3365f ? -87.3365f : in;  // NaN compares false and passes through both
  x = x > 88.3762f ? 88.3762f : x;
  // exp(x) = 2^n * exp(r), n = round(x / ln 2), |r| <= ln 2 / 2; ln 2 split in two for exactness.
  const float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n from the bits: adding 1.5 * 2^23 leaves n in the low mantissa bits.
  const float shifted = n + 12582912.0f;
  std::uint32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  bits = (bits - 0x4B400000u + 127u) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return in > 88.7228394f ? __builtin_inff() : p * scale;  // 88.72284 = ln(FLT_MAX)
}

inline float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }
inline float silu_approx(float x) { return x / (1.0f + exp_approx(-x)); }

}  // namespace spdinfer
