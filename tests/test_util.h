// Helpers shared by the C++ tests: seeded random tensors and tolerant
// comparison that says where and by how much two tensors differ.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>

#include "engine/tensor.h"

namespace spdinfer::testing {

// Uniform values in [lo, hi), reproducible from the seed.
inline Tensor random_tensor(const Shape& shape, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = dist(rng);
  return t;
}

// Empty string when every element satisfies |a - b| <= atol + rtol * |b|
// (b is the reference); otherwise a description of the worst element.
inline std::string compare_tensors(const Tensor& a, const Tensor& b, float atol, float rtol) {
  if (a.shape() != b.shape())
    return "shape " + shape_to_string(a.shape()) + " vs reference " + shape_to_string(b.shape());
  int64_t worst = -1;
  double worst_excess = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double diff = std::fabs(double(a[i]) - double(b[i]));
    const double allowed = atol + rtol * std::fabs(double(b[i]));
    if (!(diff <= allowed) && (worst < 0 || diff - allowed > worst_excess)) {
      worst = i;
      worst_excess = diff - allowed;
    }
  }
  if (worst < 0) return "";
  std::ostringstream s;
  s << "element " << worst << ": " << a[worst] << " vs reference " << b[worst] << " (atol " << atol << ", rtol "
    << rtol << ")";
  return s.str();
}

}  // namespace spdinfer::testing
