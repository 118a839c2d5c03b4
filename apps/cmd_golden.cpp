// `spdinfer golden MODEL GOLDEN [--json]`: compare every layer against
// PyTorch's activations (and, when the file has it, the float64 truth), print
// a table (or one JSON object), exit 1 when any layer is off.
#include <cmath>
#include <cstdio>

#include "apps/commands.h"
#include "apps/input_size.h"
#include "apps/number_checks.h"
#include "engine/golden.h"
#include "models/model.h"

namespace spdinfer::cli {
namespace {

struct GoldenOptions {
  std::string model, golden;
  GoldenRule rule;
  bool float64 = false, fp32 = false, json = false;
  int threads = 1;
};

double relative(double error, double magnitude) { return magnitude > 0 ? error / magnitude : error; }

// spdinfer's error over PyTorch fp32's, both against the truth ("-" when PyTorch's is 0).
std::string ratio_text(const LayerComparison& l) {
  if (l.pytorch_truth_error <= 0) return l.engine_truth_error <= 0 ? "1.00" : "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", l.engine_truth_error / l.pytorch_truth_error);
  return buf;
}

const char* result_text(const LayerComparison& l) { return l.pass ? "PASS" : "FAIL"; }
const char* problem_sep(const LayerComparison& l) { return l.problem.empty() ? "" : ": "; }

void print_float32_table(const GoldenReport& report) {
  std::printf("%-40s %-22s %12s %12s  %s\n", "layer", "shape", "max abs err", "max rel err", "result");
  for (const auto& l : report.layers)
    std::printf("%-40s %-22s %12.3e %12.3e  %s%s%s\n", l.layer.c_str(), shape_to_string(l.shape).c_str(),
                l.max_abs_error, l.max_relative_error, result_text(l), problem_sep(l), l.problem.c_str());
}

// Errors relative to the layer's largest |truth|, so layers of any magnitude read alike.
void print_float64_table(const GoldenReport& report) {
  std::printf("%-40s %-22s %10s %12s %12s %7s %12s  %s\n", "layer", "shape", "max |f64|", "spdinfer-f64",
              "PyTorch-f64", "ratio", "spdinfer-fp32", "result");
  for (const auto& l : report.layers)
    std::printf("%-40s %-22s %10.3e %12.3e %12.3e %7s %12.3e  %s%s%s\n", l.layer.c_str(),
                shape_to_string(l.shape).c_str(), l.truth_magnitude,
                relative(l.engine_truth_error, l.truth_magnitude), relative(l.pytorch_truth_error, l.truth_magnitude),
                ratio_text(l).c_str(), relative(l.max_abs_error, l.truth_magnitude), result_text(l), problem_sep(l),
                l.problem.c_str());
}

// null for what JSON cannot hold (a layer that went non-finite).
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// The keys are documented in the command's help and kept stable.
nlohmann::json golden_json(const GoldenOptions& o, const GoldenReport& report, const GoldenRule& rule, bool by_truth,
                           int failed) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : report.layers) {
    nlohmann::json layer = {{"layer", l.layer},
                            {"shape", l.shape},
                            {"max_abs_error", number(l.max_abs_error)},
                            {"max_relative_error", number(l.max_relative_error)},
                            {"pass", l.pass},
                            {"problem", l.problem}};
    if (l.has_truth)
      layer["float64"] = {{"max_magnitude", number(l.truth_magnitude)},
                          {"spdinfer_error", number(l.engine_truth_error)},
                          {"pytorch_fp32_error", number(l.pytorch_truth_error)}};
    layers.push_back(layer);
  }
  nlohmann::json thresholds = by_truth ? nlohmann::json{{"ratio", rule.ratio}, {"floor", rule.floor}}
                                       : nlohmann::json{{"atol", rule.atol}, {"rtol", rule.rtol}};
  return {{"model", o.model},
          {"golden", o.golden},
          {"rule", by_truth ? "float64" : "fp32"},
          {"thresholds", thresholds},
          {"layers", layers},
          {"failed", failed},
          {"pass", report.pass()}};
}

void print_summary(const GoldenReport& report, const GoldenRule& rule, bool by_truth, int failed) {
  if (by_truth) {
    print_float64_table(report);
    std::printf("%zu layers, %d failed (pass: max |spdinfer - f64| <= max(%g x max |PyTorch fp32 - f64|, %g); "
                "errors relative to max |f64|)\n",
                report.layers.size(), failed, rule.ratio, rule.floor);
    if (!report.layers.empty() && report.layers.back().has_truth) {
      const LayerComparison& last = report.layers.back();
      std::printf("final output %s: spdinfer %.3e, PyTorch fp32 %.3e from the float64 truth (ratio %s)\n",
                  last.layer.c_str(), relative(last.engine_truth_error, last.truth_magnitude),
                  relative(last.pytorch_truth_error, last.truth_magnitude), ratio_text(last).c_str());
    }
  } else {
    print_float32_table(report);
    std::printf("%zu layers, %d failed (pass: max abs err <= %g + %g * max |golden|)\n", report.layers.size(), failed,
                rule.atol, rule.rtol);
  }
}

