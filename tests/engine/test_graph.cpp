// Graph tests: validation errors, shape inference, the memory plan, and
// hand-built blocks (residual, SPD, C3-like with concat) against the same
// computation written with the reference ops, with and without buffer reuse.
#include <catch2/catch.hpp>
#include <map>
#include <thread>

#include "engine/error.h"
#include "engine/graph.h"
#include "engine/memory_plan.h"
#include "engine/ops/add.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/concat.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/conv2d_int8.h"
#include "engine/ops/space_to_depth.h"
#include "test_util.h"

using namespace spdinfer;
using spdinfer::testing::compare_tensors;
using spdinfer::testing::random_tensor;

namespace {

Node conv_node(const std::string& name, const std::string& in, const std::string& out, int stride, int pad,
               const std::string& act, bool bias = true) {
  Node n{name, "conv2d", {{"stride", stride}, {"padding", pad}, {"activation", act}}, {in}, {name + ".weight"}, {out}};
  if (bias) n.weights.push_back(name + ".bias");
  return n;
}

void add_conv_weights(WeightStore& w, const std::string& name, int64_t out, int64_t in, int k, std::uint32_t seed) {
  w.emplace(name + ".weight", random_tensor({out, in, k, k}, seed, -0.3f, 0.3f));
  w.emplace(name + ".bias", random_tensor({out}, seed + 1000, -0.1f, 0.1f));
}

Tensor ref_conv(const Tensor& x, const WeightStore& w, const std::string& name, int stride, int pad, Activation a) {
  Conv2dParams p;
  p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  p.activation = a;
  const Tensor& weight = w.at(name + ".weight");
  Tensor out(conv2d_output_shape(x.shape(), weight.shape(), p));
  conv2d_reference(x, weight, &w.at(name + ".bias"), p, out);
  return out;
}

Tensor ref_add(const Tensor& a, const Tensor& b, Activation act) {
  Tensor out(a.shape());
  add_reference(a, b, AddParams{act}, out);
  return out;
}

Tensor run_single(const Graph& g, const Tensor& x, int threads = 1) {
  auto outs = g.forward({&x}, RunOptions{threads, {}});
  REQUIRE(outs.size() == 1);
  return std::move(outs[0]);
}

// ReLU(conv(ReLU(conv(x))) + x): a ResNet basic block without BN.
GraphDef residual_block_def() {
  GraphDef def;
  def.inputs = {"x"};
  def.outputs = {"y"};
  def.nodes = {conv_node("c1", "x", "h1", 1, 1, "relu"), conv_node("c2", "h1", "h2", 1, 1, "none"),
               Node{"join", "add", {{"activation", "relu"}}, {"h2", "x"}, {}, {"y"}}};
  return def;
}

}  // namespace

TEST_CASE("graph: residual block equals the reference ops, with and without buffer reuse", "[graph]") {
  const bool reuse = GENERATE(true, false);
  const int threads = GENERATE(1, 2);
  CAPTURE(reuse, threads);
  WeightStore w;
  add_conv_weights(w, "c1", 6, 6, 3, 1);
  add_conv_weights(w, "c2", 6, 6, 3, 2);
  Tensor x = random_tensor({3, 6, 9, 7}, 7);
  Tensor expected = ref_add(ref_conv(ref_conv(x, w, "c1", 1, 1, Activation::ReLU), w, "c2", 1, 1, Activation::None),
                            x, Activation::ReLU);
  Graph g(residual_block_def(), std::move(w), builtin_ops(), reuse);
  Tensor y = run_single(g, x, threads);
  INFO(compare_tensors(y, expected, 1e-5f, 1e-4f));
  CHECK(compare_tensors(y, expected, 1e-5f, 1e-4f).empty());
}

