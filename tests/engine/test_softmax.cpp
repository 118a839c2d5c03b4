// softmax: hand-computed values, rows summing to 1, large logits, -inf and
// NaN, fast vs reference sweeps over axes (last, inner, outer) and in place,
// and the errors.
//
// Tolerance: the reference sums exp in double, the fast form in float over up
// to 1000 terms: |fast - ref| <= 1e-6 + 1e-5 * |ref|.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "engine/error.h"
#include "engine/ops/softmax.h"
#include "test_util.h"

using namespace spdinfer;
using Catch::Matchers::Contains;
using spdinfer::testing::compare_tensors;
using spdinfer::testing::random_tensor;

namespace {

constexpr float kAtol = 1e-6f, kRtol = 1e-5f;

// softmax(row) by both forms, out of place.
std::pair<Tensor, Tensor> run_both(const Tensor& x, const SoftmaxParams& p, int threads) {
  Tensor ref = Tensor::filled(x.shape(), std::nanf("")), fast = Tensor::filled(x.shape(), std::nanf(""));
  softmax_reference(x, p, ref);
  softmax(x, p, fast, threads);
  return {std::move(ref), std::move(fast)};
}

Tensor row(std::initializer_list<float> values) {
  Tensor t(Shape{1, static_cast<int64_t>(values.size())});
  int64_t i = 0;
  for (float v : values) t[i++] = v;
  return t;
}

}  // namespace

TEST_CASE("softmax matches hand-computed values", "[softmax]") {
  const int threads = GENERATE(1, 2);
  CAPTURE(threads);
  const float inf = std::numeric_limits<float>::infinity();
  SECTION("[1, 2, 3]") {
    // e^k / (e + e^2 + e^3)
    auto [ref, fast] = run_both(row({1, 2, 3}), {}, threads);
    for (const Tensor* t : {&ref, &fast}) {
      CHECK((*t)[0] == Approx(0.09003057f).epsilon(1e-6));
      CHECK((*t)[1] == Approx(0.24472847f).epsilon(1e-6));
      CHECK((*t)[2] == Approx(0.66524096f).epsilon(1e-6));
    }
  }
  SECTION("large logits do not overflow") {
    auto [ref, fast] = run_both(row({1000, 1000, -1000}), {}, threads);
    for (const Tensor* t : {&ref, &fast}) {
      CHECK((*t)[0] == 0.5f);
      CHECK((*t)[1] == 0.5f);
      CHECK((*t)[2] == 0.0f);
    }
  }
  SECTION("-inf gets probability 0") {
    auto [ref, fast] = run_both(row({0, -inf, 0, 0}), {}, threads);
    for (const Tensor* t : {&ref, &fast}) {
      CHECK((*t)[1] == 0.0f);
      CHECK((*t)[0] == Approx(1.0f / 3));
    }
  }
  SECTION("a NaN makes its own slice NaN and leaves the others alone") {
    const int axis = GENERATE(-1, 0);  // inner == 1 and inner > 1 in the fast form
    CAPTURE(axis);
    Tensor x = random_tensor({3, 4}, 5);
    x[5] = std::nanf("");  // row 1, column 1
    auto [ref, fast] = run_both(x, {axis}, threads);
    for (const Tensor* t : {&ref, &fast})
      for (int64_t i = 0; i < 12; ++i) {
        const bool in_slice = axis == -1 ? i / 4 == 1 : i % 4 == 1;
        CAPTURE(i);
        CHECK(std::isnan((*t)[i]) == in_slice);
      }
  }
}

TEST_CASE("softmax fast matches reference and sums to 1", "[softmax]") {
  // (shape, axis): last axis (inner 1), a middle axis (inner 12, 17, 600 > one 256 column block),
  // the first axis, and single-element slices.
  const auto [shape, axis] = GENERATE(table<Shape, int>({{{1, 1}, -1},
                                                         {{3, 7}, -1},
                                                         {{3, 1000}, 1},
                                                         {{2, 5, 3, 4}, 1},
                                                         {{3, 300, 17}, 1},
                                                         {{1, 5, 600}, -2},
                                                         {{9, 13}, 0},
                                                         {{4, 1, 3}, 1}}));
  const int threads = GENERATE(1, 2);
  const bool in_place = GENERATE(false, true);
  CAPTURE(shape, axis, threads, in_place);

  const Tensor x = random_tensor(shape, 9, -10.0f, 10.0f);
  Tensor ref(shape);
  softmax_reference(x, {axis}, ref);
  Tensor fast = in_place ? x.clone() : Tensor::filled(shape, std::nanf(""));
  softmax(in_place ? fast : x, {axis}, fast, threads);
  REQUIRE(compare_tensors(fast, ref, kAtol, kRtol) == "");

  // Every slice along the axis sums to 1.
  const int rank = static_cast<int>(shape.size()), a = axis < 0 ? axis + rank : axis;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < a; ++d) outer *= shape[d];
  for (int d = a + 1; d < rank; ++d) inner *= shape[d];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double sum = 0;
      for (int64_t k = 0; k < shape[a]; ++k) sum += fast[(o * shape[a] + k) * inner + i];
      CAPTURE(o, i);
      REQUIRE(sum == Approx(1.0).epsilon(1e-5));
    }
}

TEST_CASE("softmax rejects bad axes", "[softmax]") {
  REQUIRE_THROWS_WITH(softmax_output_shape({2, 3}, {2}), Contains("axis 2 out of range for input (2, 3)"));
  REQUIRE_THROWS_WITH(softmax_output_shape({2, 3}, {-3}), Contains("axis -3 out of range"));
  REQUIRE_THROWS_WITH(softmax_output_shape({}, {}), Contains("input has no dimensions"));
  const Tensor x = random_tensor({2, 3}, 1);
  Tensor wrong(Shape{3, 2});
  REQUIRE_THROWS_WITH(softmax(x, {}, wrong, 1), Contains("output shape (3, 2), expected (2, 3)"));
  REQUIRE_THROWS_AS(softmax_reference(x, {}, wrong), Error);
}
