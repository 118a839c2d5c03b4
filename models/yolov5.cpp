// YOLOv5 parse_model, in C++. Channel and depth scaling follow the reference
// exactly: n = max(round(n * depth_multiple), 1) for n > 1 (round half to
// even, as Python's round), channels = ceil(c * width_multiple / 8) * 8
// except for the Detect outputs.
#include "models/yolov5.h"

#include <cfenv>
#include <cmath>

#include "engine/error.h"
#include "models/architecture_json.h"

namespace spdinfer {
namespace {

constexpr float kEps = 1e-3f;  // YOLOv5 sets every BatchNorm2d's eps to 1e-3

struct Layer {
  int index;
  std::string module;
  std::vector<int> from;  // absolute layer indices; -1 refers to the network input
  int repeats;
  nlohmann::json args;
  std::string where() const { return "layer " + std::to_string(index) + " (" + module + ")"; }
};

int64_t make_divisible(double x, int64_t divisor) { return static_cast<int64_t>(std::ceil(x / divisor)) * divisor; }

class YoloBuilder {
 public:
  YoloBuilder(const nlohmann::json& arch, GraphBuilder& g) : arch_(arch), g_(g) {}

  std::vector<int> build() {
    gd_ = arch_number(arch_, "depth_multiple");
    gw_ = arch_number(arch_, "width_multiple");
    if (!(gd_ > 0 && gd_ <= 10) || !(gw_ > 0 && gw_ <= 10))
      throw Error("architecture depth_multiple and width_multiple must be in (0, 10]");
    nc_ = arch_int(arch_, "nc", 1, 100000);
    parse_anchors();
    const int64_t in_channels = arch_.contains("ch") ? arch_int(arch_, "ch", 1, 64) : 3;
    values_.clear();
    channels_.clear();
    std::string input = g_.input("input");

    std::vector<Layer> layers;
    for (const char* section : {"backbone", "head"}) {
      const auto& list = arch_field(arch_, section);
      if (!list.is_array()) throw Error(std::string("architecture '") + section + "' must be a list");
      for (const auto& row : list) layers.push_back(parse_row(row, static_cast<int>(layers.size())));
    }
    if (layers.empty()) throw Error("architecture has no layers");
    for (const Layer& L : layers) {
      try {
        build_layer(L, input, in_channels);
      } catch (const Error& e) {
        const std::string msg = e.what();
        throw Error(msg.rfind("layer ", 0) == 0 || msg.find(": tensor '") != std::string::npos
                        ? msg
                        : L.where() + ": " + msg);
      }
    }
    if (strides_.empty()) throw Error("architecture has no Detect layer");
    return strides_;
  }

 private:
  void parse_anchors() {
    const auto& a = arch_field(arch_, "anchors");
    if (!a.is_array() || a.empty()) throw Error("architecture 'anchors' must be a list of per-level lists");
    for (const auto& level : a) {
      if (!level.is_array() || level.empty() || level.size() % 2)
        throw Error("architecture 'anchors' must hold an even count of numbers per level");
      std::vector<float> v;
      for (const auto& x : level) {
        if (!x.is_number()) throw Error("architecture 'anchors' must hold numbers");
        v.push_back(x.get<float>());
      }
      anchors_.push_back(v);
    }
    na_ = static_cast<int>(anchors_[0].size() / 2);
    for (const auto& level : anchors_)
      if (static_cast<int>(level.size()) != 2 * na_) throw Error("architecture 'anchors' levels differ in size");
  }

