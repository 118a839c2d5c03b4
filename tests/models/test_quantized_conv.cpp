// GraphBuilder's quantised convolutions (models/graph_builder.h, the int8 model file of
// docs/design.md): NODE.weight_int8 / weight_scale / bias in place of the conv and BatchNorm
// tensors, dequantised into the graph, `input_scale` set only when the model runs in int8, and
// the refusals (no input scale, a weight outside [-127, 127], a negative weight scale).
#include <catch2/catch.hpp>

#include <limits>

#include "engine/error.h"
#include "models/graph_builder.h"
#include "models/weight_binder.h"

using namespace spdinfer;
using Catch::Matchers::Contains;

namespace {

ConvSpec spec_2x3() {
  ConvSpec s;
  s.out_channels = 2, s.in_channels = 3, s.kernel = 1;
  s.activation = Activation::SiLU;
  return s;
}

WeightStore quantised_store(float first_weight = -127, float first_scale = 0.5f) {
  WeightStore w;
  Tensor q({2, 3, 1, 1});
  const float values[] = {first_weight, 0, 127, 1, -2, 3};
  for (int i = 0; i < 6; ++i) q[i] = values[i];
  Tensor s({2});
  s[0] = first_scale, s[1] = 0.25f;
  Tensor b({2});
  b[0] = 1, b[1] = -1;
  w.emplace("n.weight_int8", std::move(q));
  w.emplace("n.weight_scale", std::move(s));
  w.emplace("n.bias", std::move(b));
  return w;
}

}  // namespace

TEST_CASE("a quantised conv node: weights dequantised, input_scale only for int8", "[quant]") {
  for (bool int8 : {true, false}) {
    WeightStore store = quantised_store();
    WeightBinder binder("m.safetensors", store);
    GraphBuilder g(binder);
    g.set_quantization({{"n", 0.125f}}, int8);
    g.input("x");
    g.conv_bn("n", "x", "n.conv", "n.bn", spec_2x3(), 1e-5f);
    binder.finish();  // nothing of the file left over: the BatchNorm tensors are not asked for
    const Node& node = g.def().nodes.at(0);
    CHECK(node.attrs.contains("input_scale") == int8);
    if (int8) CHECK(node.attrs["input_scale"].get<float>() == 0.125f);
    const Tensor& w = g.weights().at("n.weight");
    const float expected[] = {-63.5f, 0, 63.5f, 0.25f, -0.5f, 0.75f};
    for (int i = 0; i < 6; ++i) CHECK(w[i] == expected[i]);
    CHECK(g.weights().at("n.bias")[1] == -1.0f);
    CHECK(g.quantized_nodes() == std::vector<std::string>{"n"});
    CHECK(g.conv_tensors().at("n") == std::vector<std::string>{"n.weight_int8", "n.weight_scale", "n.bias"});
  }
}

TEST_CASE("quantised conv tensors the builder refuses", "[quant]") {
  auto build = [](WeightStore store, std::map<std::string, float> scales) {
    WeightBinder binder("m.safetensors", store);
    GraphBuilder g(binder);
    g.set_quantization(std::move(scales), true);
    g.input("x");
    g.conv("n", "x", "n", spec_2x3(), false);
  };
  CHECK_THROWS_WITH(build(quantised_store(), {}),
                    Contains("m.safetensors: tensor 'n.weight_int8' but no input scale for node 'n'"));
  CHECK_THROWS_WITH(build(quantised_store(-128), {{"n", 0.1f}}),
                    Contains("'n.weight_int8' holds -128 at index 0 (symmetric int8 weights lie in [-127, 127])"));
  CHECK_THROWS_WITH(build(quantised_store(1, -0.5f), {{"n", 0.1f}}),
                    Contains("'n.weight_scale' holds -0.500000 at index 0 (scales must be >= 0)"));
  CHECK_THROWS_WITH(build(quantised_store(1, std::numeric_limits<float>::infinity()), {{"n", 0.1f}}),
                    Contains("'n.weight_scale' holds an infinity at index 0 (weights must be finite)"));
  CHECK_NOTHROW(build(quantised_store(), {{"n", 0.1f}}));
}

TEST_CASE("an fp32 conv records the stored tensors it was built from", "[quant]") {
  WeightStore store;
  store.emplace("c.weight", Tensor::zeros({2, 3, 1, 1}));
  for (const char* part : {"bn.weight", "bn.bias", "bn.running_mean"}) store.emplace(part, Tensor::zeros({2}));
  Tensor var({2});
  var[0] = var[1] = 1;
  store.emplace("bn.running_var", std::move(var));
  WeightBinder binder("m.safetensors", store);
  GraphBuilder g(binder);
  g.input("x");
  g.conv_bn("n", "x", "c", "bn", spec_2x3(), 1e-5f);
  CHECK(g.conv_tensors().at("n") ==
        std::vector<std::string>{"c.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"});
  CHECK_FALSE(g.def().nodes.at(0).attrs.contains("input_scale"));
  CHECK(g.quantized_nodes().empty());
}
