// choose_conv_path (engine/ops/conv_path.h): which method and product each kind of layer gets,
// the names bench --per-layer prints, SPDINFER_CONV_OFF; and every path, switched on and off,
// computes what conv2d_reference does through the graph op's own kernel.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/ops/conv_path.h"
#include "test_util.h"

using namespace spdinfer;
using spdinfer::testing::compare_tensors;
using spdinfer::testing::random_tensor;

namespace {

Conv2dParams same_padding(int k) {
  Conv2dParams p;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = k / 2;
  return p;
}

// Sets SPDINFER_CONV_OFF for the scope's lifetime.
class ConvOff {
 public:
  explicit ConvOff(const std::string& value) { setenv("SPDINFER_CONV_OFF", value.c_str(), 1); }
  ~ConvOff() { unsetenv("SPDINFER_CONV_OFF"); }
};

}  // namespace

TEST_CASE("each kind of layer gets its path, and the path its name", "[conv_path]") {
  const ConvSwitches all;
  struct Case {
    Shape input, weight;
    int k;
    int groups;
    const char* name;
  } cases[] = {
      {{1, 64, 40, 40}, {64, 64, 3, 3}, 3, 1, "winograd"},
      {{1, 16, 160, 160}, {32, 16, 3, 3}, 3, 1, "direct"},         // too few channels for Winograd
      {{1, 12, 320, 320}, {16, 12, 3, 3}, 3, 1, "direct"},         // the SPD stem
      {{1, 12, 320, 320}, {8, 12, 3, 3}, 3, 1, "im2col"},          // too few output channels for direct
      {{1, 32, 20, 20}, {64, 32, 3, 3}, 3, 1, "im2col"},           // a map too narrow for direct
      {{1, 64, 80, 80}, {64, 64, 1, 1}, 1, 1, "1x1"},
      {{1, 512, 4, 4}, {512, 512, 3, 3}, 3, 1, "im2col"},  // 16 columns
      {{1, 256, 8, 8}, {256, 256, 3, 3}, 3, 1, "winograd"},  // 16 tiles
      {{1, 512, 8, 8}, {512, 512, 3, 3}, 3, 1, "im2col"},    // 16 tiles of 16 MiB of weights
      {{2, 512, 8, 8}, {512, 512, 3, 3}, 3, 1, "winograd"},  // 32 tiles
      {{1, 512, 8, 8}, {2048, 512, 1, 1}, 1, 1, "1x1"},
      {{1, 512, 2, 2}, {512, 512, 3, 3}, 3, 1, "im2col narrow"},  // 4 columns
      {{32, 512, 4, 4}, {512, 512, 1, 1}, 1, 1, "1x1 x16 images"},
      {{1, 32, 20, 20}, {32, 1, 3, 3}, 3, 32, "depthwise"},
  };
  for (const Case& c : cases) {
    Conv2dParams p = same_padding(c.k);
    p.groups = c.groups;
    CAPTURE(shape_to_string(c.input), shape_to_string(c.weight));
    CHECK(choose_conv_path(c.input, c.weight, p, all).name() == c.name);
  }
  Conv2dParams strided = same_padding(3);
  strided.stride_h = strided.stride_w = 2;
  CHECK(choose_conv_path({1, 16, 320, 320}, {32, 16, 3, 3}, strided, all).name() == "direct");
  ConvSwitches none;
  none.winograd = none.direct = none.narrow = false;
  CHECK(choose_conv_path({1, 64, 40, 40}, {64, 64, 3, 3}, same_padding(3), none).name() == "im2col");
  CHECK(choose_conv_path({1, 16, 160, 160}, {32, 16, 3, 3}, same_padding(3), none).name() == "im2col");
  CHECK(choose_conv_path({1, 512, 2, 2}, {512, 512, 3, 3}, same_padding(3), none).name() == "im2col");
}

TEST_CASE("SPDINFER_CONV_OFF switches paths off and refuses unknown words", "[conv_path]") {
  {
    const ConvOff off("winograd,direct,narrow");
    const ConvSwitches s = ConvSwitches::from_environment();
    CHECK_FALSE(s.winograd);
    CHECK_FALSE(s.direct);
    CHECK_FALSE(s.narrow);
  }
  CHECK(ConvSwitches::from_environment().winograd);
  const ConvOff bad("winograd,fast");
  CHECK_THROWS_WITH(ConvSwitches::from_environment(), Catch::Contains("'fast'") && Catch::Contains("SPDINFER_CONV_OFF"));
}

TEST_CASE("every conv path, on or off, matches the reference through the graph op", "[conv_path]") {
  const std::string off = GENERATE(std::string(), "winograd", "direct", "narrow", "winograd,direct,narrow");
  struct Case {
    Shape input;
    int64_t out_channels;
    int k;
    const char* path;  // with every path on
  } cases[] = {
      {{1, 64, 12, 12}, 64, 3, "winograd"},
      {{1, 8, 17, 19}, 16, 3, "im2col"},
      {{1, 16, 5, 40}, 32, 3, "direct"},
      {{1, 40, 4, 4}, 70, 3, "im2col"},
      {{1, 72, 2, 2}, 20, 3, "im2col narrow"},
      {{3, 24, 3, 3}, 30, 1, "1x1 x3 images"},
  };
  const ConvOff scope(off);
  for (const Case& c : cases) {
    CAPTURE(off, shape_to_string(c.input), c.out_channels, c.k);
    const Tensor input = random_tensor(c.input, 1);
    const Tensor weight = random_tensor({c.out_channels, c.input[1], c.k, c.k}, 2, -0.2f, 0.2f);
    const Tensor bias = random_tensor({c.out_channels}, 3);
    Node node;
    node.name = "conv";
    node.op = "conv2d";
    node.attrs = {{"padding", c.k / 2}, {"activation", "silu"}};
    const auto kernel = conv2d_op().prepare(node, {c.input}, {&weight, &bias});
    std::vector<float> workspace(kernel->workspace_floats(2) + 1);
    Tensor got(kernel->output_shape()), want(kernel->output_shape());
    kernel->run({&input}, got, workspace.data(), 2);
    Conv2dParams p = same_padding(c.k);
    p.activation = Activation::SiLU;
    conv2d_reference(input, weight, &bias, p, want);
    INFO("path " << kernel->method());
    if (off.empty()) CHECK(kernel->method() == c.path);
    CHECK(compare_tensors(got, want, 1e-4f, 1e-4f) == "");
  }
}
