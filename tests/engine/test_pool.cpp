// max_pool2d, avg_pool2d, adaptive_avg_pool2d: hand-computed windows (padding
// as -inf for max, count_include_pad for avg), NaN propagation, fast vs
// reference sweeps over the kernels ResNet and YOLOv5 use and some odd ones,
// and the validation errors.
//
// Tolerance: max pooling picks one of its inputs, so it is compared exactly.
// Averages sum in another order in the fast form (rows first), and the
// reference global average sums in double: |fast - ref| <= 1e-5 + 1e-5 * |ref|.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "engine/error.h"
#include "engine/ops/pool.h"
#include "test_util.h"

using namespace spdinfer;
using Catch::Matchers::Contains;
using spdinfer::testing::compare_tensors;
using spdinfer::testing::random_tensor;

namespace {

constexpr float kAvgAtol = 1e-5f, kAvgRtol = 1e-5f;

// A (1, 1, h, w) tensor holding 1, 2, 3, ... in row-major order.
Tensor iota_image(int64_t h, int64_t w) {
  Tensor t(Shape{1, 1, h, w});
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(i + 1);
  return t;
}

enum class Kind { Max, Avg };

Shape output_shape(Kind kind, const Shape& in, const Pool2dParams& p) {
  return kind == Kind::Max ? max_pool2d_output_shape(in, p) : avg_pool2d_output_shape(in, p);
}

// Runs both forms into NaN-filled outputs; returns {reference, fast}.
std::pair<Tensor, Tensor> run_both(Kind kind, const Tensor& in, const Pool2dParams& p, int threads) {
  const Shape shape = output_shape(kind, in.shape(), p);
  Tensor ref = Tensor::filled(shape, std::nanf("")), fast = Tensor::filled(shape, std::nanf(""));
  if (kind == Kind::Max) {
    max_pool2d_reference(in, p, ref);
    max_pool2d(in, p, fast, threads);
  } else {
    avg_pool2d_reference(in, p, ref);
    avg_pool2d(in, p, fast, threads);
  }
  return {std::move(ref), std::move(fast)};
}

// Runs both forms and requires each to produce `want` (to float rounding).
void require_both(Kind kind, const Tensor& in, const Pool2dParams& p, int threads,
                  const std::vector<float>& want) {
  const auto [ref, fast] = run_both(kind, in, p, threads);
  REQUIRE(fast.numel() == static_cast<int64_t>(want.size()));
  for (std::size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    REQUIRE(ref[static_cast<int64_t>(i)] == Approx(want[i]).epsilon(1e-6));
    REQUIRE(fast[static_cast<int64_t>(i)] == Approx(want[i]).epsilon(1e-6));
  }
}

}  // namespace

TEST_CASE("max_pool2d matches hand-computed windows", "[pool]") {
  const int threads = GENERATE(1, 2);
  CAPTURE(threads);
  const Tensor x = iota_image(4, 4);  // [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]
  SECTION("k2 s2") {
    REQUIRE(max_pool2d_output_shape(x.shape(), {2, 2, 0}) == Shape{1, 1, 2, 2});
    require_both(Kind::Max, x, {2, 2, 0}, threads, {6, 8, 14, 16});
  }
  SECTION("k3 s2 p1, ResNet's stem") {
    // Windows rows/cols {-1..1} and {1..3} of -x; the padding is -inf, so it never wins even over
    // negatives: each output is minus the smallest value of its window.
    Tensor neg = x.clone();
    for (int64_t i = 0; i < neg.numel(); ++i) neg[i] = -neg[i];
    require_both(Kind::Max, neg, {3, 2, 1}, threads, {-1, -2, -5, -6});
  }
  SECTION("k5 s1 p2, SPPF, keeps the size") {
    REQUIRE(max_pool2d_output_shape(x.shape(), {5, 1, 2}) == x.shape());
    require_both(Kind::Max, x, {5, 1, 2}, threads,
                 {11, 12, 12, 12, 15, 16, 16, 16, 15, 16, 16, 16, 15, 16, 16, 16});
  }
}

