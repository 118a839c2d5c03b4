// upsample (nearest, integer scale): the replication pattern on hand-built
// images, fast vs reference sweeps, and the validation errors. Pure copies,
// so the comparison is exact.
#include <catch2/catch.hpp>
#include <cmath>

#include "engine/error.h"
#include "engine/ops/upsample.h"
#include "test_util.h"

using namespace spdinfer;
using Catch::Matchers::Contains;
using spdinfer::testing::compare_tensors;
using spdinfer::testing::random_tensor;

TEST_CASE("upsample repeats each pixel scale x scale times", "[upsample]") {
  const int threads = GENERATE(1, 2);
  CAPTURE(threads);
  SECTION("2x2 by 2, YOLOv5's case") {
    Tensor x(Shape{1, 1, 2, 2});
    for (int i = 0; i < 4; ++i) x[i] = static_cast<float>(i + 1);  // [[1, 2], [3, 4]]
    Tensor y(upsample_output_shape(x.shape(), {2}));
    REQUIRE(y.shape() == Shape{1, 1, 4, 4});
    upsample(x, {2}, y, threads);
    const float want[] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
    for (int i = 0; i < 16; ++i) REQUIRE(y[i] == want[i]);
  }
  SECTION("1x2 by 3, two channels") {
    Tensor x(Shape{1, 2, 1, 2});
    for (int i = 0; i < 4; ++i) x[i] = static_cast<float>(i + 1);  // channel 0: [1, 2], channel 1: [3, 4]
    Tensor y(Shape{1, 2, 3, 6});
    upsample(x, {3}, y, threads);
    for (int c = 0; c < 2; ++c)
      for (int r = 0; r < 3; ++r)
        for (int col = 0; col < 6; ++col) {
          CAPTURE(c, r, col);
          REQUIRE(y[(c * 3 + r) * 6 + col] == static_cast<float>(2 * c + col / 3 + 1));
        }
  }
}

TEST_CASE("upsample fast matches reference", "[upsample]") {
  const int scale = GENERATE(1, 2, 3);
  const int64_t N = GENERATE(1, 3);
  const int64_t C = GENERATE(1, 5, 13);
  const auto [H, W] = GENERATE(table<int64_t, int64_t>({{1, 1}, {3, 7}, {20, 20}}));
  const int threads = GENERATE(1, 2);
  CAPTURE(scale, N, C, H, W, threads);

  const Tensor x = random_tensor({N, C, H, W}, 5);
  const Shape shape = upsample_output_shape(x.shape(), {scale});
  REQUIRE(shape == Shape{N, C, H * scale, W * scale});
  Tensor ref = Tensor::filled(shape, std::nanf("")), fast = Tensor::filled(shape, std::nanf(""));
  upsample_reference(x, {scale}, ref);
  upsample(x, {scale}, fast, threads);
  REQUIRE(compare_tensors(fast, ref, 0.0f, 0.0f) == "");
}

TEST_CASE("upsample rejects bad parameters and shapes", "[upsample]") {
  REQUIRE_THROWS_WITH(upsample_output_shape({1, 3, 4, 4}, {0}), Contains("scale must be at least 1, got 0"));
  REQUIRE_THROWS_WITH(upsample_output_shape({3, 4, 4}, {2}),
                      Contains("expected an (N, C, H, W) input, got (3, 4, 4)"));
  const Tensor x = random_tensor({1, 3, 4, 4}, 1);
  Tensor wrong(Shape{1, 3, 4, 8});
  REQUIRE_THROWS_WITH(upsample(x, {2}, wrong, 1),
                      Contains("output shape (1, 3, 4, 8), expected (1, 3, 8, 8)"));
  REQUIRE_THROWS_AS(upsample_reference(x, {2}, wrong), Error);
}
