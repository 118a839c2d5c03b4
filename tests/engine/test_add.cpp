// add: hand-computed sums with and without the fused activation, fast vs
// reference sweeps (also in place, as the residual join runs), shape errors.
//
// Tolerance: |fast - ref| <= 1e-6 + 1e-6 * |ref|: the same sum, and the same
// activation formula, rounded possibly differently when vectorised.
#include <catch2/catch.hpp>
#include <cmath>

#include "engine/error.h"
#include "engine/ops/add.h"
#include "test_util.h"

using namespace spdinfer;
using Catch::Matchers::Contains;
using spdinfer::testing::compare_tensors;
using spdinfer::testing::random_tensor;

TEST_CASE("add matches hand-computed values", "[add]") {
  const int threads = GENERATE(1, 2);
  CAPTURE(threads);
  Tensor a(Shape{1, 3, 1, 1}), b(Shape{1, 3, 1, 1}), out(Shape{1, 3, 1, 1});
  a[0] = 1.0f, a[1] = -2.0f, a[2] = 3.0f;
  b[0] = 1.0f, b[1] = 1.0f, b[2] = -5.0f;
  add(a, b, {}, out, threads);
  CHECK(out[0] == 2.0f);
  CHECK(out[1] == -1.0f);
  CHECK(out[2] == -2.0f);
  add(a, b, {Activation::ReLU}, out, threads);  // ResNet's ReLU(residual + shortcut)
  CHECK(out[0] == 2.0f);
  CHECK(out[1] == 0.0f);
  CHECK(out[2] == 0.0f);
}

TEST_CASE("add fast matches reference", "[add]") {
  const Activation act = GENERATE(Activation::None, Activation::ReLU, Activation::SiLU, Activation::Sigmoid);
  // 1x1 images, odd sizes, batch 3, channels not a multiple of 8, and one across the 16 Ki chunk.
  const Shape shape =
      GENERATE(Shape{1, 1, 1, 1}, Shape{3, 5, 7, 9}, Shape{2, 13, 1, 1}, Shape{1, 3, 101, 99});
  const int threads = GENERATE(1, 2);
  const int alias = GENERATE(0, 1, 2);  // out is new memory, a, or b
  CAPTURE(activation_name(act), shape, threads, alias);

  const Tensor a = random_tensor(shape, 1, -4.0f, 4.0f), b = random_tensor(shape, 2, -4.0f, 4.0f);
  Tensor ref = Tensor::filled(shape, std::nanf(""));
  add_reference(a, b, {act}, ref);

  Tensor a2 = a.clone(), b2 = b.clone(), fresh = Tensor::filled(shape, std::nanf(""));
  Tensor& out = alias == 0 ? fresh : alias == 1 ? a2 : b2;
  add(a2, b2, {act}, out, threads);
  REQUIRE(compare_tensors(out, ref, 1e-6f, 1e-6f) == "");
}

TEST_CASE("add rejects mismatched shapes", "[add]") {
  const Tensor a = random_tensor({1, 4, 5, 5}, 1), b = random_tensor({1, 4, 5, 6}, 2);
  Tensor out(Shape{1, 4, 5, 5});
  REQUIRE_THROWS_WITH(add_output_shape(a.shape(), b.shape()),
                      Contains("input shapes differ: (1, 4, 5, 5) and (1, 4, 5, 6)"));
  REQUIRE_THROWS_AS(add(a, b, {}, out, 1), Error);
  REQUIRE_THROWS_AS(add_reference(a, b, {}, out), Error);

  Tensor wrong(Shape{1, 4, 25});
  REQUIRE_THROWS_WITH(add(a, a, {}, wrong, 1), Contains("output shape (1, 4, 25), expected (1, 4, 5, 5)"));
  REQUIRE_THROWS_WITH(add_reference(a, a, {}, wrong), Contains("output shape (1, 4, 25)"));
}
