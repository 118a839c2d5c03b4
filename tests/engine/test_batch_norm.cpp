// batch_norm: fast vs reference sweeps (rank 4 and rank 2, in place, every activation),
// batch_norm_to_affine, folding BN into a conv (conv + BN == folded conv), and the errors.
//
// Tolerances: batch_norm fast vs reference |a - b| <= 1e-5 * max(1, |ref|);
// folded conv vs conv + BN |a - b| <= 1e-4 * max(1, |ref|).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "engine/error.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/conv2d.h"

using namespace spdinfer;
using Catch::Matchers::Contains;

namespace {

struct BnTensors {
  Tensor gamma, beta, mean, var;
};

// Statistics of a plausible trained BN: mean and gamma of either sign, var well away from 0.
BnTensors random_bn(int64_t C, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f), positive(0.1f, 3.0f);
  BnTensors bn{Tensor(Shape{C}), Tensor(Shape{C}), Tensor(Shape{C}), Tensor(Shape{C})};
  for (int64_t c = 0; c < C; ++c)
    bn.gamma[c] = dist(rng), bn.beta[c] = dist(rng), bn.mean[c] = dist(rng), bn.var[c] = positive(rng);
  return bn;
}

Tensor random_input(Shape shape, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  Tensor t(std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = dist(rng);
  return t;
}

int64_t count_far(const Tensor& got, const Tensor& want, float rel) {
  int64_t bad = 0;
  for (int64_t i = 0; i < want.numel(); ++i)
    bad += !(std::fabs(got[i] - want[i]) <= rel * std::max(1.0f, std::fabs(want[i])));
  return bad;
}

}  // namespace

TEST_CASE("batch_norm fast matches reference", "[batch_norm]") {
  const int64_t N = GENERATE(1, 3);
  const int64_t C = GENERATE(1, 5, 13);
  // H = 0 marks the rank-2 (N, C) form.
  const auto [H, W] = GENERATE(table<int64_t, int64_t>({{0, 0}, {1, 1}, {7, 3}, {16, 17}}));
  const float eps = GENERATE(1e-5f, 1e-3f);
  const Activation act = GENERATE(Activation::None, Activation::ReLU, Activation::SiLU, Activation::Sigmoid);
  const int threads = GENERATE(1, 2);
  const bool in_place = GENERATE(false, true);
  CAPTURE(N, C, H, W, eps, activation_name(act), threads, in_place);

  std::mt19937 rng(static_cast<uint32_t>(N * 31 + C * 7 + H));
  const BnTensors bn = random_bn(C, rng);
  const Shape shape = H == 0 ? Shape{N, C} : Shape{N, C, H, W};
  Tensor in = random_input(shape, rng);
  BatchNormParams p;
  p.eps = eps;
  p.activation = act;
  REQUIRE(batch_norm_output_shape(shape, p) == shape);

  Tensor ref = Tensor::filled(shape, std::nanf(""));
  batch_norm_reference(in, bn.gamma, bn.beta, bn.mean, bn.var, p, ref);
  Tensor separate = Tensor::filled(shape, std::nanf(""));
  Tensor& out = in_place ? in : separate;
  batch_norm(in, bn.gamma, bn.beta, bn.mean, bn.var, p, out, threads);
  CHECK(count_far(out, ref, 1e-5f) == 0);
}

TEST_CASE("batch_norm_to_affine gives x * scale + shift == BN(x)", "[batch_norm]") {
  std::mt19937 rng(11);
  const int64_t C = 7;
  const BnTensors bn = random_bn(C, rng);
  const Tensor in = random_input({2, C, 3, 4}, rng);
  Tensor scale, shift;  // empty: allocated as (C)
  batch_norm_to_affine(bn.gamma, bn.beta, bn.mean, bn.var, 1e-3f, scale, shift);
  REQUIRE(scale.shape() == Shape{C});
  REQUIRE(shift.shape() == Shape{C});
  BatchNormParams p;
  p.eps = 1e-3f;
  Tensor ref(in.shape()), affine(in.shape());
  batch_norm_reference(in, bn.gamma, bn.beta, bn.mean, bn.var, p, ref);
  for (int64_t i = 0; i < in.numel(); ++i) affine[i] = in[i] * scale[(i / 12) % C] + shift[(i / 12) % C];
  CHECK(count_far(affine, ref, 1e-5f) == 0);
}

