// concat: the channel order on a hand-built case, fast vs reference sweeps
// over channel lists (including an empty input), other axes, and the
// validation errors. Pure copies, so the comparison is exact.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "engine/error.h"
#include "engine/ops/concat.h"
#include "test_util.h"

using namespace spdinfer;
using Catch::Matchers::Contains;
using spdinfer::testing::compare_tensors;
using spdinfer::testing::random_tensor;

namespace {

std::vector<const Tensor*> pointers(const std::vector<Tensor>& tensors) {
  std::vector<const Tensor*> out;
  for (const Tensor& t : tensors) out.push_back(&t);
  return out;
}

std::vector<Shape> shapes(const std::vector<Tensor>& tensors) {
  std::vector<Shape> out;
  for (const Tensor& t : tensors) out.push_back(t.shape());
  return out;
}

// Runs both forms into NaN-filled outputs and requires them equal; returns the reference.
Tensor run_both(const std::vector<Tensor>& inputs, const ConcatParams& params, int threads) {
  const Shape shape = concat_output_shape(shapes(inputs), params);
  Tensor ref = Tensor::filled(shape, std::nanf("")), fast = Tensor::filled(shape, std::nanf(""));
  concat_reference(pointers(inputs), params, ref);
  concat(pointers(inputs), params, fast, threads);
  REQUIRE(compare_tensors(fast, ref, 0.0f, 0.0f) == "");
  return ref;
}

}  // namespace

TEST_CASE("concat stacks channels in input order", "[concat]") {
  const int threads = GENERATE(1, 2);
  CAPTURE(threads);
  // Batch 2: a (2, 1, 1, 2) = [[1, 2]], [[3, 4]]; b (2, 2, 1, 2) = [[10, 11], [12, 13]], [[14, 15], [16,
  // 17]].
  std::vector<Tensor> in;
  in.emplace_back(Shape{2, 1, 1, 2});
  in.emplace_back(Shape{2, 2, 1, 2});
  for (int i = 0; i < 4; ++i) in[0][i] = static_cast<float>(1 + i);
  for (int i = 0; i < 8; ++i) in[1][i] = static_cast<float>(10 + i);
  const Tensor out = run_both(in, {}, threads);
  REQUIRE(out.shape() == Shape{2, 3, 1, 2});
  const float want[] = {1, 2, 10, 11, 12, 13, 3, 4, 14, 15, 16, 17};
  for (int i = 0; i < 12; ++i) REQUIRE(out[i] == want[i]);
}

TEST_CASE("concat fast matches reference on channels", "[concat]") {
  const std::vector<int64_t> channels =
      GENERATE(std::vector<int64_t>{1}, std::vector<int64_t>{3, 5}, std::vector<int64_t>{8, 1, 13},
               std::vector<int64_t>{7, 0, 2, 9});
  const int64_t N = GENERATE(1, 3);
  const auto [H, W] = GENERATE(table<int64_t, int64_t>({{1, 1}, {5, 7}, {20, 20}}));
  const int threads = GENERATE(1, 2);
  CAPTURE(channels, N, H, W, threads);

  std::vector<Tensor> in;
  for (std::size_t i = 0; i < channels.size(); ++i)
    in.push_back(random_tensor({N, channels[i], H, W}, static_cast<uint32_t>(i + 1)));
  int64_t total = 0;
  for (int64_t c : channels) total += c;
  REQUIRE(run_both(in, {}, threads).shape() == Shape{N, total, H, W});
}

TEST_CASE("concat fast matches reference on other axes", "[concat]") {
  // Detect-like (N, anchors, outputs) joined on dim 1, and the other dims of images.
  const auto [a, b, axis] = GENERATE(table<Shape, Shape, int>({{{3, 4, 85}, {3, 7, 85}, 1},
                                                               {{2, 3, 5, 7}, {2, 3, 2, 7}, 2},
                                                               {{2, 3, 5, 7}, {2, 3, 5, 1}, -1},
                                                               {{1, 3, 4, 4}, {2, 3, 4, 4}, 0}}));
  const int threads = GENERATE(1, 2);
  CAPTURE(a, b, axis, threads);
  std::vector<Tensor> in;
  in.push_back(random_tensor(a, 1));
  in.push_back(random_tensor(b, 2));
  const auto d = static_cast<std::size_t>(axis < 0 ? axis + static_cast<int>(a.size()) : axis);
  Shape want = a;
  want[d] += b[d];
  REQUIRE(run_both(in, {axis}, threads).shape() == want);
}

TEST_CASE("concat rejects bad inputs", "[concat]") {
  REQUIRE_THROWS_WITH(concat_output_shape({}), Contains("no inputs"));
  REQUIRE_THROWS_WITH(
      concat_output_shape({{1, 2, 4, 4}, {1, 3, 4, 5}}),
      Contains("input 1 has shape (1, 3, 4, 5), which does not match input 0's (1, 2, 4, 4)"));
  REQUIRE_THROWS_WITH(concat_output_shape({{1, 2, 4, 4}, {1, 2, 4, 4}, {2, 2, 4, 4}}),
                      Contains("input 2 has shape (2, 2, 4, 4)"));
  REQUIRE_THROWS_WITH(concat_output_shape({{1, 2, 4, 4}, {1, 2, 16}}),
                      Contains("input 1 has shape (1, 2, 16)"));
  REQUIRE_THROWS_WITH(concat_output_shape({{1, 2}}, {2}), Contains("axis 2 out of range for rank 2"));
  REQUIRE_THROWS_WITH(concat_output_shape({{1, 2}}, {-3}), Contains("axis -3 out of range"));

  const Tensor a = random_tensor({1, 2, 3, 3}, 1);
  Tensor out(Shape{1, 4, 3, 3}), wrong(Shape{1, 5, 3, 3});
  REQUIRE_THROWS_WITH(concat({&a, nullptr}, {}, out, 1), Contains("input 1 is null"));
  REQUIRE_THROWS_WITH(concat({&a, &a}, {}, wrong, 1),
                      Contains("output shape (1, 5, 3, 3), expected (1, 4, 3, 3)"));
  REQUIRE_THROWS_AS(concat_reference({&a, &a}, {}, wrong), Error);
}
