// Robustness: architectures and inputs that are wrong in the ways a fuzzer or a careless user
// finds (a layer read before it exists, zero and negative sizes, channels that do not divide by
// groups, odd sizes where a space_to_depth needs even ones, inputs too small for a layer, a graph
// cycle), each refused with a spdinfer::Error that names the layer; NaN and Inf in inputs and
// weights never reach undefined behaviour (run this file in a -DSPDINFER_SANITIZE=ON build); and
// one loaded model run from 4 threads at once gives bit-identical results to one thread.
//
// Models are built in memory with the fuzz harness's build_with_weights (tests/fuzz/harness.h),
// which makes every weight the builder asks for, so each test states only the architecture.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

#include "engine/error.h"
#include "fuzz/harness.h"
#include "models/model.h"
#include "models/tiny_models.h"
#include "test_util.h"

using namespace spdinfer;
using Catch::Matchers::Contains;
using json = nlohmann::json;
using spdinfer::testing::build;
using spdinfer::testing::tiny_spd_yolo;

namespace {

const std::string kData = std::string(SPDINFER_SOURCE_DIR) + "/tests/data/";

json tiny_resnet(const std::string& block = "basic") {
  return {{"block", block},          {"expansion", block == "basic" ? 1 : 4}, {"stem_channels", 2},
          {"stage_blocks", {1, 1, 1, 1}}, {"stage_widths", {2, 4, 8, 16}},     {"stage_strides", {1, 2, 2, 2}},
          {"spd", true},             {"num_classes", 3}};
}

// The error build() throws for this architecture ("" when it builds).
std::string build_error(const std::string& family, const json& arch, const std::vector<float>& weight_values = {},
                        bool raw_variance = false) {
  try {
    build(family, arch, weight_values, raw_variance);
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("NOT a spdinfer::Error: ") + e.what();
  }
  return "";
}

std::string plan_error(const Model& m, const Shape& input) {
  try {
    m.graph->plan({input});
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

json with_layer(json arch, const char* section, std::size_t i, const json& row) {
  arch[section][i] = row;
  return arch;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()) == 0;
}

}  // namespace

TEST_CASE("robustness: the tiny architectures used here build and run", "[robustness]") {
  Model yolo = build("yolov5", tiny_spd_yolo());
  Tensor x = spdinfer::testing::random_tensor({1, 3, 64, 64}, 1);
  auto out = yolo.graph->forward({&x});
  REQUIRE(out.size() == 1);
  CHECK(out[0].shape() == Shape{1, 3 * (16 * 16 + 8 * 8), 7});
  for (const char* block : {"basic", "bottleneck"}) {
    Model resnet = build("resnet_spd", tiny_resnet(block));
    CHECK(resnet.graph->forward({&x})[0].shape() == Shape{1, 3});
  }
}

TEST_CASE("robustness: a YOLO layer reading a layer that does not exist (yet) names the layer", "[robustness]") {
  // Forward reference: layer 4 reads layer 9.
  std::string e = build_error("yolov5", with_layer(tiny_spd_yolo(), "backbone", 4, {9, 1, "Conv", {32, 3, 1}}));
  CHECK_THAT(e, Contains("layer 4 (Conv)") && Contains("'from' is 9"));
  // Itself.
  e = build_error("yolov5", with_layer(tiny_spd_yolo(), "backbone", 4, {4, 1, "Conv", {32, 3, 1}}));
  CHECK_THAT(e, Contains("layer 4 (Conv)") && Contains("'from' is 4"));
  // Before the network input, relative.
  e = build_error("yolov5", with_layer(tiny_spd_yolo(), "backbone", 1, {-3, 1, "Conv", {32, 3, 1}}));
  CHECK_THAT(e, Contains("layer 1 (Conv)") && Contains("'from' is -3"));
  // Out of range inside a Concat's list, and in Detect's.
  e = build_error("yolov5", with_layer(tiny_spd_yolo(), "head", 2, {{-1, 99}, 1, "Concat", {1}}));
  CHECK_THAT(e, Contains("layer 9 (Concat)") && Contains("'from' is 99"));
  e = build_error("yolov5", with_layer(tiny_spd_yolo(), "head", 4, {{10, 1000}, 1, "Detect", {"nc", "anchors"}}));
  CHECK_THAT(e, Contains("layer 11 (Detect)") && Contains("'from' is 1000"));
  // Not a number at all.
  e = build_error("yolov5", with_layer(tiny_spd_yolo(), "backbone", 2, {"x", 1, "space_to_depth", {1}}));
  CHECK_THAT(e, Contains("layer 2 (space_to_depth)") && Contains("'from' must be an integer"));
}

TEST_CASE("robustness: a graph whose node reads its own output is a cycle, not a hang", "[robustness]") {
  // test_graph.cpp covers a two-node cycle; here the shortest one, and a three-node ring.
  GraphDef self;
  self.inputs = {"x"};
  self.outputs = {"y"};
  self.nodes = {Node{"loop", "add", {}, {"x", "y"}, {}, {"y"}}};
  CHECK_THROWS_WITH(Graph(self, {}), Contains("cycle") && Contains("node 'loop' (add)"));

  GraphDef ring;
  ring.inputs = {"x"};
  ring.outputs = {"c"};
  ring.nodes = {Node{"na", "add", {}, {"x", "c"}, {}, {"a"}}, Node{"nb", "relu", {}, {"a"}, {}, {"b"}},
                Node{"nc", "relu", {}, {"b"}, {}, {"c"}}};
  CHECK_THROWS_AS(Graph(ring, {}), Error);
  CHECK_THROWS_WITH(Graph(ring, {}), Contains("cycle through node"));
}

TEST_CASE("robustness: zero and negative sizes are refused naming the layer or key", "[robustness]") {
  json arch = tiny_spd_yolo();
  arch["width_multiple"] = 0;
  CHECK_THAT(build_error("yolov5", arch), Contains("width_multiple"));
  arch = tiny_spd_yolo();
  arch["depth_multiple"] = -1;
  CHECK_THAT(build_error("yolov5", arch), Contains("depth_multiple"));

  std::string e = build_error("yolov5", with_layer(tiny_spd_yolo(), "backbone", 1, {-1, 1, "Conv", {-32, 3, 1}}));
  CHECK_THAT(e, Contains("layer 1 (Conv)") && Contains("output channels is -32"));
  e = build_error("yolov5", with_layer(tiny_spd_yolo(), "backbone", 1, {-1, 1, "Conv", {0, 3, 1}}));
  CHECK_THAT(e, Contains("layer 1 (Conv)") && Contains("output channels is 0"));
  e = build_error("yolov5", with_layer(tiny_spd_yolo(), "backbone", 1, {-1, 1, "Conv", {32, 0, 1}}));
  CHECK_THAT(e, Contains("layer 1 (Conv)") && Contains("argument 1 is 0"));
  e = build_error("yolov5", with_layer(tiny_spd_yolo(), "backbone", 1, {-1, 1, "Conv", {32, 3, -2}}));
  CHECK_THAT(e, Contains("layer 1 (Conv)") && Contains("argument 2 is -2"));
  e = build_error("yolov5", with_layer(tiny_spd_yolo(), "backbone", 3, {-1, 0, "C3", {32}}));
  CHECK_THAT(e, Contains("layer 3 (C3)") && Contains("'number' is 0"));
  e = build_error("yolov5", with_layer(tiny_spd_yolo(), "backbone", 6, {-1, 1, "SPPF", {32, 0}}));
  CHECK_THAT(e, Contains("layer 6 (SPPF)") && Contains("argument 1 is 0"));

  arch = tiny_spd_yolo();
  arch["nc"] = 0;
  CHECK_THAT(build_error("yolov5", arch), Contains("'nc' is 0"));
  arch = tiny_spd_yolo();
  arch["ch"] = -3;
  CHECK_THAT(build_error("yolov5", arch), Contains("'ch' is -3"));

  json r = tiny_resnet();
  r["stage_widths"][2] = -8;
  CHECK_THAT(build_error("resnet_spd", r), Contains("'stage_widths'[2] is -8"));
  r = tiny_resnet();
  r["stem_channels"] = 0;
  CHECK_THAT(build_error("resnet_spd", r), Contains("'stem_channels' is 0"));
  r = tiny_resnet();
  r["stage_blocks"][0] = 0;
  CHECK_THAT(build_error("resnet_spd", r), Contains("'stage_blocks'[0] is 0"));
  r = tiny_resnet();
  r["num_classes"] = -1;
  CHECK_THAT(build_error("resnet_spd", r), Contains("'num_classes' is -1"));
}

TEST_CASE("robustness: channels that do not divide by groups name the layer", "[robustness]") {
  // Every layer of the tiny SPD-YOLO has 8 channels (32 * width 0.25), 32 after a space_to_depth.
  // Conv(8 -> 8, k=3, s=1, p=1, g=3): 8 % 3 != 0.
  std::string e = build_error("yolov5", with_layer(tiny_spd_yolo(), "backbone", 1, {-1, 1, "Conv", {32, 3, 1, 1, 3}}));
  CHECK_THAT(e, Contains("layer 1 (Conv)") && Contains("do not divide by groups 3"));
  // Conv(32 -> 8, g=16) after the space_to_depth: the input channels divide, the output ones do not.
  e = build_error("yolov5", with_layer(tiny_spd_yolo(), "backbone", 3, {-1, 1, "Conv", {32, 3, 1, 1, 16}}));
  CHECK_THAT(e, Contains("layer 3 (Conv)") && Contains("32 -> 8 do not divide by groups 16"));
  // A grouped conv that divides builds.
  CHECK(build_error("yolov5", with_layer(tiny_spd_yolo(), "backbone", 1, {-1, 1, "Conv", {32, 3, 1, 1, 8}})) == "");
}

TEST_CASE("robustness: an odd input where a space_to_depth needs even sizes names the layer", "[robustness]") {
  Model yolo = build("yolov5", tiny_spd_yolo());
  std::string e = plan_error(yolo, {1, 3, 255, 320});
  CHECK_THAT(e, Contains("node 'model.0.spd' (space_to_depth)") && Contains("even") && Contains("255"));
  // Even at the input, odd one level down: 34 -> 17 (Focus) at the first space_to_depth layer.
  e = plan_error(yolo, {1, 3, 34, 64});
  CHECK_THAT(e, Contains("node 'model.2' (space_to_depth)") && Contains("(1, 8, 17, 32)"));
  CHECK(plan_error(yolo, {1, 3, 256, 320}) == "");

  Model resnet = build("resnet_spd", tiny_resnet());
  e = plan_error(resnet, {1, 3, 255, 320});
  CHECK_THAT(e, Contains("node 'conv1.spd' (space_to_depth)") && Contains("even"));
  e = plan_error(resnet, {1, 3, 30, 32});  // 30 -> 15 after the stem: the stage-3 SPD refuses
  CHECK_THAT(e, Contains("node 'conv3_x.0.residual_function.1' (space_to_depth)"));
  CHECK(plan_error(resnet, {1, 3, 256, 320}) == "");
}

TEST_CASE("robustness: an input too small for a layer names the layer instead of making it empty", "[robustness]") {
  // A pooling whose window is larger than the padded input.
  GraphDef def;
  def.inputs = {"x"};
  def.outputs = {"y"};
  def.nodes = {Node{"pool", "max_pool2d", {{"kernel_size", 5}, {"stride", 1}, {"padding", 1}}, {"x"}, {}, {"y"}}};
  Graph pool(std::move(def), {});
  CHECK_THROWS_WITH(pool.plan({{1, 3, 2, 8}}), Contains("node 'pool' (max_pool2d)") && Contains("too small"));
  CHECK(pool.plan({{1, 3, 3, 3}})->value_shape("y") == Shape{1, 3, 1, 1});

  // A YOLO whose first conv has no padding: 6x6 kernel on a 4x4 input.
  const json arch = with_layer(tiny_spd_yolo(), "backbone", 0, {-1, 1, "Conv", {16, 6, 2, 0}});
  Model yolo = build("yolov5", arch);
  CHECK_THAT(plan_error(yolo, {1, 3, 4, 4}), Contains("node 'model.0'") && Contains("would be <= 0"));
  // Empty and zero-channel inputs.
  CHECK_THAT(plan_error(yolo, {1, 3, 0, 64}), Contains("node 'model.0'"));
  CHECK_THAT(plan_error(yolo, {0, 3, 64, 64}), Contains("node '"));
  CHECK_THAT(plan_error(yolo, {1, 0, 64, 64}), Contains("node 'model.0'"));

  // ResNet at 2x2: the stem's SPD makes 1x1, the stage-3 SPD cannot halve it.
  Model resnet = build("resnet_spd", tiny_resnet());
  CHECK_THAT(plan_error(resnet, {1, 3, 2, 2}), Contains("(space_to_depth)") && Contains("even"));
}

TEST_CASE("robustness: NaN and Inf in inputs and weights run without undefined behaviour", "[robustness]") {
  // Run this under -DSPDINFER_SANITIZE=ON: any UB is a report that aborts the test.
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  Model resnet = load_model(kData + "tiny_resnet_spd.safetensors");
  const Preprocess& p = resnet.preprocess;
  for (float bad : {nan, inf, -inf, 3e38f}) {
    CAPTURE(bad);
    Tensor all = Tensor::filled({1, 3, p.height, p.width}, bad);
    Tensor one = spdinfer::testing::random_tensor({1, 3, p.height, p.width}, 7);
    one[5] = bad;
    for (const Tensor* x : {&all, &one})
      for (int threads : {1, 2}) {
        std::vector<Tensor> out;
        REQUIRE_NOTHROW(out = resnet.graph->forward({x}, RunOptions{threads, {}}));
        CHECK(out[0].shape() == Shape{1, static_cast<int64_t>(resnet.class_names.size())});
      }
  }

  // YOLO (SiLU, max pooling, upsample, concat, Detect decoding) with NaN in the input: NaN all
  // the way to the decoded boxes.
  Model yolo = build("yolov5", tiny_spd_yolo());
  Tensor x = Tensor::filled({1, 3, 32, 32}, nan);
  auto out = yolo.graph->forward({&x});
  for (int64_t i = 0; i < out[0].numel(); i += 7) CHECK(std::isnan(out[0][i]));

  // Weights holding a denormal and huge values (cycled through every tensor; BatchNorm variances
  // made positive): both families build and run, into infinities where products overflow.
  // Weights holding NaN or an infinity are refused at load, naming the tensor.
  const std::vector<float> weights = {0.25f, -0.5f, 1e-42f, -3e38f, 1.0f, 3e38f};
  for (const char* family : {"yolov5", "resnet_spd"}) {
    CAPTURE(family);
    const json arch = std::string(family) == "yolov5" ? tiny_spd_yolo() : tiny_resnet();
    Model m = build(family, arch, weights);
    Tensor in = spdinfer::testing::random_tensor({1, 3, 32, 32}, 3);
    REQUIRE_NOTHROW(m.graph->forward({&in}));
    for (float bad : {nan, inf, -inf}) {
      std::vector<float> with_bad = weights;
      with_bad.push_back(bad);
      CHECK_THAT(build_error(family, arch, with_bad),
                 Contains("tensor '") && Contains(std::isnan(bad) ? "holds NaN at index" : "holds an infinity at index"));
    }
  }
}

// ReLU used to compute `x > 0 ? x : 0`, which turned NaN into 0 where PyTorch's ReLU keeps it: a
// NaN image gave finite, confident-looking logits. Op-level checks: tests/engine/test_nan_semantics.cpp.
TEST_CASE("robustness: a NaN input gives NaN logits (as in PyTorch)", "[robustness]") {
  Model resnet = load_model(kData + "tiny_resnet_spd.safetensors");
  Tensor x = Tensor::filled({1, 3, resnet.preprocess.height, resnet.preprocess.width},
                            std::numeric_limits<float>::quiet_NaN());
  auto out = resnet.graph->forward({&x});
  for (int64_t i = 0; i < out[0].numel(); ++i) CHECK(std::isnan(out[0][i]));
}

TEST_CASE("robustness: one model run from 4 threads at once is bit-identical to one thread", "[robustness]") {
  const Model m = load_model(kData + "tiny_resnet_spd.safetensors");
  const Shape shape{2, 3, m.preprocess.height, m.preprocess.width};
  std::vector<Tensor> inputs;
  std::vector<Tensor> expected;
  for (std::uint32_t seed = 0; seed < 4; ++seed) {
    inputs.push_back(spdinfer::testing::random_tensor(shape, 100 + seed));
    expected.push_back(std::move(m.graph->forward({&inputs.back()})[0]));
  }
  // Each thread runs every input several times with 1 or 2 engine threads; all at once.
  std::vector<std::vector<Tensor>> results(4);
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t)
    pool.emplace_back([&, t] {
      for (int rep = 0; rep < 3; ++rep)
        for (std::size_t i = 0; i < inputs.size(); ++i)
          results[t].push_back(std::move(m.graph->forward({&inputs[(i + t) % 4]}, RunOptions{1 + t % 2, {}})[0]));
    });
  for (auto& th : pool) th.join();
  for (int t = 0; t < 4; ++t)
    for (std::size_t k = 0; k < results[t].size(); ++k) {
      CAPTURE(t, k);
      CHECK(bitwise_equal(results[t][k], expected[(k % inputs.size() + t) % 4]));
    }
  // And a plan made for a new shape while other threads run does not disturb them.
  CHECK(m.graph->plan({{1, 3, 64, 64}})->value_shape(m.graph->def().outputs[0]) ==
        Shape{1, static_cast<int64_t>(m.class_names.size())});
}