void run_golden(const GoldenOptions& o) {
  Model m = load_model(o.model);
  ModelFile golden = read_safetensors(o.golden);
  const auto input = golden.weights.find("input");
  if (input != golden.weights.end()) check_input_tensor(m, input->second, o.golden);
  GoldenRule rule = o.rule;
  const bool by_truth = o.float64 || (!o.fp32 && golden_has_float64(golden));
  rule.against = by_truth ? GoldenRule::Against::Float64 : GoldenRule::Against::Float32;
  GoldenReport report;
  try {
    report = compare_golden(*m.graph, golden, [&](const std::string& layer) { return m.node_for_module(layer); },
                            rule, o.threads);
  } catch (const ModelError& e) {  // the model could not run the golden input: blame the model
    throw ModelError(o.model + ": " + e.what());
  }
  int failed = 0;
  for (const auto& l : report.layers) failed += l.pass ? 0 : 1;
  if (o.json) std::printf("%s\n", json_text(golden_json(o, report, rule, by_truth, failed)).c_str());
  else print_summary(report, rule, by_truth, failed);
  if (!report.pass()) exit_status = 1;
}

}  // namespace

void add_golden_command(CLI::App& app) {
  // Wider tolerances would pass anything: an absolute error of a million, a relative one of 100%.
  const CLI::Validator absolute = finite_range(0.0, 1e6), relative = finite_range(0.0, 1.0);
  auto opts = std::make_shared<GoldenOptions>();
  CLI::App* cmd = app.add_subcommand("golden", "Compare every layer with golden activations dumped from PyTorch");
  cmd->add_option("model", opts->model, "spdinfer model file")->required();
  cmd->add_option("golden", opts->golden, "golden file from weights_tools/reference/dump_golden.py")->required();
  auto* f64 = cmd->add_flag("--float64", opts->float64,
                            "judge by the float64 truth (the default when the golden file has it; "
                            "dump_golden.py --float64 writes it)");
  cmd->add_flag("--fp32", opts->fp32, "judge by PyTorch's fp32 outputs (--atol, --rtol) even when the file has the truth")
      ->excludes(f64);
  cmd->add_option("--ratio", opts->rule.ratio,
                  "float64 rule: how many times PyTorch fp32's error from the truth spdinfer may have")
      ->check(finite_range(1.0, 1e6));
  cmd->add_option("--floor", opts->rule.floor,
                  "float64 rule: an absolute error that always passes, for layers PyTorch gets (nearly) exact")
      ->check(absolute);
  cmd->add_option("--atol", opts->rule.atol, "fp32 rule: absolute tolerance")->check(absolute);
  cmd->add_option("--rtol", opts->rule.rtol, "fp32 rule: tolerance relative to the layer's largest magnitude")
      ->check(relative);
  cmd->add_option("--threads", opts->threads, "threads the engine uses")->check(CLI::Range(1, 256));
  cmd->add_flag("--json", opts->json,
                "one JSON object instead of the table: model, golden, rule (float64 or fp32), thresholds "
                "({ratio, floor} or {atol, rtol}), layers [{layer, shape, max_abs_error, max_relative_error, pass, "
                "problem, float64 {max_magnitude, spdinfer_error, pytorch_fp32_error} when the file has the "
                "truth}], failed, pass; absolute errors, null when not finite");
  cmd->footer(
      "Rules (a layer fails by the one in use, and on non-finite values):\n"
      "  float64: max |spdinfer - f64| > max(RATIO x max |PyTorch fp32 - f64|, FLOOR), where f64 is the same\n"
      "           model run in float64 from the same weights and input: spdinfer may lose at most RATIO times\n"
      "           the precision PyTorch fp32 loses, so rounding passes and a real bug fails.\n"
      "  fp32:    max |spdinfer - PyTorch fp32| > ATOL + RTOL x max |PyTorch fp32|.\n"
      "The float64 table prints errors relative to the layer's max |f64| and their ratio (spdinfer over\n"
      "PyTorch fp32). See docs/golden-format.md.");
  cmd->callback([opts] { run_golden(*opts); });
}

}  // namespace spdinfer::cli
