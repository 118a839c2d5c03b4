// YOLO Detect decoding: the fast path against the reference, and the
// reference against the formula written out for single elements.
#include <catch2/catch.hpp>
#include <cmath>

#include "models/yolo_detect_op.h"
#include "test_util.h"

using namespace spdinfer;
using spdinfer::testing::compare_tensors;
using spdinfer::testing::random_tensor;

TEST_CASE("yolo_decode: fast equals reference over sizes, anchors, batch and threads", "[yolo]") {
  const int64_t n = GENERATE(1, 3);
  const int64_t h = GENERATE(1, 5, 9);
  const int64_t w = GENERATE(1, 7, 70);
  const int na = GENERATE(1, 3);
  const int threads = GENERATE(1, 2);
  CAPTURE(n, h, w, na, threads);
  YoloDecodeParams p;
  p.num_anchors = na;
  p.num_outputs = 7;
  p.stride = 16;
  for (int i = 0; i < 2 * na; ++i) p.anchors.push_back(10.0f + 7.0f * i);
  Tensor x = random_tensor({n, na * 7, h, w}, 5, -6.0f, 6.0f);
  const Shape shape = yolo_decode_output_shape(x.shape(), p);
  REQUIRE(shape == Shape{n, na * h * w, 7});
  Tensor ref(shape), fast(shape);
  yolo_decode_reference(x, p, ref);
  yolo_decode(x, p, fast, threads);
  // Tolerance: 1e-6 relative plus 1e-5 absolute (xy are pixel positions up to ~1100).
  CHECK(compare_tensors(fast, ref, 1e-5f, 1e-6f).empty());
}

TEST_CASE("yolo_decode: reference follows YOLOv5's formula in (anchor, y, x) order", "[yolo]") {
  YoloDecodeParams p;
  p.num_anchors = 2;
  p.num_outputs = 6;
  p.stride = 8;
  p.anchors = {10, 13, 16, 30};
  Tensor x = random_tensor({1, 12, 2, 3}, 9, -3.0f, 3.0f);
  Tensor y(yolo_decode_output_shape(x.shape(), p));
  yolo_decode_reference(x, p, y);
  auto sig = [](float v) { return 1.0f / (1.0f + std::exp(-v)); };
  const int a = 1, gy = 1, gx = 2;  // anchor 1, cell (y 1, x 2)
  auto raw = [&](int k) { return x[((a * 6 + k) * 2 + gy) * 3 + gx]; };
  const float* row = y.data() + (a * 6 + gy * 3 + gx) * 6;
  CHECK(row[0] == Approx((2 * sig(raw(0)) - 0.5f + gx) * 8));
  CHECK(row[1] == Approx((2 * sig(raw(1)) - 0.5f + gy) * 8));
  CHECK(row[2] == Approx(std::pow(2 * sig(raw(2)), 2) * 16));
  CHECK(row[3] == Approx(std::pow(2 * sig(raw(3)), 2) * 30));
  CHECK(row[4] == Approx(sig(raw(4))));
  CHECK(row[5] == Approx(sig(raw(5))));
}

TEST_CASE("yolo_decode: shape errors", "[yolo]") {
  YoloDecodeParams p;
  p.num_anchors = 3;
  p.num_outputs = 85;
  p.stride = 8;
  p.anchors = {1, 2, 3, 4, 5, 6};
  CHECK_THROWS_WITH(yolo_decode_output_shape({1, 254, 4, 4}, p), Catch::Contains("(N, 255, H, W)"));
  p.anchors.pop_back();
  CHECK_THROWS_WITH(yolo_decode_output_shape({1, 255, 4, 4}, p), Catch::Contains("anchor values"));
}
