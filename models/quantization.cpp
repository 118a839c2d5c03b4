// Reading and writing the `quantization` metadata.
#include "models/quantization.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/json_checked.h"
#include "engine/model_file.h"

namespace spdinfer {

bool valid_input_scale(double scale) { return std::isfinite(scale) && scale > 0 && scale <= 3.4e38; }

QuantizationInfo parse_quantization(const std::string& path, const std::string& text) {
  const std::string where = path + ": metadata 'quantization'";
  const nlohmann::json j = parse_json_checked(path, "metadata 'quantization'", text, kMetadataJsonLimits);
  if (!j.is_object()) throw Error(where + " is not a JSON object");
  auto version = j.find("version");
  if (version == j.end() || !version->is_number_integer())
    throw Error(where + " has no integer 'version'");
  if (version->get<int64_t>() != kQuantizationVersion)
    throw Error(where + ": unknown version " + version->dump() + " (this spdinfer reads version " +
                std::to_string(kQuantizationVersion) + ")");
  QuantizationInfo info;
  if (j.contains("method")) {
    if (!j["method"].is_string()) throw Error(where + ": 'method' is not a string");
    info.method = j["method"].get<std::string>();
  }
  if (j.contains("images")) {
    if (!j["images"].is_number_integer() || j["images"].get<int64_t>() < 0 || j["images"].get<int64_t>() > 1'000'000'000)
      throw Error(where + ": 'images' is not a count");
    info.images = j["images"].get<int>();
  }
  if (j.contains("percentile")) {
    if (!j["percentile"].is_number()) throw Error(where + ": 'percentile' is not a number");
    info.percentile = j["percentile"].get<double>();
  }
  auto scales = j.find("input_scales");
  if (scales == j.end() || !scales->is_object()) throw Error(where + " has no object 'input_scales'");
  for (const auto& [node, value] : scales->items()) {
    if (!value.is_number() || !valid_input_scale(value.get<double>()))
      throw Error(where + ": input scale of '" + node + "' is " + value.dump() + " (must be a finite number > 0)");
    info.input_scales[node] = value.get<float>();
  }
  return info;
}

std::string quantization_text(const QuantizationInfo& info) {
  nlohmann::ordered_json j = {{"version", kQuantizationVersion}, {"method", info.method}, {"images", info.images}};
  if (info.method == "percentile") j["percentile"] = info.percentile;
  nlohmann::ordered_json scales = nlohmann::ordered_json::object();
  for (const auto& [node, scale] : info.input_scales) scales[node] = scale;
  j["input_scales"] = scales;
  return j.dump();
}

}  // namespace spdinfer
