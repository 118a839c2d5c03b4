// Golden comparison. Layers are compared inside the observer, while the
// node's output is still in the arena, so no activation is kept longer.
// The float64 truth is stored as two float32 tensors (hi + lo, see
// docs/golden-format.md) and summed in double here.
#include "engine/golden.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace spdinfer {
namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

std::vector<std::string> golden_layer_names(const ModelFile& golden) {
  std::vector<std::string> names;
  auto listed = golden.metadata.find("layers");
  if (listed != golden.metadata.end()) {
    nlohmann::json j = nlohmann::json::parse(listed->second, nullptr, false);
    if (!j.is_array()) throw Error(golden.path + ": metadata 'layers' is not a JSON list");
    for (const auto& n : j) {
      if (!n.is_string()) throw Error(golden.path + ": metadata 'layers' holds a non-string");
      names.push_back(n.get<std::string>());
    }
  } else {
    for (const auto& t : golden.tensors)
      if (t.name != "input" && !starts_with(t.name, kTruthHiPrefix) && !starts_with(t.name, kTruthLoPrefix))
        names.push_back(t.name);
  }
  return names;
}

// The truth of one layer: hi + lo, both float32, of the golden tensor's shape.
struct Truth {
  const Tensor* hi = nullptr;
  const Tensor* lo = nullptr;
  double operator[](int64_t i) const { return static_cast<double>((*hi)[i]) + static_cast<double>((*lo)[i]); }
};

// "" when the layer's truth is there and fits `shape`, else what is wrong.
std::string find_truth(const ModelFile& golden, const std::string& layer, const Shape& shape, Truth& truth) {
  auto hi = golden.weights.find(kTruthHiPrefix + layer);
  auto lo = golden.weights.find(kTruthLoPrefix + layer);
  if (hi == golden.weights.end() || lo == golden.weights.end())
    return std::string("no float64 truth (") + kTruthHiPrefix + layer + ", " + kTruthLoPrefix + layer + ")";
  if (hi->second.shape() != shape || lo->second.shape() != shape)
    return "float64 truth of shape " + shape_to_string(hi->second.shape()) + " / " +
           shape_to_string(lo->second.shape()) + ", the layer has " + shape_to_string(shape);
  truth = Truth{&hi->second, &lo->second};
  return "";
}

}  // namespace

bool GoldenReport::pass() const {
  if (layers.empty()) return false;
  for (const auto& l : layers)
    if (!l.pass) return false;
  return true;
}

bool golden_has_float64(const ModelFile& golden) {
  auto format = golden.metadata.find("format");
  if (format != golden.metadata.end() && format->second != kGoldenFormatName)
    throw Error(golden.path + ": metadata format is '" + format->second + "', expected '" + kGoldenFormatName +
                "' (write golden files with weights_tools/reference/dump_golden.py)");
  auto version = golden.metadata.find("format_version");
  if (version != golden.metadata.end() && version->second != "1" && version->second != "2")
    throw Error(golden.path + ": golden format_version '" + version->second + "' is not one this spdinfer reads (1 to " +
                std::to_string(kGoldenFormatVersion) + "); re-dump it with this version's dump_golden.py");
  auto encoding = golden.metadata.find("float64");
  if (encoding == golden.metadata.end()) return false;
  if (encoding->second != "hi+lo")
    throw Error(golden.path + ": metadata float64 is '" + encoding->second + "', expected 'hi+lo'");
  return true;
}

GoldenReport compare_golden(const Graph& graph, const ModelFile& golden,
                            const std::function<std::string(const std::string&)>& node_for_layer,
                            const GoldenRule& rule, int threads) {
  auto input = golden.weights.find("input");
  if (input == golden.weights.end()) throw Error(golden.path + ": golden file has no 'input' tensor");
  const bool has_float64 = golden_has_float64(golden);
  const bool by_truth = rule.against == GoldenRule::Against::Float64;
  if (by_truth && !has_float64)
    throw Error(golden.path +
                ": golden file has no float64 truth; dump it with `dump_golden.py --float64`, or compare with fp32");

  GoldenReport report;
  std::vector<Truth> truths;
  std::multimap<std::string, std::size_t> by_node;
  for (const auto& name : golden_layer_names(golden)) {
    LayerComparison row;
    row.layer = name;
    Truth truth;
    auto t = golden.weights.find(name);
    if (t == golden.weights.end()) {
      row.problem = "not in the golden file";
    } else {
      row.shape = t->second.shape();
      if (has_float64) row.problem = find_truth(golden, name, row.shape, truth);
      row.has_truth = truth.hi != nullptr;
      const std::string node = node_for_layer(name);
      if (node.empty()) row.problem = "no engine node computes it";
      else if (row.problem.empty()) by_node.emplace(node, report.layers.size());
    }
    report.layers.push_back(row);
    truths.push_back(truth);
  }

  std::vector<bool> seen(report.layers.size(), false);
  RunOptions options;
  options.threads = threads;
  options.observer = [&](const Node& node, const Tensor& out, double) {
    auto range = by_node.equal_range(node.name);
    for (auto it = range.first; it != range.second; ++it) {
      LayerComparison& row = report.layers[it->second];
      const Truth& truth = truths[it->second];
      seen[it->second] = true;
      const Tensor& ref = golden.weights.at(row.layer);
      if (ref.shape() != out.shape()) {
        row.problem = "engine shape " + shape_to_string(out.shape());
        continue;
      }
      double max_err = 0, max_mag = 0, truth_mag = 0, engine_truth = 0, pytorch_truth = 0;
      bool finite = true;
      for (int64_t i = 0; i < ref.numel(); ++i) {
        const double r = ref[i], e = out[i];
        if (!std::isfinite(e) || !std::isfinite(r)) finite = false;
        max_err = std::max(max_err, std::fabs(e - r));
        max_mag = std::max(max_mag, std::fabs(r));
        if (truth.hi) {
          const double x = truth[i];
          truth_mag = std::max(truth_mag, std::fabs(x));
          engine_truth = std::max(engine_truth, std::fabs(e - x));
          pytorch_truth = std::max(pytorch_truth, std::fabs(r - x));
        }
      }
      row.max_abs_error = max_err;
      row.max_magnitude = max_mag;
      row.max_relative_error = max_mag > 0 ? max_err / max_mag : max_err;
      row.truth_magnitude = truth_mag;
      row.engine_truth_error = engine_truth;
      row.pytorch_truth_error = pytorch_truth;
      const bool within = by_truth ? engine_truth <= std::max(rule.ratio * pytorch_truth, rule.floor)
                                   : max_err <= rule.atol + rule.rtol * max_mag;
      row.pass = finite && within;
      if (!finite) row.problem = "non-finite values";
    }
  };
  try {
    graph.forward({&input->second}, options);
  } catch (const Error& e) {  // the caller, which knows the model file, names it
    throw ModelError("at input " + shape_to_string(input->second.shape()) + ": " + e.what());
  }
  for (std::size_t i = 0; i < seen.size(); ++i)
    if (!seen[i] && report.layers[i].problem.empty()) report.layers[i].problem = "node did not run";
  return report;
}

GoldenReport compare_golden(const Graph& graph, const ModelFile& golden,
                            const std::function<std::string(const std::string&)>& node_for_layer, double atol,
                            double rtol, int threads) {
  GoldenRule rule;
  rule.atol = atol, rule.rtol = rtol;
  return compare_golden(graph, golden, node_for_layer, rule, threads);
}

}  // namespace spdinfer
