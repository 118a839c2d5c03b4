// `spdinfer info MODEL [--no-layers] [--json]`: what a model file holds and the
// graph built from it, as text or as one JSON object with the same facts.
#include <cstdio>
#include <map>

#include "apps/commands.h"
#include "apps/image_batch.h"
#include "apps/terminal_text.h"
#include "apps/input_size.h"
#include "apps/machine_report.h"
#include "models/model.h"

namespace spdinfer::cli {
namespace {

struct InfoOptions {
  std::string model;
  bool layers = true;
  bool json = false;
};

std::string summary(const Model& m) {
  const auto& a = m.architecture;
  if (m.family == Family::kResNetSpd) {
    std::string blocks;
    for (const auto& b : a.value("stage_blocks", nlohmann::json::array()))
      blocks += (blocks.empty() ? "" : ",") + json_text(b);
    return "ResNet-SPD, " + a.value("block", std::string("?")) + " blocks [" + blocks + "], stem " +
           json_text(a.value("stem_channels", nlohmann::json())) + " channels, SPD " + (a.value("spd", true) ? "on" : "off");
  }
  int spd = 0, layers = 0;
  for (const char* section : {"backbone", "head"})
    for (const auto& row : a.value(section, nlohmann::json::array())) {
      ++layers;
      if (row.size() == 4 && row[2] == "space_to_depth") ++spd;
    }
  char buf[160];
  std::snprintf(buf, sizeof buf, "YOLOv5 family, %d layers (%d space_to_depth), depth %.2f, width %.2f", layers, spd,
                a.value("depth_multiple", 0.0), a.value("width_multiple", 0.0));
  return buf;
}

int64_t node_parameters(const Model& m, const Node& node) {
  int64_t params = 0;
  for (const auto& w : node.weights) params += m.graph->weight(w).numel();
  return params;
}

// Stored as float: rounded, so JSON shows 0.5071 rather than 0.507099986076355.
template <class Values>
nlohmann::json channels(const Values& v) {
  return {round_significant(v[0], 6), round_significant(v[1], 6), round_significant(v[2], 6)};
}

// The keys are documented in README.md ("Using it") and kept stable.
nlohmann::json info_json(const Model& m, const InfoOptions& o) {
  const Preprocess& p = m.preprocess;
  const auto metadata = [&](const char* key) {
    return m.metadata.count(key) ? nlohmann::json(m.metadata.at(key)) : nlohmann::json(nullptr);
  };
  nlohmann::json j = {{"model", m.path},
                      {"family", family_name(m.family)},
                      {"architecture", summary(m)},
                      {"parameters", m.graph->parameter_count()},
                      {"stored_tensors", m.tensors.size()},
                      {"precision", m.precision()},
                      {"int8_convolutions", m.quantized_nodes.size()},
                      {"input",
                       {{"height", p.height},
                        {"width", p.width},
                        {"multiple", input_multiple(m)},
                        {"resize", p.resize},
                        {"scale", round_significant(p.scale, 6)},
                        {"mean", channels(p.mean)},
                        {"std", channels(p.std)}}},
                      {"classes", m.class_names},
                      {"source", {{"name", metadata("source_name")}, {"sha256", metadata("source_sha256")}}},
                      {"machine", machine_json()}};
  if (!o.layers) return j;
  auto plan = m.graph->plan({{1, 3, p.height, p.width}});
  nlohmann::json nodes = nlohmann::json::array();
  const auto& graph_nodes = m.graph->nodes();
  for (std::size_t i = 0; i < graph_nodes.size(); ++i)
    nodes.push_back({{"name", graph_nodes[i].name},
                     {"op", graph_nodes[i].op},
                     {"output", plan->node_output_shape(i)},
                     {"parameters", node_parameters(m, graph_nodes[i])},
                     {"method", plan->kernel(i).method()}});
  j["layers"] = {{"input", {1, 3, p.height, p.width}},
                 {"activation_mb", round_decimals(plan->planned_bytes() / 1e6, 3)},
                 {"activation_mb_without_reuse", round_decimals(plan->unshared_bytes() / 1e6, 3)},
                 {"gflop", round_significant(2 * plan->total_macs() / 1e9, 6)},
                 {"nodes", nodes}};
  return j;
}

// "fp32", or for an int8 file "int8: 57 of 60 convolutions (kl, 200 images)".
std::string precision_text(const Model& m) {
  if (!m.int8_file) return "fp32";
  int convs = 0;
  for (const Node& n : m.graph->nodes()) convs += n.op == "conv2d";
  std::string text = std::string(m.precision()) + (m.runs_int8 ? ": " : " (int8 weights in float): ") +
                     std::to_string(m.quantized_nodes.size()) + " of " + std::to_string(convs) +
                     " convolutions int8";
  const nlohmann::json q = nlohmann::json::parse(m.metadata.at("quantization"), nullptr, false);
  if (q.is_object() && q.value("method", nlohmann::json()).is_string())
    text += " (" + q["method"].get<std::string>() + ", " + std::to_string(q.value("images", 0)) +
            (q.value("images", 0) == 1 ? " image)" : " images)");
  return text;
}

void print_info(const Model& m, const InfoOptions& o) {
  const Preprocess& p = m.preprocess;
  std::printf("model:        %s\n", terminal_text(m.path).c_str());
  std::printf("family:       %s\n", family_name(m.family));
  std::printf("architecture: %s\n", summary(m).c_str());
  std::printf("parameters:   %lld (stored: %zu tensors)\n", static_cast<long long>(m.graph->parameter_count()),
              m.tensors.size());
  std::printf("precision:    %s\n", precision_text(m).c_str());
  std::printf("input:        %dx%d RGB, %s, scale %g, mean (%g, %g, %g), std (%g, %g, %g); sides multiples of %d\n",
              p.height, p.width, p.resize.c_str(), p.scale, p.mean[0], p.mean[1], p.mean[2], p.std[0], p.std[1],
              p.std[2], input_multiple(m));
  std::string classes;
  for (std::size_t i = 0; i < m.class_names.size() && i < 8; ++i) classes += (i ? ", " : "") + m.class_names[i];
  if (m.class_names.size() > 8) classes += ", ...";
  std::printf("classes:      %zu (%s)\n", m.class_names.size(), terminal_text(classes).c_str());
  if (m.metadata.count("source_name"))
    std::printf("source:       %s (sha256 %s)\n", terminal_text(m.metadata.at("source_name")).c_str(),
                m.metadata.count("source_sha256") ? m.metadata.at("source_sha256").substr(0, 16).c_str() : "?");
  for (const auto& [label, value] : machine_lines())
    std::printf("%-14s%s\n", (label + ":").c_str(), value.c_str());
  if (!o.layers) return;

  auto plan = m.graph->plan({{1, 3, p.height, p.width}});
  std::printf("\nlayers at input (1, 3, %d, %d): planned activation memory %.1f MB (%.1f MB without reuse), %.2f GFLOP\n",
              p.height, p.width, plan->planned_bytes() / 1e6, plan->unshared_bytes() / 1e6, 2 * plan->total_macs() / 1e9);
  std::printf("%-4s %-34s %-18s %-24s %12s  %s\n", "#", "node", "op", "output", "params", "method");
  const auto& nodes = m.graph->nodes();
  for (std::size_t i = 0; i < nodes.size(); ++i)
    std::printf("%-4zu %-34s %-18s %-24s %12lld  %s\n", i, nodes[i].name.c_str(), nodes[i].op.c_str(),
                shape_to_string(plan->node_output_shape(i)).c_str(),
                static_cast<long long>(node_parameters(m, nodes[i])), plan->kernel(i).method().c_str());
}

void run_info(const InfoOptions& o) {
  const Model m = load_model(o.model);
  if (o.json) std::printf("%s\n", json_text(info_json(m, o)).c_str());
  else print_info(m, o);
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto opts = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "Describe a model file: family, architecture, parameters, input, layers");
  cmd->add_option("model", opts->model, "spdinfer model file (.safetensors)")->required();
  cmd->add_flag("!--no-layers", opts->layers, "omit the layer table");
  cmd->add_flag("--json", opts->json,
                "one JSON object instead of text: model, family, architecture, parameters, stored_tensors, precision "
                "(int8 or fp32), int8_convolutions, input "
                "{height, width, multiple, resize, scale, mean, std}, classes, source {name, sha256}, machine, "
                "layers {input, activation_mb, activation_mb_without_reuse, gflop, nodes [{name, op, output, "
                "parameters, method}]} (no layers with --no-layers)");
  cmd->callback([opts] { run_info(*opts); });
}

}  // namespace spdinfer::cli
