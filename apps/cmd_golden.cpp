// `spdinfer golden MODEL GOLDEN`: compare every layer against PyTorch's
// activations, print a table, exit 1 when any layer is off.
#include <cstdio>

#include "apps/commands.h"
#include "apps/number_checks.h"
#include "engine/golden.h"
#include "models/model.h"

namespace spdinfer::cli {
namespace {

struct GoldenOptions {
  std::string model, golden;
  double atol = 1e-5, rtol = 1e-4;
  int threads = 1;
};

void run_golden(const GoldenOptions& o) {
  Model m = load_model(o.model);
  ModelFile golden = read_safetensors(o.golden);
  GoldenReport report = compare_golden(
      *m.graph, golden, [&](const std::string& layer) { return m.node_for_module(layer); }, o.atol, o.rtol, o.threads);
  std::printf("%-40s %-22s %12s %12s  %s\n", "layer", "shape", "max abs err", "max rel err", "result");
  int failed = 0;
  for (const auto& l : report.layers) {
    if (!l.pass) ++failed;
    std::printf("%-40s %-22s %12.3e %12.3e  %s%s%s\n", l.layer.c_str(), shape_to_string(l.shape).c_str(),
                l.max_abs_error, l.max_relative_error, l.pass ? "PASS" : "FAIL", l.problem.empty() ? "" : ": ",
                l.problem.c_str());
  }
  std::printf("%zu layers, %d failed (pass: max abs err <= %g + %g * max |golden|)\n", report.layers.size(), failed,
              o.atol, o.rtol);
  if (!report.pass()) exit_status = 1;
}

}  // namespace

void add_golden_command(CLI::App& app) {
  // Wider tolerances would pass anything: an absolute error of a million, a relative one of 100%.
  const CLI::Validator absolute = finite_range(0.0, 1e6), relative = finite_range(0.0, 1.0);
  auto opts = std::make_shared<GoldenOptions>();
  CLI::App* cmd = app.add_subcommand("golden", "Compare every layer with golden activations dumped from PyTorch");
  cmd->add_option("model", opts->model, "spdinfer model file")->required();
  cmd->add_option("golden", opts->golden, "golden file from weights_tools/dump_golden.py")->required();
  cmd->add_option("--atol", opts->atol, "absolute tolerance")->check(absolute);
  cmd->add_option("--rtol", opts->rtol, "tolerance relative to the layer's largest magnitude")
      ->check(relative);
  cmd->add_option("--threads", opts->threads, "threads")->check(CLI::Range(1, 256));
  cmd->callback([opts] { run_golden(*opts); });
}

}  // namespace spdinfer::cli