TEST_CASE("graph: SPD block (conv, space_to_depth + BN + ReLU, 1x1 conv) equals the reference ops", "[graph]") {
  const bool reuse = GENERATE(true, false);
  CAPTURE(reuse);
  WeightStore w;
  add_conv_weights(w, "conv", 5, 3, 3, 11);
  add_conv_weights(w, "proj", 7, 20, 1, 12);
  w.emplace("bn.scale", random_tensor({20}, 13, 0.5f, 1.5f));
  w.emplace("bn.shift", random_tensor({20}, 14, -0.5f, 0.5f));
  GraphDef def;
  def.inputs = {"x"};
  def.outputs = {"y"};
  def.nodes = {conv_node("conv", "x", "a", 1, 1, "none"),
               Node{"spd", "space_to_depth", {{"activation", "relu"}}, {"a"}, {"bn.scale", "bn.shift"}, {"b"}},
               conv_node("proj", "b", "y", 1, 0, "silu")};
  Tensor x = random_tensor({2, 3, 10, 6}, 15);

  Tensor a = ref_conv(x, w, "conv", 1, 1, Activation::None);
  SpaceToDepthParams sp;
  sp.scale = w.at("bn.scale").data();
  sp.shift = w.at("bn.shift").data();
  sp.activation = Activation::ReLU;
  Tensor b(space_to_depth_output_shape(a.shape(), sp));
  space_to_depth_reference(a, sp, b);
  Tensor expected = ref_conv(b, w, "proj", 1, 0, Activation::SiLU);

  Graph g(std::move(def), std::move(w), builtin_ops(), reuse);
  Tensor y = run_single(g, x);
  REQUIRE(y.shape() == Shape{2, 7, 5, 3});
  CHECK(compare_tensors(y, expected, 1e-5f, 1e-4f).empty());
}

TEST_CASE("graph: C3-like block with concat equals the reference ops", "[graph]") {
  const bool reuse = GENERATE(true, false);
  CAPTURE(reuse);
  WeightStore w;
  add_conv_weights(w, "cv1", 4, 8, 1, 21);
  add_conv_weights(w, "cv2", 4, 8, 1, 22);
  add_conv_weights(w, "m.cv1", 4, 4, 1, 23);
  add_conv_weights(w, "m.cv2", 4, 4, 3, 24);
  add_conv_weights(w, "cv3", 8, 8, 1, 25);
  GraphDef def;
  def.inputs = {"x"};
  def.outputs = {"y"};
  // Deliberately out of order: the graph sorts nodes itself.
  def.nodes = {conv_node("cv3", "cat", "y", 1, 0, "silu"),
               Node{"cat", "concat", {{"axis", 1}}, {"m", "b"}, {}, {"cat"}},
               conv_node("cv1", "x", "a", 1, 0, "silu"),
               conv_node("m.cv1", "a", "m1", 1, 0, "silu"),
               conv_node("m.cv2", "m1", "m2", 1, 1, "silu"),
               Node{"m.add", "add", {}, {"a", "m2"}, {}, {"m"}},
               conv_node("cv2", "x", "b", 1, 0, "silu")};
  Tensor x = random_tensor({1, 8, 13, 11}, 26);

  Tensor a = ref_conv(x, w, "cv1", 1, 0, Activation::SiLU);
  Tensor m2 = ref_conv(ref_conv(a, w, "m.cv1", 1, 0, Activation::SiLU), w, "m.cv2", 1, 1, Activation::SiLU);
  Tensor m = ref_add(a, m2, Activation::None);
  Tensor b = ref_conv(x, w, "cv2", 1, 0, Activation::SiLU);
  Tensor cat(concat_output_shape({m.shape(), b.shape()}));
  concat_reference({&m, &b}, ConcatParams{}, cat);
  Tensor expected = ref_conv(cat, w, "cv3", 1, 0, Activation::SiLU);

  Graph g(std::move(def), std::move(w), builtin_ops(), reuse);
  CHECK(g.nodes().front().name == "cv1");
  Tensor y = run_single(g, x);
  CHECK(compare_tensors(y, expected, 1e-5f, 1e-4f).empty());
  auto plan = g.plan({x.shape()});
  if (reuse) CHECK(plan->planned_bytes() < plan->unshared_bytes());
  else CHECK(plan->planned_bytes() >= plan->unshared_bytes());
}

