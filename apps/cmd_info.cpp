// `spdinfer info MODEL`: what a model file holds and the graph built from it.
#include <cstdio>
#include <map>

#include "apps/commands.h"
#include "apps/terminal_text.h"
#include "apps/machine_report.h"
#include "models/model.h"

namespace spdinfer::cli {
namespace {

struct InfoOptions {
  std::string model;
  bool layers = true;
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

void run_info(const InfoOptions& o) {
  Model m = load_model(o.model);
  const Preprocess& p = m.preprocess;
  std::printf("model:        %s\n", terminal_text(m.path).c_str());
  std::printf("family:       %s\n", family_name(m.family));
  std::printf("architecture: %s\n", summary(m).c_str());
  std::printf("parameters:   %lld (stored: %zu tensors)\n", static_cast<long long>(m.graph->parameter_count()),
              m.tensors.size());
  std::printf("input:        %dx%d RGB, %s, scale %g, mean (%g, %g, %g), std (%g, %g, %g)\n", p.height, p.width,
              p.resize.c_str(), p.scale, p.mean[0], p.mean[1], p.mean[2], p.std[0], p.std[1], p.std[2]);
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
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    int64_t params = 0;
    for (const auto& w : nodes[i].weights) params += m.graph->weight(w).numel();
    std::printf("%-4zu %-34s %-18s %-24s %12lld  %s\n", i, nodes[i].name.c_str(), nodes[i].op.c_str(),
                shape_to_string(plan->node_output_shape(i)).c_str(), static_cast<long long>(params),
                plan->kernel(i).method().c_str());
  }
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto opts = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "Describe a model file: family, architecture, parameters, input, layers");
  cmd->add_option("model", opts->model, "spdinfer model file (.safetensors)")->required();
  cmd->add_flag("!--no-layers", opts->layers, "Omit the layer table");
  cmd->callback([opts] { run_info(*opts); });
}

}  // namespace spdinfer::cli
