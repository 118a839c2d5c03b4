// Tiny architectures built in memory for the model tests, every weight made up
// by the fuzz harness's build_with_weights (tests/fuzz/harness.h), so a test
// states only the architecture.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.h"
#include "fuzz/harness.h"
#include "models/model.h"

namespace spdinfer::testing {

// A tiny SPD-YOLOv5 (tests/fuzz/make_corpus.py's TINY_SPD_YOLO): Focus, SPD after stride-1
// convs, SPPF, an upsample + concat, two Detect levels.
inline nlohmann::json tiny_spd_yolo() {
  return nlohmann::json::parse(R"({
    "nc": 2, "depth_multiple": 0.33, "width_multiple": 0.25,
    "anchors": [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119]],
    "backbone": [[-1, 1, "Focus", [16, 3]],
                 [-1, 1, "Conv", [32, 3, 1]],
                 [-1, 1, "space_to_depth", [1]],
                 [-1, 1, "C3", [32]],
                 [-1, 1, "Conv", [32, 3, 1]],
                 [-1, 1, "space_to_depth", [1]],
                 [-1, 1, "SPPF", [32, 5]]],
    "head": [[-1, 1, "Conv", [32, 1, 1]],
             [-1, 1, "nn.Upsample", ["None", 2, "nearest"]],
             [[-1, 3], 1, "Concat", [1]],
             [-1, 1, "C3", [32, false]],
             [[10, 7], 1, "Detect", ["nc", "anchors"]]],
    "ch": 3, "stride": [4, 8]})");
}

inline std::map<std::string, std::string> metadata(const std::string& family, const nlohmann::json& arch) {
  return fuzz::metadata_of({{"family", family}, {"architecture", arch}, {"preprocess", {{"input_size", {64, 64}}}}});
}

// Builds with every weight made up; values from `weight_values` (raw float32 bytes) if given.
inline Model build(const std::string& family, const nlohmann::json& arch, const std::vector<float>& weight_values = {},
                   bool raw_variance = false) {
  const fuzz::ValueSource values(reinterpret_cast<const std::uint8_t*>(weight_values.data()),
                                 weight_values.size() * sizeof(float), raw_variance);
  std::string error;
  std::optional<Model> m = fuzz::build_with_weights(metadata(family, arch), {}, values, &error);
  if (!m) throw Error(error);
  return std::move(*m);
}

}  // namespace spdinfer::testing
