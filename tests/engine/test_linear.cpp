// linear: a hand-computed product, fast (dot products for batches of up to kNarrowGemmColumns,
// sgemm_bt beyond; column blocks over threads) vs reference sweeps, the (N, in, 1, 1) input form,
// and the errors.
//
// Tolerance: the reference accumulates in double, the BLAS in float over up
// to 300 products of values in [-1, 1]: |fast - ref| <= 1e-4 + 1e-4 * |ref|.
#include <catch2/catch.hpp>
#include <cmath>

#include "engine/error.h"
#include "engine/ops/linear.h"
#include "test_util.h"

using namespace spdinfer;
using Catch::Matchers::Contains;
using spdinfer::testing::compare_tensors;
using spdinfer::testing::random_tensor;

TEST_CASE("linear matches a hand-computed product", "[linear]") {
  const int threads = GENERATE(1, 2);
  CAPTURE(threads);
  // x = [1, 2]; W = [[1, 0], [0, 1], [1, 1]]; b = [0.5, 0, -1] -> [1.5, 2, 2].
  Tensor x(Shape{1, 2}), w(Shape{3, 2}), b(Shape{3});
  x[0] = 1, x[1] = 2;
  const float wv[] = {1, 0, 0, 1, 1, 1};
  for (int i = 0; i < 6; ++i) w[i] = wv[i];
  b[0] = 0.5f, b[1] = 0.0f, b[2] = -1.0f;
  Tensor y(linear_output_shape(x.shape(), w.shape(), &b.shape()));
  REQUIRE(y.shape() == Shape{1, 3});
  linear(x, w, &b, y, threads);
  CHECK(y[0] == 1.5f);
  CHECK(y[1] == 2.0f);
  CHECK(y[2] == 2.0f);
  linear(x, w, nullptr, y, threads);
  CHECK(y[0] == 1.0f);
  CHECK(y[2] == 3.0f);
}

TEST_CASE("linear fast matches reference", "[linear]") {
  const int64_t N = GENERATE(1, 3, 9);  // one input, a few (dot products), more (sgemm_bt)
  const int64_t in = GENERATE(1, 7, 64, 300);
  const int64_t out = GENERATE(1, 10, 129, 200);  // 129 and 200 split into column blocks with 2 threads
  const bool with_bias = GENERATE(true, false);
  const bool pooled = GENERATE(false, true);  // (N, in, 1, 1), as adaptive_avg_pool2d leaves it
  const int threads = GENERATE(1, 2);
  CAPTURE(N, in, out, with_bias, pooled, threads);

  const Tensor x = random_tensor(pooled ? Shape{N, in, 1, 1} : Shape{N, in}, 1);
  const Tensor w = random_tensor({out, in}, 2), b = random_tensor({out}, 3);
  const Tensor* bias = with_bias ? &b : nullptr;
  const Shape shape = linear_output_shape(x.shape(), w.shape(), bias ? &b.shape() : nullptr);
  REQUIRE(shape == Shape{N, out});
  Tensor ref = Tensor::filled(shape, std::nanf("")), fast = Tensor::filled(shape, std::nanf(""));
  linear_reference(x, w, bias, ref);
  linear(x, w, bias, fast, threads);
  REQUIRE(compare_tensors(fast, ref, 1e-4f, 1e-4f) == "");
}

TEST_CASE("linear with no input features yields the bias", "[linear]") {
  const Tensor x(Shape{2, 0}), w(Shape{3, 0});
  const Tensor b = random_tensor({3}, 1);
  Tensor y = Tensor::filled({2, 3}, std::nanf(""));
  linear(x, w, &b, y, 2);
  for (int64_t i = 0; i < 6; ++i) REQUIRE(y[i] == b[i % 3]);
}

TEST_CASE("linear rejects mismatched shapes", "[linear]") {
  REQUIRE_THROWS_WITH(linear_output_shape({2, 8}, {4, 7}),
                      Contains("weight (4, 7) does not fit input (2, 8) (expected (out, 8))"));
  REQUIRE_THROWS_WITH(linear_output_shape({2, 8}, {8}), Contains("weight (8) does not fit"));
  const Shape bad_bias = {5};
  REQUIRE_THROWS_WITH(linear_output_shape({2, 8}, {4, 8}, &bad_bias),
                      Contains("bias (5) does not fit weight (4, 8) (expected (4))"));
  REQUIRE_THROWS_WITH(linear_output_shape({2, 8, 2, 2}, {4, 8}),
                      Contains("expected an (N, in) or (N, in, 1, 1) input, got (2, 8, 2, 2)"));
  REQUIRE_THROWS_WITH(linear_output_shape({8}, {4, 8}), Contains("got (8)"));

  const Tensor x = random_tensor({2, 8}, 1), w = random_tensor({4, 8}, 2);
  Tensor wrong(Shape{4, 2});
  REQUIRE_THROWS_WITH(linear(x, w, nullptr, wrong, 1), Contains("output shape (4, 2), expected (2, 4)"));
  REQUIRE_THROWS_AS(linear_reference(x, w, nullptr, wrong), Error);
}
