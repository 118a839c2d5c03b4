// space_to_depth: the SPD-Conv channel order on hand-built tensors, fast vs reference sweeps
// (with the fused affine and activation), BN-after-SPD fusion, and the validation errors.
//
// Tolerance: |fast - ref| <= 1e-5 * max(1, |ref|) (the fast path may fuse x * s + t into one
// rounding; the pure gather is compared exactly).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "engine/error.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/space_to_depth.h"

using namespace spdinfer;
using Catch::Matchers::Contains;

namespace {

std::vector<float> values(const Tensor& t) { return std::vector<float>(t.data(), t.data() + t.numel()); }

// Runs both the reference and the fast path; returns {reference, fast}.
std::pair<Tensor, Tensor> run_both(const Tensor& in, const SpaceToDepthParams& p, int threads) {
  const Shape shape = space_to_depth_output_shape(in.shape(), p);
  Tensor ref = Tensor::filled(shape, std::nanf("")), fast = Tensor::filled(shape, std::nanf(""));
  space_to_depth_reference(in, p, ref);
  space_to_depth(in, p, fast, threads);
  return {std::move(ref), std::move(fast)};
}

void require_within(const Tensor& got, const Tensor& want, float rel) {
  REQUIRE(got.shape() == want.shape());
  int64_t bad = 0;
  for (int64_t i = 0; i < want.numel(); ++i)
    bad += !(std::fabs(got[i] - want[i]) <= rel * std::max(1.0f, std::fabs(want[i])));
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("space_to_depth uses the SPD-Conv torch.cat channel order", "[space_to_depth]") {
  const int threads = GENERATE(1, 2);
  CAPTURE(threads);
  SECTION("1x1x2x2") {
    // x = [[1, 2], [3, 4]]: x[::2, ::2] = 1, x[1::2, ::2] = 3, x[::2, 1::2] = 2, x[1::2, 1::2] = 4.
    Tensor in(Shape{1, 1, 2, 2});
    for (int i = 0; i < 4; ++i) in[i] = static_cast<float>(i + 1);
    const auto [ref, fast] = run_both(in, {}, threads);
    REQUIRE(ref.shape() == Shape{1, 4, 1, 1});
    CHECK(values(ref) == std::vector<float>{1, 3, 2, 4});
    CHECK(values(fast) == values(ref));
  }
  SECTION("1x2x4x4") {
    // x[0, c, y, x] = 16c + 4y + x. Output channel slot * C + c, written out from
    // torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], dim=1).
    Tensor in(Shape{1, 2, 4, 4});
    for (int i = 0; i < 32; ++i) in[i] = static_cast<float>(i);
    const std::vector<float> expected = {
        0,  2,  8,  10,  // slot 0 (rows 0,2 cols 0,2), c 0
        16, 18, 24, 26,  // slot 0, c 1
        4,  6,  12, 14,  // slot 1 (rows 1,3 cols 0,2), c 0
        20, 22, 28, 30,  // slot 1, c 1
        1,  3,  9,  11,  // slot 2 (rows 0,2 cols 1,3), c 0
        17, 19, 25, 27,  // slot 2, c 1
        5,  7,  13, 15,  // slot 3 (rows 1,3 cols 1,3), c 0
        21, 23, 29, 31,  // slot 3, c 1
    };
    const auto [ref, fast] = run_both(in, {}, threads);
    REQUIRE(ref.shape() == Shape{1, 8, 2, 2});
    CHECK(values(ref) == expected);
    CHECK(values(fast) == expected);
  }
}

TEST_CASE("space_to_depth fast matches reference", "[space_to_depth]") {
  const int64_t N = GENERATE(1, 3);
  const int64_t C = GENERATE(1, 3, 13);
  const auto [H, W] = GENERATE(table<int64_t, int64_t>({{2, 2}, {6, 10}, {14, 8}, {32, 34}}));
  // bit 0: scale, bit 1: shift
  const int affine = GENERATE(0, 1, 2, 3);
  const Activation act = GENERATE(Activation::None, Activation::ReLU, Activation::SiLU, Activation::Sigmoid);
  const int threads = GENERATE(1, 2);
  CAPTURE(N, C, H, W, affine, activation_name(act), threads);

  std::mt19937 rng(static_cast<uint32_t>(N * 7919 + C * 131 + H * 17 + W));
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  Tensor in(Shape{N, C, H, W});
  for (int64_t i = 0; i < in.numel(); ++i) in[i] = dist(rng);
  std::vector<float> scale(4 * C), shift(4 * C);
  for (auto& v : scale) v = dist(rng);
  for (auto& v : shift) v = dist(rng);
  SpaceToDepthParams p;
  p.scale = affine & 1 ? scale.data() : nullptr;
  p.shift = affine & 2 ? shift.data() : nullptr;
  p.activation = act;

  const auto [ref, fast] = run_both(in, p, threads);
  REQUIRE(ref.shape() == Shape{N, 4 * C, H / 2, W / 2});
  if (affine == 0 && act == Activation::None)
    CHECK(values(fast) == values(ref));
  else
    require_within(fast, ref, 1e-5f);
}

TEST_CASE("space_to_depth fused affine equals space_to_depth then batch_norm", "[space_to_depth]") {
  const Activation act = GENERATE(Activation::None, Activation::SiLU);
  CAPTURE(activation_name(act));
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f), positive(0.1f, 3.0f);
  const int64_t C = 5;
  Tensor in(Shape{2, C, 6, 8}), gamma(Shape{4 * C}), beta(Shape{4 * C}), mean(Shape{4 * C}),
      var(Shape{4 * C});
  for (int64_t i = 0; i < in.numel(); ++i) in[i] = dist(rng);
  for (int64_t c = 0; c < 4 * C; ++c)
    gamma[c] = dist(rng), beta[c] = dist(rng), mean[c] = dist(rng), var[c] = positive(rng);
  Tensor scale, shift;
  batch_norm_to_affine(gamma, beta, mean, var, 1e-5f, scale, shift);

  SpaceToDepthParams plain, fused;
  fused.scale = scale.data(), fused.shift = shift.data(), fused.activation = act;
  const Shape shape = space_to_depth_output_shape(in.shape(), plain);
  Tensor spd(shape), want(shape), got(shape);
  space_to_depth_reference(in, plain, spd);
  BatchNormParams bn;
  bn.activation = act;
  batch_norm_reference(spd, gamma, beta, mean, var, bn, want);
  space_to_depth(in, fused, got, 2);
  require_within(got, want, 1e-5f);
}

TEST_CASE("space_to_depth validation errors", "[space_to_depth]") {
  SpaceToDepthParams p;
  CHECK_THROWS_AS(space_to_depth_output_shape({1, 3, 5, 4}, p), Error);
  CHECK_THROWS_WITH(space_to_depth_output_shape({1, 3, 5, 4}, p),
                    Contains("requires even height and width") && Contains("(1, 3, 5, 4)"));
  CHECK_THROWS_WITH(space_to_depth_output_shape({2, 3, 4, 7}, p),
                    Contains("requires even height and width") && Contains("(2, 3, 4, 7)"));
  CHECK_THROWS_WITH(space_to_depth_output_shape({3, 4, 4}, p), Contains("rank 4"));
  p.block = 3;
  CHECK_THROWS_WITH(space_to_depth_output_shape({1, 3, 6, 6}, p), Contains("only block 2"));
  Tensor in = Tensor::zeros({1, 3, 4, 4}), bad_out(Shape{1, 3, 2, 2});
  CHECK_THROWS_WITH(space_to_depth(in, {}, bad_out, 1), Contains("must have shape (1, 12, 2, 2)"));
}
