// `spdinfer bench MODEL`: latency (min, median, max), throughput, achieved
// GFLOP/s and peak memory; --per-layer shows where the time goes.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>

#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/figures.h"
#include "apps/input_size.h"
#include "apps/machine_report.h"
#include "apps/precision_option.h"
#include "engine/error.h"
#include "engine/memory_budget.h"
#include "models/model.h"

namespace spdinfer::cli {
namespace {

struct BenchOptions {
  std::string model, plot, precision;
  InputSize size;  // not given: the model's
  int batch = 1, threads = 1, runs = 20, warmup = 3;
  bool per_layer = false, json = false;
};

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux reports kilobytes
}

double physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
}

// A batch or size far beyond the machine is refused before anything is
// allocated, with the numbers, rather than dying of bad_alloc (or, under a
// sanitizer, of an allocator abort) in the middle of a run.
void check_fits_in_memory(const BenchOptions& o, const Shape& input, const ExecutionPlan& plan) {
  double input_bytes = sizeof(float);
  for (const std::int64_t d : input) input_bytes *= static_cast<double>(d);
  const double needed = input_bytes + static_cast<double>(plan.planned_bytes());
  const double available = physical_memory_bytes();
  if (available > 0 && needed > available) {
    char buf[160];
    std::snprintf(buf, sizeof buf, ": input %s needs %.1f GB for the input and activations, more than this machine's %.1f GB",
                  shape_to_string(input).c_str(), needed / 1e9, available / 1e9);
    throw Error(o.model + buf);
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

constexpr std::size_t kPlottedNodes = 25;  // bars in --plot's chart

bool names_png(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".png";
}

void run_bench(const BenchOptions& o) {
  if (!o.plot.empty() && !names_png(o.plot))
    throw CLI::ValidationError("--plot " + o.plot + ": writes a PNG; give the file a .png name");
  if (!o.plot.empty()) check_plotting(o.plot);
  Model m = load_model(o.model, precision_load_options(o.precision));
  const int h = o.size.given() ? o.size.height : m.preprocess.height;
  const int w = o.size.given() ? o.size.width : m.preprocess.width;
  if (o.size.given()) check_input_multiple(m, h, w, "--size " + o.size.text());
  const Shape input = {o.batch, 3, h, w};
  auto plan = blaming_model(m, input, [&] { return m.graph->plan({input}); });
  check_fits_in_memory(o, input, *plan);
  blaming_model(m, input, [&] {
    check_memory_budget(plan->activation_bytes(o.threads), "the forward pass at " + std::to_string(o.threads) + " threads");
  });
  Tensor x(input);
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> dist(0.0f, 1.0f);
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = dist(rng);
  const double gflop = 2.0 * plan->total_macs() / 1e9;

  std::map<std::string, double> node_ms;
  RunOptions options;
  options.threads = o.threads;
  for (int i = 0; i < o.warmup; ++i) plan->run({&x}, options);
  if (o.per_layer) options.observer = [&](const Node& n, const Tensor&, double ms) { node_ms[n.name] += ms; };
  std::vector<double> times;
  for (int i = 0; i < o.runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    plan->run({&x}, options);
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  const double med = median(times);
  const double mn = *std::min_element(times.begin(), times.end());
  const double mx = *std::max_element(times.begin(), times.end());
  const double rss = peak_rss_mb();
  if (o.json) {
    // Every run's time, so that a caller can take medians over several processes.
    nlohmann::json report = {{"model", o.model},
                                   {"shape", {o.batch, 3, h, w}},
                                   {"threads", o.threads},
                                   {"precision", m.precision()},
                                   {"runs", o.runs},
                                   {"median_ms", med},
                                   {"min_ms", mn},
                                   {"max_ms", mx},
                                   {"times_ms", times},
                                   {"images_per_s", 1000.0 * o.batch / med},
                                   {"gflop", gflop},
                                   {"gflops_per_s", gflop / (med / 1000.0)},
                                   {"planned_activation_mb", plan->planned_bytes() / 1e6},
                                   {"peak_rss_mb", rss}};
    report.update(machine_json());
    std::printf("%s\n", json_text(report).c_str());
  } else {
    std::printf("model %s, %s, input (%d, 3, %d, %d), %d threads, %d runs after %d warm-up\n", o.model.c_str(),
                m.precision(), o.batch, h, w, o.threads, o.runs, o.warmup);
    for (const auto& [label, value] : machine_lines()) std::printf("%s: %s\n", label.c_str(), value.c_str());
    std::printf("latency ms: min %.3f  median %.3f  max %.3f\n", mn, med, mx);
    std::printf("throughput: %.1f images/s, %.2f GFLOP per run, %.1f GFLOP/s\n", 1000.0 * o.batch / med, gflop,
                gflop / (med / 1000.0));
    std::printf("memory: %.1f MB planned activations, %.1f MB peak RSS\n", plan->planned_bytes() / 1e6, rss);
  }
  if (!o.per_layer) return;

  // Per-node table, slowest first: where the time goes.
  const auto& nodes = m.graph->nodes();
  std::vector<std::size_t> order(nodes.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  double total = 0;
  for (const auto& [name, ms] : node_ms) total += ms;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return node_ms[nodes[a].name] > node_ms[nodes[b].name]; });
  std::printf("\n%-34s %-16s %-22s %10s %7s %9s  %s\n", "node", "op", "output", "ms/run", "share", "GFLOP/s",
              "method");
  std::vector<TimedNode> slowest;
  for (std::size_t i : order) {
    const double ms = node_ms[nodes[i].name] / o.runs;
    const double macs = plan->kernel(i).macs();
    const double share = total > 0 ? node_ms[nodes[i].name] / total : 0.0;
    std::printf("%-34s %-16s %-22s %10.3f %6.1f%% %9.1f  %s\n", nodes[i].name.c_str(), nodes[i].op.c_str(),
                shape_to_string(plan->node_output_shape(i)).c_str(), ms, 100.0 * share,
                ms > 0 ? 2.0 * macs / 1e9 / (ms / 1000.0) : 0.0, plan->kernel(i).method().c_str());
    slowest.push_back({nodes[i].name, nodes[i].op, plan->kernel(i).method(), ms, share});
  }
  if (o.plot.empty()) return;
  char title[256];
  std::snprintf(title, sizeof title, "%s: the %zu slowest of %zu nodes, input (%d, 3, %d, %d), %d thread%s, %.2f ms per run",
                o.model.c_str(), std::min(kPlottedNodes, slowest.size()), slowest.size(), o.batch, h, w, o.threads,
                o.threads == 1 ? "" : "s", med);
  write_layer_figure(o.plot, title, slowest, kPlottedNodes);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto opts = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Time a model: latency, throughput, GFLOP/s, memory, per-layer profile");
  cmd->add_option("model", opts->model, "spdinfer model file")->required();
  add_input_size_option(cmd, opts->size, "--size", "network input size (default: the model's)");
  cmd->add_option("--batch", opts->batch, "batch size")->check(CLI::Range(1, 4096));
  cmd->add_option("--threads", opts->threads, "threads the engine uses")->check(CLI::Range(1, 256));
  cmd->add_option("--runs", opts->runs, "timed runs")->check(CLI::Range(1, 100000));
  cmd->add_option("--warmup", opts->warmup, "untimed runs first")->check(CLI::Range(0, 100000));
  CLI::Option* per_layer =
      cmd->add_flag("--per-layer", opts->per_layer, "time every node; print a table sorted by time");
  cmd->add_option("--plot", opts->plot, "with --per-layer: draw the slowest nodes as a bar chart in this PNG file")
      ->type_name("FILE.png")
      ->needs(per_layer);
  add_precision_option(cmd, opts->precision);
  cmd->add_flag("--json", opts->json, "one JSON object instead of text");
  cmd->callback([opts] { run_bench(*opts); });
}

}  // namespace spdinfer::cli
