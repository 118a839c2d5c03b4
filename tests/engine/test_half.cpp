// Half to float (engine/half.h): the reference half_to_float on known bit patterns and against the
// IEEE definition for all 65,536 halves; the bulk halves_to_floats bit for bit against the
// reference, for every half, at every byte alignment and at lengths that leave a vector tail.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/half.h"

using namespace spdinfer;

namespace {

std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// The half's value by the IEEE 754 definition, computed in double (exact for every half).
double half_value(std::uint16_t h) {
  const int exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

// Every half, little-endian, after `offset` leading bytes (so the halves start at any alignment).
std::vector<std::uint8_t> all_halves_bytes(std::size_t offset) {
  std::vector<std::uint8_t> bytes(offset, 0xAB);
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    bytes.push_back(static_cast<std::uint8_t>(h & 0xFF));
    bytes.push_back(static_cast<std::uint8_t>(h >> 8));
  }
  return bytes;
}

}  // namespace

TEST_CASE("half_to_float widens known bit patterns exactly", "[half]") {
  CHECK(half_to_float(0x3C00) == 1.0f);
  CHECK(half_to_float(0xC000) == -2.0f);
  CHECK(half_to_float(0x3555) == 0.333251953125f);
  CHECK(half_to_float(0x7BFF) == 65504.0f);                  // largest finite
  CHECK(half_to_float(0x0400) == std::ldexp(1.0f, -14));     // smallest normal
  CHECK(half_to_float(0x0001) == std::ldexp(1.0f, -24));     // smallest subnormal
  CHECK(half_to_float(0x03FF) == std::ldexp(1023.0f, -24));  // largest subnormal
  CHECK(half_to_float(0x8001) == -std::ldexp(1.0f, -24));
  CHECK(float_bits(half_to_float(0x0000)) == 0x00000000u);  // +0
  CHECK(float_bits(half_to_float(0x8000)) == 0x80000000u);  // -0
  CHECK(float_bits(half_to_float(0x7C00)) == 0x7F800000u);  // +inf
  CHECK(float_bits(half_to_float(0xFC00)) == 0xFF800000u);  // -inf
  CHECK(float_bits(half_to_float(0x7E00)) == 0x7FC00000u);  // quiet NaN
  CHECK(float_bits(half_to_float(0xFD01)) == 0xFFA02000u);  // signalling NaN: sign and payload kept
}

TEST_CASE("half_to_float agrees with the IEEE definition for every half", "[half]") {
  int wrong = 0;
  for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
    const float f = half_to_float(static_cast<std::uint16_t>(h));
    const bool special = ((h >> 10) & 0x1F) == 0x1F;
    const bool ok =
        special
            ? (h & 0x3FF ? std::isnan(f) : std::isinf(f) && std::signbit(f) == bool(h & 0x8000))
            : double(f) == half_value(static_cast<std::uint16_t>(h)) && std::signbit(f) == bool(h & 0x8000);
    if (!ok && ++wrong <= 5) FAIL_CHECK("half 0x" << std::hex << h << " widened to " << f);
  }
  CHECK(wrong == 0);
}

TEST_CASE("halves_to_floats equals half_to_float bit for bit for every half", "[half]") {
  for (std::size_t offset : {0, 1, 2, 3}) {
    const std::vector<std::uint8_t> bytes = all_halves_bytes(offset);
    std::vector<float> out(0x10000);
    halves_to_floats(bytes.data() + offset, out.data(), static_cast<std::int64_t>(out.size()));
    int wrong = 0;
    for (std::uint32_t h = 0; h <= 0xFFFF; ++h) {
      const std::uint32_t expected = float_bits(half_to_float(static_cast<std::uint16_t>(h)));
      if (float_bits(out[h]) != expected && ++wrong <= 5)
        FAIL_CHECK("offset " << offset << ": half 0x" << std::hex << h << " gave bits 0x"
                             << float_bits(out[h]) << ", expected 0x" << expected);
    }
    CHECK(wrong == 0);
  }
}

TEST_CASE("halves_to_floats writes exactly n floats, for short and odd lengths", "[half]") {
  const std::vector<std::uint8_t> bytes = all_halves_bytes(0);
  // Start in the subnormals so the tail holds values of every kind the vector body handles.
  const std::int64_t first = 0x03F0;
  for (std::int64_t n : {0, 1, 7, 15, 16, 17, 33, 63, 65}) {
    std::vector<float> out(static_cast<std::size_t>(n) + 1, -7.0f);  // one sentinel past the end
    halves_to_floats(bytes.data() + 2 * first, out.data(), n);
    for (std::int64_t i = 0; i < n; ++i)
      CHECK(float_bits(out[i]) == float_bits(half_to_float(static_cast<std::uint16_t>(first + i))));
    CHECK(out[n] == -7.0f);
  }
}
