// The golden path without PyTorch: a tiny ResNet-SPD model file and its
// PyTorch activations are committed (tests/data, made by
// weights_tools/reference/random_model.py and dump_golden.py), so every machine checks
// the engine against PyTorch layer by layer, and that the check can fail.
#include <catch2/catch.hpp>

#include "engine/golden.h"
#include "models/model.h"

using namespace spdinfer;

namespace {

const std::string kData = std::string(SPDINFER_SOURCE_DIR) + "/tests/data/";

GoldenReport run_golden(const Model& m, const ModelFile& golden) {
  return compare_golden(
      *m.graph, golden, [&](const std::string& layer) { return m.node_for_module(layer); }, 0.0, 1e-4, 2);
}

}  // namespace

TEST_CASE("committed golden: tiny ResNet-SPD matches PyTorch layer by layer", "[golden]") {
  Model m = load_model(kData + "tiny_resnet_spd.safetensors");
  ModelFile golden = read_safetensors(kData + "tiny_resnet_spd.golden.safetensors");
  GoldenReport report = run_golden(m, golden);
  REQUIRE(report.layers.size() >= 15);
  for (const auto& l : report.layers) {
    CAPTURE(l.layer, l.max_abs_error, l.max_relative_error, l.problem);
    CHECK(l.pass);
  }
  CHECK(report.pass());
}

TEST_CASE("committed golden: a perturbed activation fails the comparison", "[golden]") {
  Model m = load_model(kData + "tiny_resnet_spd.safetensors");
  ModelFile golden = read_safetensors(kData + "tiny_resnet_spd.golden.safetensors");
  Tensor& fc = golden.weights.at("fc");
  fc[0] += 1e-2f * (1.0f + std::fabs(fc[0]));
  GoldenReport report = run_golden(m, golden);
  CHECK_FALSE(report.pass());
  for (const auto& l : report.layers)
    if (l.layer == "fc") CHECK_FALSE(l.pass);
    else CHECK(l.pass);
}