TEST_CASE("max_pool2d propagates NaN", "[pool]") {
  const int threads = GENERATE(1, 2);
  CAPTURE(threads);
  Tensor x = iota_image(4, 4);
  x[5] = std::nanf("");  // row 1, col 1
  auto [ref, fast] = run_both(Kind::Max, x, {2, 2, 0}, threads);
  for (const Tensor* t : {&ref, &fast}) {
    CHECK(std::isnan((*t)[0]));  // the window holding the NaN
    CHECK((*t)[1] == 8.0f);
    CHECK((*t)[2] == 14.0f);
    CHECK((*t)[3] == 16.0f);
  }
}

TEST_CASE("avg_pool2d matches hand-computed windows", "[pool]") {
  const int threads = GENERATE(1, 2);
  CAPTURE(threads);
  const Tensor x = iota_image(3, 3);  // [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
  SECTION("k3 s1 p1, padded zeros counted") {
    // Corner (0, 0): (1 + 2 + 4 + 5) / 9; centre: 45 / 9.
    require_both(Kind::Avg, x, {3, 1, 1, true}, threads,
                 {12.f / 9, 21.f / 9, 16.f / 9, 27.f / 9, 45.f / 9, 33.f / 9, 24.f / 9, 39.f / 9, 28.f / 9});
  }
  SECTION("k3 s1 p1, padded zeros not counted") {
    // Corner (0, 0): (1 + 2 + 4 + 5) / 4; edge (0, 1): 21 / 6.
    require_both(Kind::Avg, x, {3, 1, 1, false}, threads,
                 {12.f / 4, 21.f / 6, 16.f / 4, 27.f / 6, 45.f / 9, 33.f / 6, 24.f / 4, 39.f / 6, 28.f / 4});
  }
  SECTION("k2 s2 drops the last row and column (floor mode)") {
    REQUIRE(avg_pool2d_output_shape(x.shape(), {2, 2, 0}) == Shape{1, 1, 1, 1});
    require_both(Kind::Avg, x, {2, 2, 0}, threads, {3.0f});  // (1 + 2 + 4 + 5) / 4
  }
}

TEST_CASE("pool2d fast matches reference", "[pool]") {
  const Kind kind = GENERATE(Kind::Max, Kind::Avg);
  // (kernel, stride, padding): identity, ResNet's stem, SPPF/SPP's, and odd combinations.
  const auto [k, s, p] = GENERATE(table<int, int, int>({{1, 1, 0},
                                                        {2, 2, 0},
                                                        {3, 2, 1},
                                                        {3, 1, 1},
                                                        {5, 1, 2},
                                                        {9, 1, 4},
                                                        {13, 1, 6},
                                                        {2, 1, 1},
                                                        {3, 3, 0},
                                                        {4, 3, 2}}));
  const auto [N, C] = GENERATE(table<int64_t, int64_t>({{1, 1}, {3, 5}}));
  const auto [H, W] = GENERATE(table<int64_t, int64_t>({{1, 1}, {7, 9}, {16, 13}, {20, 20}}));
  const bool include_pad = GENERATE(true, false);
  const int threads = GENERATE(1, 2);
  if (kind == Kind::Max && !include_pad) return;  // the flag is avg_pool2d's only
  CAPTURE(kind == Kind::Max ? "max" : "avg", k, s, p, N, C, H, W, include_pad, threads);

  const Pool2dParams params{k, s, p, include_pad};
  const Shape in_shape = {N, C, H, W};
  if (H + 2 * p < k || W + 2 * p < k) {  // the window does not fit even once
    REQUIRE_THROWS_WITH(output_shape(kind, in_shape, params), Contains("is too small for kernel"));
    return;
  }
  const Tensor x = random_tensor(in_shape, 7, -3.0f, 3.0f);
  auto [ref, fast] = run_both(kind, x, params, threads);
  REQUIRE(ref.shape() == Shape{N, C, (H + 2 * p - k) / s + 1, (W + 2 * p - k) / s + 1});
  if (kind == Kind::Max) {
    REQUIRE(compare_tensors(fast, ref, 0.0f, 0.0f) == "");
  } else {
    REQUIRE(compare_tensors(fast, ref, kAvgAtol, kAvgRtol) == "");
  }
}