TEST_CASE("graph: a batch-1 concat's inputs are written where its output keeps them; results unchanged", "[graph]") {
  const int64_t N = GENERATE(1, 2);
  const auto [H, W] = GENERATE(table<int64_t, int64_t>({{16, 16}, {13, 11}}));  // 13 x 11: off 64-byte steps
  CAPTURE(N, H, W);
  const auto weights = [] {
    WeightStore w;
    add_conv_weights(w, "cv1", 4, 8, 1, 31);
    add_conv_weights(w, "cv2", 4, 8, 3, 32);
    add_conv_weights(w, "cv3", 6, 8, 1, 33);
    add_conv_weights(w, "cv4", 5, 12, 3, 34);
    return w;
  };
  GraphDef def;
  def.inputs = {"x"};
  def.outputs = {"y1", "y2", "a"};
  // cat1 can hold a and b; cat2 cannot hold b (cat1 does) nor the graph's input x, so it copies.
  def.nodes = {conv_node("cv1", "x", "a", 1, 0, "silu"), conv_node("cv2", "x", "b", 1, 1, "silu"),
               Node{"cat1", "concat", {{"axis", 1}}, {"a", "b"}, {}, {"c1"}},
               Node{"cat2", "concat", {{"axis", -3}}, {"b", "x"}, {}, {"c2"}},
               conv_node("cv3", "c1", "y1", 1, 0, "none"), conv_node("cv4", "c2", "y2", 1, 1, "relu")};
  Graph unshared(def, weights(), builtin_ops(), false);
  Graph g(std::move(def), weights());
  const Tensor x = random_tensor({N, 8, H, W}, 35);
  std::map<std::string, const float*> where;
  RunOptions options;
  options.observer = [&](const Node& node, const Tensor& out, double) { where[node.name] = out.data(); };
  const std::vector<Tensor> got = g.forward({&x}, options);
  const std::vector<Tensor> want = unshared.forward({&x}, RunOptions{});
  REQUIRE(got.size() == 3);
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(compare_tensors(got[i], want[i], 0.0f, 0.0f).empty());
  const bool in_place = N == 1 && H * W % 16 == 0;
  CHECK((where["cv1"] == where["cat1"]) == in_place);
  CHECK((where["cv2"] == where["cat1"] + 4 * H * W) == in_place);
  CHECK(where["cv2"] != where["cat2"]);
}

TEST_CASE("graph: validation errors name the node and the problem", "[graph]") {
  WeightStore w;
  add_conv_weights(w, "c1", 6, 6, 3, 1);
  add_conv_weights(w, "c2", 6, 6, 3, 2);
  auto build = [&](GraphDef def) {
    WeightStore copy;
    for (const auto& [k, v] : w) copy.emplace(k, v.clone());
    Graph g(std::move(def), std::move(copy));
  };
  GraphDef ok = residual_block_def();
  REQUIRE_NOTHROW(build(ok));

  GraphDef unknown = ok;
  unknown.nodes[2].op = "fancy_add";
  CHECK_THROWS_WITH(build(unknown), Catch::Contains("node 'join'") && Catch::Contains("unknown op 'fancy_add'"));

  GraphDef dangling = ok;
  dangling.nodes[1].inputs = {"nowhere"};
  CHECK_THROWS_WITH(build(dangling), Catch::Contains("node 'c2'") && Catch::Contains("'nowhere'"));

  GraphDef cycle = ok;
  cycle.nodes[0].inputs = {"h2"};  // c1 reads c2, which reads c1
  CHECK_THROWS_WITH(build(cycle), Catch::Contains("cycle"));

  GraphDef arity = ok;
  arity.nodes[2].inputs = {"h2"};
  CHECK_THROWS_WITH(build(arity), Catch::Contains("node 'join' (add) takes 2 inputs, got 1"));

  GraphDef missing_weight = ok;
  missing_weight.nodes[0].weights[0] = "nope.weight";
  CHECK_THROWS_WITH(build(missing_weight), Catch::Contains("weight 'nope.weight' is missing"));

  GraphDef twice = ok;
  twice.nodes[1].outputs = {"h1"};
  CHECK_THROWS_WITH(build(twice), Catch::Contains("produced twice"));

  GraphDef no_output = ok;
  no_output.outputs = {"zz"};
  CHECK_THROWS_WITH(build(no_output), Catch::Contains("output 'zz'"));
}

