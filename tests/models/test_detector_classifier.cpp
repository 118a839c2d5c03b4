// Tests of models/detector and models/classifier: each object gives what the
// chain it owns gives when assembled by hand (preprocessing, forward, NMS or
// softmax + top-k), refuses a model of the other family, and rounds the input
// size to the stride.
#include <catch2/catch.hpp>

#include <random>

#include "engine/error.h"
#include "image/preprocess.h"
#include "models/classifier.h"
#include "models/detector.h"
#include "models/tiny_models.h"

using namespace spdinfer;
using Catch::Matchers::Contains;

namespace {

const std::string kData = std::string(SPDINFER_SOURCE_DIR) + "/tests/data/";

Model tiny_yolo() { return spdinfer::testing::build("yolov5", spdinfer::testing::tiny_spd_yolo()); }

Image noise_image(int w, int h, unsigned seed) {
  Image img(w, h);
  std::mt19937 rng(seed);
  for (auto& p : img.pixels) p = static_cast<std::uint8_t>(rng() & 255);
  return img;
}

}  // namespace

TEST_CASE("classifier: classify is resize, forward, softmax and top-k", "[classifier]") {
  const Classifier c = Classifier::load(kData + "tiny_resnet_spd.safetensors");
  const Image img = noise_image(50, 37, 1);
  const Preprocess& p = c.preprocess();
  const Tensor x = image_to_tensor(resize_for_classifier(img, p), p);
  const std::vector<Tensor> out = c.model().graph->forward({&x});
  const Tensor& l = out[0];
  const std::vector<ClassScore> expected = top_k(softmax(std::vector<float>(l.data(), l.data() + l.numel())), 3);
  ClassifyReport r;
  const std::vector<ClassScore> got = c.classify(img, 3, 2, &r);
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].class_id == expected[i].class_id);
    CHECK(got[i].probability == expected[i].probability);
  }
  CHECK(r.pre_ms >= 0);
  CHECK(r.infer_ms > 0);
  CHECK(c.classify(img, 1000).size() == c.class_names().size());
  CHECK(c.logits(x).shape() == Shape{1, c.num_classes()});
}

TEST_CASE("classifier and detector refuse the other family", "[classifier][detector]") {
  CHECK_THROWS_WITH(Detector::load(kData + "tiny_resnet_spd.safetensors"), Contains("not a YOLOv5 detector"));
  CHECK_THROWS_WITH(Classifier(tiny_yolo()), Contains("not a ResNet-SPD classifier"));
}

TEST_CASE("detector: detect is the detection pipeline at the stride-rounded size", "[detector]") {
  const Detector d(tiny_yolo());
  CHECK(d.stride() == 8);
  CHECK(d.input_size(60) == 64);
  CHECK(d.input_size(64) == 64);
  const Image img = noise_image(90, 70, 2);
  DetectOptions o;
  o.img_size = 60;
  o.nms.conf_threshold = 0.0f;
  DetectionPipelineOptions pipeline;
  pipeline.img_size = 64;
  pipeline.stride = 8;
  pipeline.nms = o.nms;
  const Model& m = d.model();
  const std::vector<Detection> expected = detect_objects(
      img, m.preprocess, pipeline, [&](const Tensor& x) { return m.graph->forward({&x}); });
  DetectionReport r;
  const std::vector<Detection> got = d.detect(img, o, &r);
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].x1 == expected[i].x1);
    CHECK(got[i].y2 == expected[i].y2);
    CHECK(got[i].confidence == expected[i].confidence);
    CHECK(got[i].class_id == expected[i].class_id);
  }
  CHECK(r.forwards == 1);
  CHECK(r.input_w == 64);
}
