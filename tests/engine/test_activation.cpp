// activation: names and parse errors, hand-computed values, fast vs reference
// sweeps (out of place and in place) and the shape check.
//
// Tolerance: |fast - ref| <= 1e-6 + 1e-6 * |ref|. Both forms use the same
// formulas; the slack only allows a vectorised exp to round differently.
#include <catch2/catch.hpp>
#include <cmath>

#include "engine/error.h"
#include "engine/ops/activation.h"
#include "test_util.h"

using namespace spdinfer;
using Catch::Matchers::Contains;
using spdinfer::testing::compare_tensors;
using spdinfer::testing::random_tensor;

namespace {

constexpr float kAtol = 1e-6f, kRtol = 1e-6f;
const Activation kAll[] = {Activation::None, Activation::ReLU, Activation::SiLU, Activation::Sigmoid};

}  // namespace

TEST_CASE("activation names parse and print", "[activation]") {
  for (Activation a : kAll) {
    CAPTURE(activation_name(a));
    REQUIRE(parse_activation(activation_name(a)) == a);
  }
  REQUIRE(parse_activation("") == Activation::None);
  REQUIRE(std::string(activation_name(Activation::SiLU)) == "silu");
}

TEST_CASE("activation parse rejects unknown names", "[activation]") {
  const std::string name = GENERATE("gelu", "ReLU", "relu ", "leaky_relu");
  CAPTURE(name);
  REQUIRE_THROWS_AS(parse_activation(name), Error);
  REQUIRE_THROWS_WITH(parse_activation(name), Contains("unknown activation '" + name + "'") &&
                                                  Contains("expected none, relu, silu or sigmoid"));
}

TEST_CASE("activation matches hand-computed values", "[activation]") {
  const int threads = GENERATE(1, 2);
  CAPTURE(threads);
  Tensor x(Shape{5});
  const float in[] = {-100.0f, -1.0f, 0.0f, 1.0f, 100.0f};
  for (int i = 0; i < 5; ++i) x[i] = in[i];
  Tensor y(Shape{5});
  SECTION("relu") {
    activation(x, Activation::ReLU, y, threads);
    const float want[] = {0.0f, 0.0f, 0.0f, 1.0f, 100.0f};
    for (int i = 0; i < 5; ++i) REQUIRE(y[i] == want[i]);
  }
  SECTION("sigmoid") {
    activation(x, Activation::Sigmoid, y, threads);
    // 1 / (1 + e^1) = 0.26894142, 1 / (1 + e^-1) = 0.73105858; +-100 saturate without NaN.
    const float want[] = {0.0f, 0.26894142f, 0.5f, 0.73105858f, 1.0f};
    for (int i = 0; i < 5; ++i) REQUIRE(y[i] == Approx(want[i]).margin(1e-7));
  }
  SECTION("silu") {
    activation(x, Activation::SiLU, y, threads);
    // x * sigmoid(x); -100 * sigmoid(-100) is about -3.7e-42, i.e. 0 to float precision.
    const float want[] = {0.0f, -0.26894142f, 0.0f, 0.73105858f, 100.0f};
    for (int i = 0; i < 5; ++i) REQUIRE(y[i] == Approx(want[i]).margin(1e-7));
  }
  SECTION("none copies") {
    activation(x, Activation::None, y, threads);
    for (int i = 0; i < 5; ++i) REQUIRE(y[i] == in[i]);
  }
}

TEST_CASE("activation fast matches reference", "[activation]") {
  const Activation a = GENERATE(Activation::None, Activation::ReLU, Activation::SiLU, Activation::Sigmoid);
  // 16384 is the fast form's chunk: sizes below, at and across it, and a 4-D image.
  const Shape shape = GENERATE(Shape{1}, Shape{7}, Shape{16384}, Shape{16385}, Shape{3, 13, 17, 19});
  const int threads = GENERATE(1, 2);
  const bool in_place = GENERATE(false, true);
  CAPTURE(activation_name(a), shape, threads, in_place);

  const Tensor x = random_tensor(shape, 17, -8.0f, 8.0f);
  Tensor ref(shape);
  activation_reference(x, a, ref);
  Tensor fast = x.clone();
  if (in_place) {
    activation(fast, a, fast, threads);
  } else {
    Tensor out = Tensor::filled(shape, std::nanf(""));
    activation(x, a, out, threads);
    fast = std::move(out);
  }
  REQUIRE(compare_tensors(fast, ref, kAtol, kRtol) == "");
}

TEST_CASE("apply_activation works on a raw range", "[activation]") {
  const Activation a = GENERATE(Activation::None, Activation::ReLU, Activation::SiLU, Activation::Sigmoid);
  CAPTURE(activation_name(a));
  const Tensor x = random_tensor({37}, 3, -5.0f, 5.0f);
  Tensor ref(Shape{37});
  activation_reference(x, a, ref);
  Tensor y = x.clone();
  apply_activation(y.data(), y.numel(), a);
  REQUIRE(compare_tensors(y, ref, kAtol, kRtol) == "");
}

TEST_CASE("activation rejects an output of another shape", "[activation]") {
  const Tensor x = random_tensor({2, 3}, 1);
  Tensor y(Shape{3, 2});
  const auto message = Contains("output shape (3, 2) differs from input (2, 3)");
  REQUIRE_THROWS_WITH(activation_reference(x, Activation::ReLU, y), message);
  REQUIRE_THROWS_WITH(activation(x, Activation::ReLU, y, 1), message);
}
