// Integer helpers the kernels share for tiling and padding arithmetic.
#pragma once

#include <cstdint>

namespace spdinfer {

// ceil(a / b) for a >= 0, b > 0.
constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace spdinfer