TEST_CASE("fold_batch_norm_into_conv: folded conv equals conv then BN", "[batch_norm]") {
  const int k = GENERATE(1, 3);
  const int groups = GENERATE(1, 2);
  const bool with_bias = GENERATE(false, true);
  const Activation act = GENERATE(Activation::None, Activation::ReLU);
  CAPTURE(k, groups, with_bias, activation_name(act));
  std::mt19937 rng(static_cast<uint32_t>(k * 4 + groups * 2 + with_bias));
  const int64_t C = 6, O = 10;
  const Tensor in = random_input({2, C, 9, 8}, rng);
  Tensor weight = random_input({O, C / groups, k, k}, rng);
  Tensor bias = with_bias ? random_input({O}, rng) : Tensor::zeros({O});
  const BnTensors bn = random_bn(O, rng);
  Conv2dParams cp;
  cp.groups = groups;
  cp.pad_top = cp.pad_left = cp.pad_bottom = cp.pad_right = k / 2;
  BatchNormParams bp;
  bp.activation = act;

  // Unfused: conv (no activation) then BN with the activation.
  const Shape shape = conv2d_output_shape(in.shape(), weight.shape(), cp);
  Tensor conv_out(shape), want(shape);
  conv2d_reference(in, weight, with_bias ? &bias : nullptr, cp, conv_out);
  batch_norm_reference(conv_out, bn.gamma, bn.beta, bn.mean, bn.var, bp, want);

  fold_batch_norm_into_conv(weight, bias, bn.gamma, bn.beta, bn.mean, bn.var, bp.eps);
  cp.activation = act;
  Tensor folded_ref(shape), folded_fast(shape);
  conv2d_reference(in, weight, &bias, cp, folded_ref);
  std::vector<float> workspace(conv2d_workspace_floats(in.shape(), weight.shape(), cp, 2));
  conv2d(in, weight, &bias, cp, folded_fast, workspace.data(), 2);
  CHECK(count_far(folded_ref, want, 1e-4f) == 0);
  CHECK(count_far(folded_fast, want, 1e-4f) == 0);
}

TEST_CASE("batch_norm validation errors", "[batch_norm]") {
  std::mt19937 rng(5);
  const BnTensors bn = random_bn(4, rng);
  BatchNormParams p;
  SECTION("input rank and eps") {
    CHECK_THROWS_AS(batch_norm_output_shape({4, 4, 4}, p), Error);
    CHECK_THROWS_WITH(batch_norm_output_shape({4, 4, 4}, p),
                      Contains("rank 4 (N, C, H, W) or rank 2 (N, C)"));
    p.eps = -1.0f;
    CHECK_THROWS_WITH(batch_norm_output_shape({1, 4}, p), Contains("eps must be finite and >= 0"));
  }
  SECTION("per-channel tensors must match the input channels") {
    const Tensor in = Tensor::zeros({1, 5, 2, 2});
    Tensor out(in.shape());
    CHECK_THROWS_WITH(batch_norm(in, bn.gamma, bn.beta, bn.mean, bn.var, p, out, 1),
                      Contains("gamma must have shape (5)") && Contains("found (4)"));
  }
  SECTION("output shape") {
    const Tensor in = Tensor::zeros({1, 4, 2, 2});
    Tensor out(Shape{1, 4, 2, 3});
    CHECK_THROWS_WITH(batch_norm_reference(in, bn.gamma, bn.beta, bn.mean, bn.var, p, out),
                      Contains("output tensor must have the input's shape (1, 4, 2, 2)"));
  }
  SECTION("negative variance") {
    Tensor var = bn.var.clone();
    var[2] = -1.0f;
    Tensor scale, shift;
    CHECK_THROWS_WITH(batch_norm_to_affine(bn.gamma, bn.beta, bn.mean, var, 1e-5f, scale, shift),
                      Contains("var + eps must be positive") && Contains("var[2]"));
  }
  SECTION("folding: BN length and bias shape must match the conv's output channels") {
    Tensor weight = Tensor::zeros({6, 3, 3, 3}), bias = Tensor::zeros({6});
    CHECK_THROWS_WITH(fold_batch_norm_into_conv(weight, bias, bn.gamma, bn.beta, bn.mean, bn.var, 1e-5f),
                      Contains("gamma must have shape (6)"));
    const BnTensors bn6 = random_bn(6, rng);
    Tensor short_bias = Tensor::zeros({4});
    CHECK_THROWS_WITH(
        fold_batch_norm_into_conv(weight, short_bias, bn6.gamma, bn6.beta, bn6.mean, bn6.var, 1e-5f),
        Contains("bias must have shape (6)"));
  }
}
