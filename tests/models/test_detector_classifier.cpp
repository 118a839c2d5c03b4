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

TEST_CASE("classifier: classify_batch gives each image what classify gives it", "[classifier]") {
  const Classifier c = Classifier::load(kData + "tiny_resnet_spd.safetensors");
  const std::vector<Image> images = {noise_image(50, 37, 3), noise_image(64, 64, 4), noise_image(21, 90, 5)};
  std::vector<ClassifyReport> reports;
  const std::vector<std::vector<ClassScore>> got = c.classify_batch(images, 3, 2, &reports);
  REQUIRE(got.size() == images.size());
  REQUIRE(reports.size() == images.size());
  for (std::size_t i = 0; i < images.size(); ++i) {
    const std::vector<ClassScore> alone = c.classify(images[i], 3);
    REQUIRE(got[i].size() == alone.size());
    for (std::size_t k = 0; k < alone.size(); ++k) {
      CHECK(got[i][k].class_id == alone[k].class_id);
      CHECK(got[i][k].probability == Approx(alone[k].probability).margin(1e-6));
    }
    CHECK(reports[i].infer_ms > 0);
  }
  CHECK(c.classify_batch({}, 3).empty());
}

TEST_CASE("detector: detect_batch gives each image what detect gives it", "[detector]") {
  const Detector d(tiny_yolo());
  // Two shapes: 90x70 and 70x90 letterbox to 64x56 and 56x64 (two forwards);
  // the third image shares the first's.
  const std::vector<Image> owned = {noise_image(90, 70, 6), noise_image(70, 90, 7), noise_image(90, 70, 8)};
  const std::vector<const Image*> images = {&owned[0], &owned[1], &owned[2]};
  DetectOptions o;
  o.img_size = 64;
  o.nms.conf_threshold = 0.0f;
  std::vector<DetectionReport> reports;
  const std::vector<std::vector<Detection>> got = d.detect_batch(images, o, &reports);
  REQUIRE(got.size() == images.size());
  REQUIRE(reports.size() == images.size());
  int forwards = 0;
  for (std::size_t i = 0; i < images.size(); ++i) {
    DetectionReport alone_report;
    const std::vector<Detection> alone = d.detect(*images[i], o, &alone_report);
    REQUIRE(got[i].size() == alone.size());
    for (std::size_t k = 0; k < alone.size(); ++k) {
      CHECK(got[i][k].x1 == Approx(alone[k].x1).margin(1e-3));
      CHECK(got[i][k].y2 == Approx(alone[k].y2).margin(1e-3));
      CHECK(got[i][k].confidence == Approx(alone[k].confidence).margin(1e-5));
      CHECK(got[i][k].class_id == alone[k].class_id);
    }
    CHECK(reports[i].input_w == alone_report.input_w);
    CHECK(reports[i].input_h == alone_report.input_h);
    forwards += reports[i].forwards;
  }
  CHECK(forwards == 2);
  CHECK(reports[0].forwards == 1);
  CHECK(reports[2].forwards == 0);  // ran in image 0's forward
  // detect_images: the same batch, each image alone when there is one.
  std::vector<DetectionReport> images_reports;
  const std::vector<std::vector<Detection>> via_images = d.detect_images(images, o, &images_reports);
  REQUIRE(via_images.size() == got.size());
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(via_images[i].size() == got[i].size());
  CHECK(images_reports[2].forwards == 0);
  std::vector<DetectionReport> one_report;
  const auto one = d.detect_images({images[1]}, o, &one_report);
  REQUIRE(one.size() == 1);
  CHECK(one[0].size() == got[1].size());
  CHECK(one_report.at(0).forwards == 1);
  o.slice.width = o.slice.height = 32;
  CHECK_THROWS_WITH(d.detect_batch(images, o), Contains("sliced inference batches its tiles"));
  // Sliced, detect_images runs detect() on each image: every one is sliced into its own tiles.
  std::vector<DetectionReport> sliced_reports;
  REQUIRE(d.detect_images(images, o, &sliced_reports).size() == images.size());
  for (const DetectionReport& r : sliced_reports) CHECK(r.tiles > 1);
}
