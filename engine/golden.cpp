// Golden comparison. Layers are compared inside the observer, while the
// node's output is still in the arena, so no activation is kept longer.
#include "engine/golden.h"

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace spdinfer {

bool GoldenReport::pass() const {
  if (layers.empty()) return false;
  for (const auto& l : layers)
    if (!l.pass) return false;
  return true;
}

GoldenReport compare_golden(const Graph& graph, const ModelFile& golden,
                            const std::function<std::string(const std::string&)>& node_for_layer, double atol,
                            double rtol, int threads) {
  auto input = golden.weights.find("input");
  if (input == golden.weights.end()) throw Error(golden.path + ": golden file has no 'input' tensor");

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
      if (t.name != "input") names.push_back(t.name);
  }

  GoldenReport report;
  std::multimap<std::string, std::size_t> by_node;
  for (const auto& name : names) {
    LayerComparison row;
    row.layer = name;
    auto t = golden.weights.find(name);
    if (t == golden.weights.end()) {
      row.problem = "not in the golden file";
    } else {
      row.shape = t->second.shape();
      const std::string node = node_for_layer(name);
      if (node.empty()) row.problem = "no engine node computes it";
      else by_node.emplace(node, report.layers.size());
    }
    if (!row.problem.empty()) row.pass = false;
    report.layers.push_back(row);
  }

  std::vector<bool> seen(report.layers.size(), false);
  RunOptions options;
  options.threads = threads;
  options.observer = [&](const Node& node, const Tensor& out, double) {
    auto range = by_node.equal_range(node.name);
    for (auto it = range.first; it != range.second; ++it) {
      LayerComparison& row = report.layers[it->second];
      seen[it->second] = true;
      const Tensor& ref = golden.weights.at(row.layer);
      if (ref.shape() != out.shape()) {
        row.problem = "engine shape " + shape_to_string(out.shape());
        continue;
      }
      double max_err = 0, max_mag = 0;
      bool finite = true;
      for (int64_t i = 0; i < ref.numel(); ++i) {
        const double r = ref[i], e = out[i];
        if (!std::isfinite(e) || !std::isfinite(r)) finite = false;
        max_err = std::max(max_err, std::fabs(e - r));
        max_mag = std::max(max_mag, std::fabs(r));
      }
      row.max_abs_error = max_err;
      row.max_magnitude = max_mag;
      row.max_relative_error = max_mag > 0 ? max_err / max_mag : max_err;
      row.pass = finite && max_err <= atol + rtol * max_mag;
      if (!finite) row.problem = "non-finite values";
    }
  };
  graph.forward({&input->second}, options);
  for (std::size_t i = 0; i < seen.size(); ++i)
    if (!seen[i] && report.layers[i].problem.empty()) report.layers[i].problem = "node did not run";
  return report;
}

}  // namespace spdinfer