  Layer parse_row(const nlohmann::json& row, int index) {
    const std::string where = "layer " + std::to_string(index);
    if (!row.is_array() || row.size() != 4) throw Error(where + ": must be [from, number, module, args]");
    Layer L;
    L.index = index;
    if (!row[2].is_string()) throw Error(where + ": module name must be a string");
    L.module = row[2].get<std::string>();
    auto resolve = [&](const nlohmann::json& f) {
      const int64_t i = as_bounded_int(f, L.where() + " 'from'", -index - 1, index - 1);
      return static_cast<int>(i < 0 ? index + i : i);  // -1 on layer 0 is the network input (-1)
    };
    if (row[0].is_array()) {
      for (const auto& f : row[0]) L.from.push_back(resolve(f));
      if (L.from.empty()) throw Error(L.where() + ": 'from' is an empty list");
    } else {
      L.from.push_back(resolve(row[0]));
    }
    L.repeats = static_cast<int>(as_bounded_int(row[1], L.where() + " 'number'", 1, 1000));
    if (L.repeats > 1) {
      // Python's round() rounds half to even; so does nearbyint by default.
      std::fesetround(FE_TONEAREST);
      L.repeats = std::max(static_cast<int>(std::nearbyint(L.repeats * gd_)), 1);
    }
    if (!row[3].is_array()) throw Error(L.where() + ": args must be a list");
    L.args = row[3];
    return L;
  }

  // YOLOv5 evaluates string args: 'None', 'nc', 'anchors'; others stay strings.
  nlohmann::json arg(const Layer& L, std::size_t i) const {
    if (i >= L.args.size()) return nullptr;
    const auto& a = L.args[i];
    if (a.is_string()) {
      const auto s = a.get<std::string>();
      if (s == "None") return nullptr;
      if (s == "nc") return nc_;
      if (s == "True") return true;
      if (s == "False") return false;
    }
    return a;
  }
  int int_arg(const Layer& L, std::size_t i, int fallback, int min, int max) const {
    nlohmann::json a = arg(L, i);
    if (a.is_null()) return fallback;
    return static_cast<int>(as_bounded_int(a, "argument " + std::to_string(i), min, max));
  }

  const std::string& value(int from) const { return from < 0 ? input_ : values_.at(from); }
  int64_t channels(int from) const { return from < 0 ? in_channels_ : channels_.at(from); }

  ConvSpec spec(int64_t c1, int64_t c2, int k, int s, int g = 1) const {
    ConvSpec c;
    c.out_channels = c2, c.in_channels = c1, c.kernel = k, c.stride = s, c.padding = k / 2, c.groups = g;
    c.activation = Activation::SiLU;
    return c;
  }
  // YOLOv5's Conv: Conv2d(bias=False) + BatchNorm2d + SiLU, folded.
  std::string conv(const std::string& name, const std::string& x, const ConvSpec& s) {
    if (s.groups < 1 || s.in_channels % s.groups || s.out_channels % s.groups)
      throw Error(name + ": channels " + std::to_string(s.in_channels) + " -> " + std::to_string(s.out_channels) +
                  " do not divide by groups " + std::to_string(s.groups));
    return g_.conv_bn(name, x, name + ".conv", name + ".bn", s, kEps);
  }
  // The Conv's own padding argument, when given, replaces autopad.
  ConvSpec conv_args(const Layer& L, int64_t c1, int64_t c2) const {
    const int k = int_arg(L, 1, 1, 1, 31), s = int_arg(L, 2, 1, 1, 8);
    ConvSpec c = spec(c1, c2, k, s, int_arg(L, 4, 1, 1, 1 << 16));
    c.padding = int_arg(L, 3, k / 2, 0, 31);
    return c;
  }

  int64_t scaled_out(const Layer& L) const {
    const int64_t c2 = as_bounded_int(arg(L, 0), "output channels", 1, 1 << 16);
    return make_divisible(static_cast<double>(c2) * gw_, 8);
  }

