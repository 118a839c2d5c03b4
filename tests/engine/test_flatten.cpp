// flatten: output shapes, fast vs reference copies (exact) across the fast
// form's chunk size, the aliasing no-op, and the errors.
#include <catch2/catch.hpp>
#include <cmath>

#include "engine/error.h"
#include "engine/ops/flatten.h"
#include "test_util.h"

using namespace spdinfer;
using Catch::Matchers::Contains;
using spdinfer::testing::compare_tensors;
using spdinfer::testing::random_tensor;

TEST_CASE("flatten keeps dim 0 and joins the rest", "[flatten]") {
  // 120000 floats cross the fast form's 64 Ki chunk.
  const auto [in, want] = GENERATE(table<Shape, Shape>({{{1, 1, 1, 1}, {1, 1}},
                                                        {{3, 5, 7, 9}, {3, 315}},
                                                        {{2, 3}, {2, 3}},
                                                        {{2, 3, 4}, {2, 12}},
                                                        {{3, 512, 1, 1}, {3, 512}},
                                                        {{1, 3, 200, 200}, {1, 120000}}}));
  const int threads = GENERATE(1, 2);
  CAPTURE(in, want, threads);
  REQUIRE(flatten_output_shape(in) == want);
  const Tensor x = random_tensor(in, 4);
  Tensor ref = Tensor::filled(want, std::nanf("")), fast = Tensor::filled(want, std::nanf(""));
  flatten_reference(x, ref);
  flatten(x, fast, threads);
  REQUIRE(compare_tensors(fast, ref, 0.0f, 0.0f) == "");
  REQUIRE(compare_tensors(fast, x.reshaped(want), 0.0f, 0.0f) == "");
}

TEST_CASE("flatten onto its own memory is a no-op", "[flatten]") {
  Tensor x = random_tensor({2, 3, 4, 5}, 2);
  const Tensor before = x.clone();
  Tensor view = x.reshaped({2, 60});
  flatten(x, view, 2);
  REQUIRE(compare_tensors(view, before.reshaped({2, 60}), 0.0f, 0.0f) == "");
}

TEST_CASE("flatten rejects bad shapes", "[flatten]") {
  REQUIRE_THROWS_WITH(flatten_output_shape({5}),
                      Contains("expected an input of rank 2 or more (N, ...), got (5)"));
  REQUIRE_THROWS_WITH(flatten_output_shape({}), Contains("got ()"));
  const Tensor x = random_tensor({2, 3, 4}, 1);
  Tensor wrong(Shape{2, 3, 4});
  REQUIRE_THROWS_WITH(flatten(x, wrong, 1), Contains("output shape (2, 3, 4), expected (2, 12)"));
  REQUIRE_THROWS_AS(flatten_reference(x, wrong), Error);
}
