// The `quantization` metadata of an int8 model file (format_version 2, see
// docs/design.md "Model file"): which convolutions run in int8 and the scale of
// each one's input, plus how the scales were found. Written by
// `spdinfer calibrate`, read when a model is loaded.
#pragma once

#include <map>
#include <string>

namespace spdinfer {

constexpr int kQuantizationVersion = 1;

struct QuantizationInfo {
  std::string method;  // "kl", "minmax", "percentile" or "table"
  int images = 0;      // calibration images (0 for scales from a table)
  double percentile = 0;  // percentile method only
  std::map<std::string, float> input_scales;  // conv node -> input scale (finite, > 0)
};

// Parses metadata 'quantization'; throws spdinfer::Error("PATH: metadata 'quantization': ...").
QuantizationInfo parse_quantization(const std::string& path, const std::string& text);
// The metadata value: {"version": 1, "method": ..., "images": N, ["percentile": P,] "input_scales": {...}}.
std::string quantization_text(const QuantizationInfo& info);

// Whether a stored input scale is acceptable: finite and > 0.
bool valid_input_scale(double scale);

}  // namespace spdinfer
