// Half to float conversion: a readable reference and a bulk loop built on
// integer arithmetic, tested against each other over all 65,536 halves.
#include "engine/half.h"

#include <cstring>

#include "engine/kernels/vector_clones.h"

namespace spdinfer {
namespace {

float from_bits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

std::uint32_t to_bits(float f) {
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

}  // namespace

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000) << 16;
  std::uint32_t exponent = (h >> 10) & 0x1F;
  std::uint32_t mantissa = h & 0x3FF;
  std::uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);  // Inf or NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal half: normalise it into a float.
    exponent = 113;
    while (!(mantissa & 0x400)) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3FF) << 13);
  }
  return from_bits(bits);
}

SPDINFER_VECTOR_CLONES
void halves_to_floats(const std::uint8_t* src, float* out, std::int64_t n) {
  constexpr std::uint32_t kHalfExponent = 0x1Fu << 23;  // the half's exponent field, moved to float position
  constexpr std::uint32_t kRebias = (127 - 15) << 23;
  // 2^-14, the smallest normal half. A subnormal half m * 2^-24 is built as
  // the float 2^-14 * (1 + m / 1024) and this subtracted: exact, and no loop.
  const float kSmallestNormal = from_bits(113u << 23);
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint16_t stored;  // the files are little-endian, as is every host the engine builds for
    std::memcpy(&stored, src + 2 * i, sizeof stored);
    const std::uint32_t h = stored;
    const std::uint32_t magnitude = (h & 0x7FFFu) << 13;  // exponent and mantissa, in place
    const std::uint32_t exponent = magnitude & kHalfExponent;
    const std::uint32_t normal = magnitude + kRebias;
    // Inf and NaN take the float's all-ones exponent and keep the payload bits
    // untouched: no float arithmetic ever sees them.
    const std::uint32_t special = magnitude | 0x7F800000u;
    const std::uint32_t subnormal = to_bits(from_bits(normal + (1u << 23)) - kSmallestNormal);
    // Selected with masks rather than branches, which keeps the loop vectorisable.
    const std::uint32_t is_special = 0u - static_cast<std::uint32_t>(exponent == kHalfExponent);
    const std::uint32_t is_subnormal = 0u - static_cast<std::uint32_t>(exponent == 0);
    const std::uint32_t bits =
        (special & is_special) | (subnormal & is_subnormal) | (normal & ~(is_special | is_subnormal));
    out[i] = from_bits(bits | (h & 0x8000u) << 16);
  }
}

}  // namespace spdinfer