  void build_layer(const Layer& L, const std::string& input, int64_t in_channels) {
    input_ = input;
    in_channels_ = in_channels;
    const std::string name = "model." + std::to_string(L.index);
    const std::string& m = L.module;
    if (L.from.size() != 1 && m != "Concat" && m != "Detect") throw Error("takes one input, 'from' lists several");
    if (L.repeats != 1 && m != "C3") throw Error("repeats other than 1 are only supported for C3");
    const int f = L.from[0];
    const int64_t c1 = channels(f);
    std::string out;
    int64_t c2 = c1;
    if (m == "Conv") {
      c2 = scaled_out(L);
      out = conv(name, value(f), conv_args(L, c1, c2));
    } else if (m == "Focus") {
      c2 = scaled_out(L);
      std::string s = g_.space_to_depth(name + ".spd", value(f), c1);
      out = conv(name + ".conv", s, conv_args(L, 4 * c1, c2));
      g_.alias(name, out);
    } else if (m == "space_to_depth") {
      if (int_arg(L, 0, 1, 1, 1) != 1) throw Error("only dimension 1 is supported");
      c2 = 4 * c1;
      out = g_.space_to_depth(name, value(f), c1);
    } else if (m == "C3") {
      c2 = scaled_out(L);
      nlohmann::json sc = arg(L, 1);
      if (!sc.is_null() && !sc.is_boolean()) throw Error("shortcut argument must be True or False");
      out = c3(name, value(f), c1, c2, L.repeats, sc.is_null() || sc.get<bool>());
    } else if (m == "SPPF") {
      c2 = scaled_out(L);
      out = sppf(name, value(f), c1, c2, int_arg(L, 1, 5, 1, 31));
    } else if (m == "SPP") {
      c2 = scaled_out(L);
      std::vector<int> ks = {5, 9, 13};
      nlohmann::json k = arg(L, 1);
      if (k.is_array()) {
        ks.clear();
        for (const auto& v : k) ks.push_back(static_cast<int>(as_bounded_int(v, "SPP kernel", 1, 63)));
      }
      out = spp(name, value(f), c1, c2, ks);
    } else if (m == "nn.Upsample") {
      nlohmann::json mode = arg(L, 2);
      if (!arg(L, 0).is_null() || (!mode.is_null() && mode != "nearest"))
        throw Error("only nn.Upsample(None, scale, 'nearest') is supported");
      out = g_.op(name, "upsample_nearest", {value(f)}, {{"scale_factor", int_arg(L, 1, 2, 1, 64)}});
    } else if (m == "Concat") {
      if (int_arg(L, 0, 1, 1, 1) != 1) throw Error("only dimension 1 is supported");
      std::vector<std::string> ins;
      c2 = 0;
      for (int from : L.from) {
        ins.push_back(value(from));
        c2 += channels(from);
      }
      out = g_.op(name, "concat", ins, {{"axis", 1}});
    } else if (m == "Detect") {
      out = detect(name, L);
    } else {
      throw Error("unknown module '" + m + "'");
    }
    values_.push_back(out);
    channels_.push_back(c2);
  }

  std::string c3(const std::string& name, const std::string& x, int64_t c1, int64_t c2, int n, bool shortcut) {
    const int64_t c = c2 / 2;  // int(c2 * e), e = 0.5
    std::string a = conv(name + ".cv1", x, spec(c1, c, 1, 1));
    for (int i = 0; i < n; ++i) {
      const std::string b = name + ".m." + std::to_string(i);
      std::string h = conv(b + ".cv1", a, spec(c, c, 1, 1));
      h = conv(b + ".cv2", h, spec(c, c, 3, 1));
      if (shortcut) {
        a = g_.op(b, "add", {a, h});
      } else {
        g_.alias(b, h);
        a = h;
      }
    }
    std::string b = conv(name + ".cv2", x, spec(c1, c, 1, 1));
    std::string cat = g_.op(name + ".cat", "concat", {a, b}, {{"axis", 1}});
    std::string out = conv(name + ".cv3", cat, spec(2 * c, c2, 1, 1));
    g_.alias(name, out);
    return out;
  }

