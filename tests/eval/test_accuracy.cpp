// Accuracy arithmetic: ranks with ties and NaN in classify's order, top-1 and
// top-5 counts overall and per class.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/error.h"
#include "eval/accuracy.h"

using namespace spdinfer;

TEST_CASE("label_rank and predicted_class: higher score first, ties by class id, NaN last", "[accuracy]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> s = {0.1f, 0.9f, 0.5f, 0.9f, nan, -1.0f};
  CHECK(predicted_class(s.data(), 6) == 1);
  CHECK(label_rank(s.data(), 6, 1) == 0);
  CHECK(label_rank(s.data(), 6, 3) == 1);  // tied with class 1, which comes first
  CHECK(label_rank(s.data(), 6, 2) == 2);
  CHECK(label_rank(s.data(), 6, 0) == 3);
  CHECK(label_rank(s.data(), 6, 5) == 4);
  CHECK(label_rank(s.data(), 6, 4) == 5);  // NaN below -1
  const std::vector<float> all_nan = {nan, nan, nan};
  CHECK(predicted_class(all_nan.data(), 3) == 0);
  CHECK(label_rank(all_nan.data(), 3, 2) == 2);
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> infs = {-inf, inf, 3.0f};
  CHECK(predicted_class(infs.data(), 3) == 1);
  CHECK(label_rank(infs.data(), 3, 0) == 2);
  CHECK_THROWS_AS(label_rank(s.data(), 6, 6), Error);
  CHECK_THROWS_AS(label_rank(s.data(), 6, -1), Error);
}

TEST_CASE("AccuracyCounter counts top-1 and top-5, overall and per class", "[accuracy]") {
  AccuracyCounter acc(7);
  // Scores: class c gets score c, so the ranking is 6, 5, 4, 3, 2, 1, 0.
  std::vector<float> ramp = {0, 1, 2, 3, 4, 5, 6};
  CHECK(acc.add(ramp.data(), 6) == 6);  // top-1
  CHECK(acc.add(ramp.data(), 2) == 6);  // rank 4: top-5
  CHECK(acc.add(ramp.data(), 1) == 6);  // rank 5: neither
  CHECK(acc.add(ramp.data(), 2) == 6);
  CHECK(acc.count() == 4);
  CHECK(acc.top1_correct() == 1);
  CHECK(acc.topk_correct() == 3);
  CHECK(acc.top1() == Approx(0.25));
  CHECK(acc.topk() == Approx(0.75));
  CHECK(acc.class_count() == std::vector<int64_t>{0, 1, 2, 0, 0, 0, 1});
  CHECK(acc.class_top1_correct() == std::vector<int64_t>{0, 0, 0, 0, 0, 0, 1});
  CHECK_THROWS_AS(acc.add(ramp.data(), 7), Error);
  CHECK(acc.count() == 4);  // a refused sample is not counted
}

TEST_CASE("AccuracyCounter batches and few-class models", "[accuracy]") {
  AccuracyCounter empty(3);
  CHECK(empty.top1() == 0.0);
  CHECK(empty.topk() == 0.0);

  // With 3 classes, top-5 is always right.
  AccuracyCounter acc(3);
  const std::vector<float> batch = {0.2f, 0.7f, 0.1f,   // -> 1
                                    0.9f, 0.0f, 0.1f,   // -> 0
                                    0.3f, 0.3f, 0.4f};  // -> 2
  std::vector<int> predictions;
  acc.add_batch(batch.data(), {1, 2, 2}, &predictions);
  CHECK(predictions == std::vector<int>{1, 0, 2});
  CHECK(acc.top1_correct() == 2);
  CHECK(acc.topk_correct() == 3);
  CHECK(acc.class_count() == std::vector<int64_t>{0, 1, 2});
  CHECK(acc.class_top1_correct() == std::vector<int64_t>{0, 1, 1});

  CHECK_THROWS_AS(AccuracyCounter(0), Error);
  CHECK_THROWS_AS(AccuracyCounter(3, 0), Error);
}
