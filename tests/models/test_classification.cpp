// Tests of models/classification: softmax (stability, NaN), top-k order and
// ties, label files.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <numeric>

#include "engine/error.h"
#include "models/classification.h"

using namespace spdinfer;

TEST_CASE("softmax is normalised and stable for large logits", "[classification]") {
  const auto p = softmax({1000.0f, 1001.0f, 999.0f});
  CHECK(std::accumulate(p.begin(), p.end(), 0.0) == Approx(1.0));
  CHECK(p[1] == Approx(std::exp(1.0) / (1 + std::exp(1.0) + std::exp(-1.0))));
  const auto q = softmax({0.0f, std::log(3.0f)});
  CHECK(q[0] == Approx(0.25f));
  CHECK(q[1] == Approx(0.75f));
}

TEST_CASE("softmax gives non-finite logits probability 0", "[classification]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto p = softmax({nan, 0.0f, 0.0f, -std::numeric_limits<float>::infinity()});
  CHECK(p[0] == 0.0f);
  CHECK(p[1] == Approx(0.5f));
  CHECK(p[3] == 0.0f);
  const auto all_nan = softmax({nan, nan});
  CHECK(all_nan[0] == 0.0f);
  CHECK(all_nan[1] == 0.0f);
}

TEST_CASE("top_k: highest first, ties by class id, k clamped, NaN last", "[classification]") {
  const std::vector<float> p = {0.1f, 0.4f, 0.1f, 0.3f, 0.1f};
  const auto t = top_k(p, 4);
  REQUIRE(t.size() == 4);
  CHECK(t[0].class_id == 1);
  CHECK(t[1].class_id == 3);
  CHECK(t[2].class_id == 0);
  CHECK(t[3].class_id == 2);
  CHECK(t[0].probability == 0.4f);
  CHECK(top_k(p, 100).size() == 5);
  CHECK(top_k(p, 0).empty());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const auto n = top_k({nan, 0.2f, nan, 0.1f}, 4);
  CHECK(n[0].class_id == 1);
  CHECK(n[1].class_id == 3);
  CHECK(n[2].class_id == 0);
}

TEST_CASE("label files: one name per line, blanks and CR trimmed", "[classification]") {
  const std::string path = "spdinfer_test_labels.txt";
  {
    std::ofstream f(path, std::ios::binary);
    f << "cat\r\n  dog \n\n\tbird house\n";
  }
  CHECK(read_label_file(path) == std::vector<std::string>{"cat", "dog", "bird house"});
  std::remove(path.c_str());
  CHECK_THROWS_AS(read_label_file("no/such/labels.txt"), Error);
}
