// ResNet-SPD graph builder. Every BatchNorm that follows a convolution is
// folded into it; the one that follows a space_to_depth is fused into the
// SPD node (it cannot fold across the rearrangement into the conv before).
#include "models/resnet_spd.h"

#include "engine/error.h"
#include "models/architecture_json.h"

namespace spdinfer {
namespace {

constexpr float kEps = 1e-5f;  // nn.BatchNorm2d's default, which the reference keeps
constexpr int64_t kMaxWidth = 1 << 16;

struct BlockSpec {
  std::string prefix;  // e.g. "conv3_x.0"
  int64_t in, width, out;
  int stride;
  bool spd;
};

ConvSpec conv(int64_t out, int64_t in, int k, Activation a, int stride = 1) {
  ConvSpec s;
  s.out_channels = out, s.in_channels = in, s.kernel = k, s.stride = stride, s.padding = k / 2, s.activation = a;
  return s;
}

// residual_function: 1x1, BN, ReLU, 3x3, [SPD,] BN, ReLU, 1x1, BN.
std::string bottleneck_residual(GraphBuilder& g, const BlockSpec& b, const std::string& x) {
  const std::string r = b.prefix + ".residual_function";
  std::string h = g.conv_bn(r + ".0", x, r + ".0", r + ".1", conv(b.width, b.in, 1, Activation::ReLU), kEps);
  if (b.stride == 2 && b.spd) {
    h = g.conv(r + ".3", h, r + ".3", conv(b.width, b.width, 3, Activation::None), false);
    h = g.space_to_depth(r + ".4", h, b.width, r + ".5", kEps, Activation::ReLU);
    return g.conv_bn(r, h, r + ".7", r + ".8", conv(b.out, 4 * b.width, 1, Activation::None), kEps);
  }
  h = g.conv_bn(r + ".3", h, r + ".3", r + ".4", conv(b.width, b.width, 3, Activation::ReLU, b.stride), kEps);
  return g.conv_bn(r, h, r + ".6", r + ".7", conv(b.out, b.width, 1, Activation::None), kEps);
}

// residual_function: 3x3, [SPD,] BN, ReLU, 3x3, BN.
std::string basic_residual(GraphBuilder& g, const BlockSpec& b, const std::string& x) {
  const std::string r = b.prefix + ".residual_function";
  if (b.stride == 2 && b.spd) {
    std::string h = g.conv(r + ".0", x, r + ".0", conv(b.width, b.in, 3, Activation::None), false);
    h = g.space_to_depth(r + ".1", h, b.width, r + ".2", kEps, Activation::ReLU);
    return g.conv_bn(r, h, r + ".4", r + ".5", conv(b.out, 4 * b.width, 3, Activation::None), kEps);
  }
  std::string h = g.conv_bn(r + ".0", x, r + ".0", r + ".1", conv(b.width, b.in, 3, Activation::ReLU, b.stride), kEps);
  return g.conv_bn(r, h, r + ".3", r + ".4", conv(b.out, b.width, 3, Activation::None), kEps);
}

}  // namespace

void build_resnet_spd(const nlohmann::json& arch, GraphBuilder& g) {
  const std::string block = arch_field(arch, "block").is_string() ? arch["block"].get<std::string>() : "";
  if (block != "bottleneck" && block != "basic")
    throw Error("architecture 'block' must be \"bottleneck\" or \"basic\", found " + describe_json(arch_field(arch, "block")));
  const bool bottleneck = block == "bottleneck";
  const int64_t expansion = arch_int(arch, "expansion", 1, 16);
  const int64_t stem = arch_int(arch, "stem_channels", 1, kMaxWidth);
  const auto blocks = arch_int_list(arch, "stage_blocks", 1, 1000);
  const auto widths = arch_int_list(arch, "stage_widths", 1, kMaxWidth);
  const auto strides = arch_int_list(arch, "stage_strides", 1, 2);
  const int64_t classes = arch_int(arch, "num_classes", 1, 1 << 20);
  const bool spd = arch_bool(arch, "spd", true);
  if (widths.size() != blocks.size() || strides.size() != blocks.size())
    throw Error("architecture 'stage_blocks', 'stage_widths' and 'stage_strides' differ in length");

  // Stem (the reference's Focus): space_to_depth, then 1x1 Conv + BN + SiLU.
  std::string x = g.input("input");
  x = g.space_to_depth("conv1.spd", x, 3);
  const int stem_k = static_cast<int>(g.binder().has("conv1.conv.conv.weight") &&
                                              g.binder().shape("conv1.conv.conv.weight").size() == 4
                                          ? g.binder().shape("conv1.conv.conv.weight")[3]
                                          : 1);
  x = g.conv_bn("conv1", x, "conv1.conv.conv", "conv1.conv.bn", conv(stem, 12, stem_k, Activation::SiLU), kEps);
  g.alias("conv1.conv", x);  // Focus's inner Conv: its output is the stem's

  int64_t in = stem;
  for (std::size_t s = 0; s < blocks.size(); ++s) {
    for (int64_t i = 0; i < blocks[s]; ++i) {
      BlockSpec b{"conv" + std::to_string(s + 2) + "_x." + std::to_string(i), in, widths[s], widths[s] * expansion,
                  i == 0 ? static_cast<int>(strides[s]) : 1, spd};
      std::string residual = bottleneck ? bottleneck_residual(g, b, x) : basic_residual(g, b, x);
      std::string shortcut = x;
      if (b.stride != 1 || b.in != b.out) {
        // The reference's projection shortcut is a strided 1x1 conv, SPD or not.
        shortcut = g.conv_bn(b.prefix + ".shortcut", x, b.prefix + ".shortcut.0", b.prefix + ".shortcut.1",
                             conv(b.out, b.in, 1, Activation::None, b.stride), kEps);
      }
      x = g.op(b.prefix, "add", {residual, shortcut}, {{"activation", "relu"}});
      in = b.out;
    }
  }
  x = g.op("avg_pool", "adaptive_avg_pool2d", {x}, {{"output_size", 1}});
  x = g.op("flatten", "flatten", {x});
  x = g.linear("fc", x, "fc", classes, in);
  g.output(x);
}

}  // namespace spdinfer
