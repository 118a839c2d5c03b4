// Eight floats as one value: an AVX register, or two SSE ones (a GCC and Clang vector
// extension), with unaligned loads and stores. For kernels whose inner loops the compiler
// would not vectorise on its own (register-blocked products).
#pragma once

#include <cstring>

namespace spdinfer {

typedef float Vec8 __attribute__((vector_size(32)));

inline Vec8 load8(const float* p) {
  Vec8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store8(float* p, Vec8 v) { std::memcpy(p, &v, sizeof v); }

}  // namespace spdinfer