TEST_CASE("adaptive_avg_pool2d averages each plane", "[pool]") {
  const Shape shape =
      GENERATE(Shape{1, 1, 1, 1}, Shape{3, 5, 7, 7}, Shape{2, 9, 13, 11}, Shape{1, 3, 64, 64});
  const int threads = GENERATE(1, 2);
  CAPTURE(shape, threads);
  const Tensor x = random_tensor(shape, 11, -3.0f, 3.0f);
  const Shape out_shape = adaptive_avg_pool2d_output_shape(shape);
  REQUIRE(out_shape == Shape{shape[0], shape[1], 1, 1});
  Tensor ref = Tensor::filled(out_shape, std::nanf("")), fast = Tensor::filled(out_shape, std::nanf(""));
  adaptive_avg_pool2d_reference(x, ref);
  adaptive_avg_pool2d(x, fast, threads);
  REQUIRE(compare_tensors(fast, ref, kAvgAtol, kAvgRtol) == "");

  SECTION("hand-computed") {
    const Tensor img = iota_image(3, 5);  // 1..15, mean 8
    Tensor out(Shape{1, 1, 1, 1});
    adaptive_avg_pool2d(img, out, threads);
    REQUIRE(out[0] == 8.0f);
  }
}

TEST_CASE("pool2d rejects bad parameters and shapes", "[pool]") {
  const Shape img = {1, 3, 8, 8};
  REQUIRE_THROWS_WITH(max_pool2d_output_shape(img, {0, 1, 0}),
                      Contains("max_pool2d: kernel and stride must be at least 1, got kernel 0"));
  REQUIRE_THROWS_WITH(avg_pool2d_output_shape(img, {2, 0, 0}), Contains("avg_pool2d: kernel and stride"));
  REQUIRE_THROWS_WITH(max_pool2d_output_shape(img, {3, 1, 2}),
                      Contains("padding must be between 0 and kernel / 2 = 1, got 2"));
  REQUIRE_THROWS_WITH(max_pool2d_output_shape(img, {3, 1, -1}), Contains("got -1"));
  REQUIRE_THROWS_WITH(max_pool2d_output_shape({1, 3, 8}, {2, 2, 0}),
                      Contains("expected an (N, C, H, W) input, got (1, 3, 8)"));
  REQUIRE_THROWS_WITH(
      max_pool2d_output_shape({1, 3, 2, 8}, {5, 1, 1}),
      Contains("input (1, 3, 2, 8) is too small for kernel 5 with padding 1") && Contains("at least 3"));
  REQUIRE_THROWS_WITH(max_pool2d_output_shape({1, 3, 0, 8}, {1, 1, 0}), Contains("is too small"));
  REQUIRE_THROWS_WITH(adaptive_avg_pool2d_output_shape({2, 8}), Contains("expected an (N, C, H, W) input"));

  const Tensor x = random_tensor(img, 1);
  Tensor wrong(Shape{1, 3, 8, 8});
  REQUIRE_THROWS_WITH(max_pool2d(x, {2, 2, 0}, wrong, 1),
                      Contains("output shape (1, 3, 8, 8), expected (1, 3, 4, 4)"));
  REQUIRE_THROWS_AS(avg_pool2d_reference(x, {2, 2, 0}, wrong), Error);
  REQUIRE_THROWS_WITH(adaptive_avg_pool2d(x, wrong, 1), Contains("expected (1, 3, 1, 1)"));
}