TEST_CASE("graph: shape errors are found before running and name the node", "[graph]") {
  WeightStore w;
  add_conv_weights(w, "c1", 6, 6, 3, 1);
  add_conv_weights(w, "c2", 6, 6, 3, 2);
  Graph g(residual_block_def(), std::move(w));
  CHECK_THROWS_WITH(g.plan({{1, 5, 8, 8}}), Catch::Contains("node 'c1' (conv2d)"));
  CHECK_THROWS_WITH(g.plan({{1, 6, 8}}), Catch::Contains("node 'c1' (conv2d)"));

  GraphDef def;
  def.inputs = {"x"};
  def.outputs = {"y"};
  def.nodes = {Node{"spd", "space_to_depth", {}, {"x"}, {}, {"y"}}};
  Graph spd(std::move(def), {});
  CHECK_THROWS_WITH(spd.plan({{1, 3, 7, 8}}), Catch::Contains("node 'spd'") && Catch::Contains("even"));
  CHECK(spd.plan({{1, 3, 6, 8}})->value_shape("y") == Shape{1, 12, 3, 4});
}

TEST_CASE("graph: observer sees every node once, in order, with its output", "[graph]") {
  WeightStore w;
  add_conv_weights(w, "c1", 6, 6, 3, 1);
  add_conv_weights(w, "c2", 6, 6, 3, 2);
  Graph g(residual_block_def(), std::move(w));
  Tensor x = random_tensor({1, 6, 5, 5}, 3);
  std::vector<std::string> seen;
  RunOptions options;
  options.observer = [&](const Node& node, const Tensor& out, double ms) {
    seen.push_back(node.name);
    CHECK(out.shape() == Shape{1, 6, 5, 5});
    CHECK(ms >= 0.0);
  };
  g.forward({&x}, options);
  CHECK(seen == std::vector<std::string>{"c1", "c2", "join"});
}

TEST_CASE("graph: one graph run from 4 threads at once gives identical results", "[graph]") {
  WeightStore w;
  add_conv_weights(w, "c1", 6, 6, 3, 1);
  add_conv_weights(w, "c2", 6, 6, 3, 2);
  const Graph g(residual_block_def(), std::move(w));
  Tensor x = random_tensor({2, 6, 17, 15}, 4);
  Tensor expected = run_single(g, x);
  std::vector<Tensor> results(4);
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t)
    pool.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep) results[t] = run_single(g, x, 1 + t % 2);
    });
  for (auto& th : pool) th.join();
  for (const Tensor& r : results) CHECK(compare_tensors(r, expected, 0, 0).empty());
}

TEST_CASE("graph: plans of only the most recent input shapes stay cached; a dropped one is rebuilt", "[graph]") {
  WeightStore w;
  add_conv_weights(w, "c1", 6, 6, 3, 1);
  add_conv_weights(w, "c2", 6, 6, 3, 2);
  const Graph g(residual_block_def(), std::move(w));
  // Images of ever new sizes (photos letterboxed to their aspect ratio): the cache stays bounded.
  std::vector<Tensor> inputs, first_results;
  for (int64_t h = 5; h < 5 + 3 * static_cast<int64_t>(Graph::kMaxCachedPlans); ++h) {
    inputs.push_back(random_tensor({1, 6, h, 7}, static_cast<std::uint32_t>(h)));
    first_results.push_back(run_single(g, inputs.back()));
    CHECK(g.cached_plan_count() <= Graph::kMaxCachedPlans);
  }
  CHECK(g.cached_plan_count() == Graph::kMaxCachedPlans);
  // The first shape's plan was dropped long ago: rebuilt, it computes the same bits.
  CHECK(compare_tensors(run_single(g, inputs.front()), first_results.front(), 0, 0).empty());
  // A plan a caller still holds outlives its eviction and keeps working.
  auto held = g.plan({inputs[1].shape()});
  for (std::size_t i = 2; i < 2 + Graph::kMaxCachedPlans; ++i) run_single(g, inputs[i]);
  auto outs = held->run({&inputs[1]}, RunOptions{1, {}});
  REQUIRE(outs.size() == 1);
  CHECK(compare_tensors(outs[0], first_results[1], 0, 0).empty());
  // Least recently used goes first: of the cached shapes 2..5, touching 2 makes 3 the one a new
  // shape drops (the same plan object comes back for 2, a new one for 3).
  auto touched = g.plan({inputs[2].shape()});
  auto third = g.plan({inputs[3].shape()});
  g.plan({inputs[4].shape()}), g.plan({inputs[5].shape()}), g.plan({inputs[2].shape()});
  run_single(g, inputs[6]);
  CHECK(g.plan({inputs[2].shape()}) == touched);
  CHECK(g.plan({inputs[3].shape()}) != third);
}