  std::string sppf(const std::string& name, const std::string& x, int64_t c1, int64_t c2, int k) {
    const int64_t c = c1 / 2;
    std::string a = conv(name + ".cv1", x, spec(c1, c, 1, 1));
    std::vector<std::string> parts{a};
    for (int i = 0; i < 3; ++i)
      parts.push_back(g_.op(name + ".m." + std::to_string(i), "max_pool2d", {parts.back()},
                            {{"kernel_size", k}, {"stride", 1}, {"padding", k / 2}}));
    std::string cat = g_.op(name + ".cat", "concat", parts, {{"axis", 1}});
    std::string out = conv(name + ".cv2", cat, spec(4 * c, c2, 1, 1));
    g_.alias(name, out);
    return out;
  }

  std::string spp(const std::string& name, const std::string& x, int64_t c1, int64_t c2, const std::vector<int>& ks) {
    const int64_t c = c1 / 2;
    std::string a = conv(name + ".cv1", x, spec(c1, c, 1, 1));
    std::vector<std::string> parts{a};
    for (std::size_t i = 0; i < ks.size(); ++i)
      parts.push_back(g_.op(name + ".m." + std::to_string(i), "max_pool2d", {a},
                            {{"kernel_size", ks[i]}, {"stride", 1}, {"padding", ks[i] / 2}}));
    std::string cat = g_.op(name + ".cat", "concat", parts, {{"axis", 1}});
    std::string out = conv(name + ".cv2", cat, spec(c * static_cast<int64_t>(parts.size()), c2, 1, 1));
    g_.alias(name, out);
    return out;
  }

  std::string detect(const std::string& name, const Layer& L) {
    const int nl = static_cast<int>(L.from.size());
    if (nl != static_cast<int>(anchors_.size()))
      throw Error(std::to_string(nl) + " inputs but " + std::to_string(anchors_.size()) + " anchor levels");
    const auto stride_list = arch_int_list(arch_, "stride", 1, 1024);
    if (static_cast<int>(stride_list.size()) != nl)
      throw Error("architecture 'stride' has " + std::to_string(stride_list.size()) + " entries for " +
                  std::to_string(nl) + " levels");
    const int no = static_cast<int>(nc_) + 5;
    // Detect's anchors buffer is in grid units (pixels / stride).
    Tensor anchors = g_.binder().take(name + ".anchors", {nl, na_, 2});
    std::vector<std::string> levels;
    for (int i = 0; i < nl; ++i) {
      const std::string m = name + ".m." + std::to_string(i);
      ConvSpec s;
      s.out_channels = static_cast<int64_t>(na_) * no, s.in_channels = channels(L.from[i]), s.kernel = 1;
      std::string raw = g_.conv(m, value(L.from[i]), m, s, true);
      std::vector<float> pixels;
      for (int a = 0; a < 2 * na_; ++a)
        pixels.push_back(anchors[i * 2 * na_ + a] * static_cast<float>(stride_list[i]));
      levels.push_back(g_.op(name + ".decode." + std::to_string(i), "yolo_decode", {raw},
                             {{"num_anchors", na_}, {"num_outputs", no}, {"stride", stride_list[i]},
                              {"anchors", pixels}}));
      strides_.push_back(static_cast<int>(stride_list[i]));
    }
    std::string out = g_.op(name, "concat", levels, {{"axis", 1}});
    g_.output(out);
    return out;
  }

  const nlohmann::json& arch_;
  GraphBuilder& g_;
  double gd_ = 1, gw_ = 1;
  int64_t nc_ = 80;
  int na_ = 3;
  std::vector<std::vector<float>> anchors_;
  std::vector<std::string> values_;
  std::vector<int64_t> channels_;
  std::vector<int> strides_;
  std::string input_;
  int64_t in_channels_ = 3;
};

}  // namespace

std::vector<int> build_yolov5(const nlohmann::json& architecture, GraphBuilder& g) {
  return YoloBuilder(architecture, g).build();
}

}  // namespace spdinfer
