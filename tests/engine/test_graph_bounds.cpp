// The graph's bounds on what a hostile model can make it do: nodes no output needs are dropped,
// planning stays O(n log n) in the layer count, and one forward pass may take at most the
// activation-memory budget (engine/memory_budget.h), checked from the plan before allocating.
#include <catch2/catch.hpp>

#include <chrono>
#include <random>

#include "engine/error.h"
#include "engine/graph.h"
#include "engine/memory_budget.h"
#include "engine/memory_plan.h"

using namespace spdinfer;
using Catch::Matchers::Contains;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Every pair of requests live at the same step lies in disjoint ranges of the arena.
void check_no_live_overlap(const std::vector<BufferRequest>& req, const MemoryPlan& plan) {
  std::size_t clashes = 0;
  for (std::size_t i = 0; i < req.size(); ++i)
    for (std::size_t j = i + 1; j < req.size(); ++j) {
      const bool live_together = req[i].first_step <= req[j].last_step && req[j].first_step <= req[i].last_step;
      const bool disjoint = plan.offsets[i] + req[i].floats <= plan.offsets[j] ||
                            plan.offsets[j] + req[j].floats <= plan.offsets[i];
      if (live_together && !disjoint) ++clashes;
    }
  CHECK(clashes == 0);
  for (std::size_t i = 0; i < req.size(); ++i) CHECK(plan.offsets[i] + req[i].floats <= plan.arena_floats);
}

// A chain x -> relu -> relu -> ... of `n` nodes (weightless, as a crafted model would be).
GraphDef relu_chain(std::size_t n) {
  GraphDef def;
  def.inputs = {"x"};
  for (std::size_t i = 0; i < n; ++i)
    def.nodes.push_back(Node{"r" + std::to_string(i), "relu", {}, {i ? "v" + std::to_string(i - 1) : "x"}, {},
                             {"v" + std::to_string(i)}});
  def.outputs = {"v" + std::to_string(n - 1)};
  return def;
}

// Restores the budget a test changed.
struct BudgetOverride {
  explicit BudgetOverride(std::size_t bytes) { set_memory_limit_bytes(bytes); }
  ~BudgetOverride() { set_memory_limit_bytes(kDefaultMemoryLimitBytes); }
};

}  // namespace

TEST_CASE("memory plan: beyond kGreedyPlanValues, best fit keeps live values apart and reuses memory",
          "[graph][bad_input]") {
  std::mt19937 rng(7);
  std::vector<BufferRequest> req;
  for (int step = 0; req.size() < kGreedyPlanValues + 1500; ++step) {
    const int life = std::uniform_int_distribution<int>(0, 6)(rng) == 0 ? 200 : std::uniform_int_distribution<int>(1, 4)(rng);
    req.push_back({std::uniform_int_distribution<std::size_t>(1, 5000)(rng), step, step + life});
  }
  const MemoryPlan plan = plan_memory(req, true);
  check_no_live_overlap(req, plan);
  for (std::size_t off : plan.offsets) CHECK(off % (kTensorAlignment / sizeof(float)) == 0);
  CHECK(plan.arena_floats * 10 < plan_memory(req, false).arena_floats);
}

TEST_CASE("graph: 50,000 weightless layers build and plan in well under a second each", "[graph][bad_input]") {
  const auto start = std::chrono::steady_clock::now();
  Graph g(relu_chain(kMaxGraphNodes), {});
  const auto plan = g.plan({{1, 1, 4, 4}});
  CHECK(seconds_since(start) < 10);  // was minutes: the planner was quadratic
  // A chain needs two live values at a time.
  CHECK(plan->planned_bytes() <= 2 * 16 * sizeof(float) * 2);
  Tensor x = Tensor::filled({1, 1, 4, 4}, -1.0f);
  CHECK(g.forward({&x})[0][0] == 0.0f);
}

TEST_CASE("graph: nodes that no output depends on are dropped", "[graph][bad_input]") {
  GraphDef def = relu_chain(3);
  // Three upsamplings by 64 of the output, read by nothing: 4 x 4 -> 16,384 x 16,384 (1 GiB) if run.
  std::string last = "v2";
  for (int i = 0; i < 3; ++i) {
    def.nodes.push_back(Node{"up" + std::to_string(i), "upsample_nearest", {{"scale_factor", 8}}, {last}, {},
                             {"u" + std::to_string(i)}});
    last = "u" + std::to_string(i);
  }
  const Graph g(def, {});
  REQUIRE(g.nodes().size() == 3);
  for (const Node& n : g.nodes()) CHECK(n.op == "relu");
  CHECK(g.plan({{1, 1, 4, 4}})->activation_bytes(1) < 1024);
}

TEST_CASE("graph: a forward pass over the activation-memory budget is refused before allocating",
          "[graph][bad_input]") {
  GraphDef def;
  def.inputs = {"x"};
  def.outputs = {"y"};
  def.nodes = {Node{"up", "upsample_nearest", {{"scale_factor", 64}}, {"x"}, {}, {"y"}}};
  const Graph g(def, {});
  Tensor x({1, 3, 64, 64});
  {
    // 3 x 4096 x 4096 floats: 192 MiB of output, over a budget of 64 MiB: refused while planning.
    BudgetOverride budget(64 << 20);
    const std::string e = [&] {
      try {
        g.forward({&x});
      } catch (const Error& err) {
        return std::string(err.what());
      }
      return std::string();
    }();
    CHECK_THAT(e, Contains("node 'up' (upsample_nearest) needs 192.0 MiB") && Contains("its output (1, 3, 4096, 4096)") &&
                      Contains("more than the limit of 64.0 MiB") && Contains("--memory-limit") &&
                      Contains(kMemoryLimitVariable));
  }
  {
    // Each value fits a 300 MiB budget, the pass (input, output and its returned copy) does not.
    const Graph g2(def, {});
    BudgetOverride budget(300 << 20);
    CHECK_THROWS_WITH(g2.forward({&x}), Contains("of activation memory, more than the limit of 300.0 MiB"));
  }
  BudgetOverride budget(1 << 30);
  CHECK(g.forward({&x})[0].numel() == 3 * 4096 * 4096);
}

TEST_CASE("graph: a pass whose layers write more than 32 x the budget is refused while planning",
          "[graph][bad_input]") {
  // 1,000 ReLUs over 1 MiB each write 1,000 MiB; each value and the pass fit a 16 MiB budget.
  const Graph g(relu_chain(1000), {});
  BudgetOverride budget(16 << 20);
  CHECK_THROWS_WITH(g.plan({{1, 1, 512, 512}}),
                    Contains("its layers write 1000.0 MiB in one forward pass, more than 32 x the activation-memory "
                             "limit of 16.0 MiB") && Contains("--memory-limit"));
  CHECK_NOTHROW(g.plan({{1, 1, 256, 256}}));  // 250 MiB
}

TEST_CASE("memory budget: sizes parse as the option documents them", "[graph][bad_input]") {
  CHECK(parse_memory_size("4G", "--memory-limit") == (std::size_t{4} << 30));
  CHECK(parse_memory_size("512m", "--memory-limit") == (std::size_t{512} << 20));
  CHECK(parse_memory_size("64KiB", "--memory-limit") == (std::size_t{64} << 10));
  CHECK(parse_memory_size("1000", "--memory-limit") == 1000);
  for (const char* bad : {"", "0", "G", "4X", "-1", "2000T", "99999999999999999999999"})
    CHECK_THROWS_WITH(parse_memory_size(bad, "--memory-limit"), Contains("--memory-limit '") && Contains("expected a size"));
}