TEST_CASE("graph: the plans of every input size share a node's prepared weights (Winograd, int8)", "[graph]") {
  // c1: 3x3, 64 -> 64 channels, Winograd at these sizes; c2: the same as an int8 convolution.
  WeightStore w;
  add_conv_weights(w, "c1", 64, 64, 3, 21);
  add_conv_weights(w, "c2", 64, 64, 3, 22);
  GraphDef def;
  def.inputs = {"x"};
  def.outputs = {"y"};
  Node int8_conv = conv_node("c2", "h", "y", 1, 1, "none");
  const float input_scale = 0.02f;
  int8_conv.attrs["input_scale"] = input_scale;
  def.nodes = {conv_node("c1", "x", "h", 1, 1, "relu"), int8_conv};
  WeightStore reference_weights;
  for (const auto& [name, t] : w) reference_weights.emplace(name, t.clone());
  const Graph g(std::move(def), std::move(w));
  REQUIRE(g.plan({{1, 64, 12, 12}})->kernel(0).method() == "winograd");
  for (int64_t h : {12, 16, 20}) {
    CAPTURE(h);
    Tensor x = random_tensor({1, 64, h, 12}, static_cast<std::uint32_t>(h));
    Tensor hidden = ref_conv(x, reference_weights, "c1", 1, 1, Activation::ReLU);
    Conv2dParams p;
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
    Tensor expected(hidden.shape());
    conv2d_int8_reference(hidden, reference_weights.at("c2.weight"), &reference_weights.at("c2.bias"), p, input_scale,
                          expected);
    // The int8 layer rounds its input: a Winograd rounding of c1 may tip a value to the next
    // step, so the bound is one step of the input times the weights' sums, not zero.
    CHECK(compare_tensors(run_single(g, x), expected, 1e-2f, 1e-2f).empty());
  }
  // One prepared entry per node, whatever the number of plans.
  for (const Node& node : g.nodes()) {
    CAPTURE(node.name);
    REQUIRE(node.prepared);
    CHECK(node.prepared->size() == 1);
  }
  // A GraphDef copied from a graph's does not carry its prepared weights into another graph.
  GraphDef copy = g.def();
  WeightStore other;
  add_conv_weights(other, "c1", 64, 64, 3, 31);
  add_conv_weights(other, "c2", 64, 64, 3, 32);
  const Graph g2(std::move(copy), std::move(other));
  CHECK(g2.nodes()[0].prepared != g.nodes()[0].prepared);
  CHECK(g2.nodes()[0].prepared->size() == 0);
}

TEST_CASE("memory plan: buffers whose lifetimes overlap never share memory", "[graph]") {
  std::vector<BufferRequest> req = {{100, 0, 1}, {50, 1, 2}, {100, 2, 3}, {30, 0, 3}, {70, 3, 4}};
  MemoryPlan plan = plan_memory(req, true);
  for (std::size_t i = 0; i < req.size(); ++i)
    for (std::size_t j = i + 1; j < req.size(); ++j) {
      bool live_together = req[i].first_step <= req[j].last_step && req[j].first_step <= req[i].last_step;
      bool disjoint = plan.offsets[i] + req[i].floats <= plan.offsets[j] || plan.offsets[j] + req[j].floats <= plan.offsets[i];
      CAPTURE(i, j);
      if (live_together) CHECK(disjoint);
    }
  MemoryPlan unshared = plan_memory(req, false);
  CHECK(plan.arena_floats < unshared.arena_floats);
  for (std::size_t off : plan.offsets) CHECK(off % (kTensorAlignment / sizeof(float)) == 0);
}
