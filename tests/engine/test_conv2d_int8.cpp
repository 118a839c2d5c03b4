// conv2d in int8 (engine/ops/conv2d_int8.h): the reference against the rules written out by hand,
// the weights' round trip through the model file's form, the "input_scale" attribute (accepted
// and refused), the graph running the int8 path, and int8 against float within the quantisation
// error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "engine/error.h"
#include "engine/graph.h"
#include "engine/kernels/cpu_features.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/conv2d_int8.h"
#include "test_util.h"

using namespace spdinfer;
using Catch::Matchers::Contains;
using spdinfer::testing::random_tensor;

namespace {

Conv2dParams conv_params(int stride, int pad, int dilation = 1, int groups = 1, Activation a = Activation::None) {
  Conv2dParams p;
  p.stride_h = p.stride_w = stride;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  p.dilation_h = p.dilation_w = dilation;
  p.groups = groups;
  p.activation = a;
  return p;
}

// Bit-for-bit equality, one CHECK per tensor naming the first element that differs.
void check_same_bits(const Tensor& got, const Tensor& want) {
  REQUIRE(got.shape() == want.shape());
  int64_t first = -1, differing = 0;
  for (int64_t i = 0; i < want.numel(); ++i)
    if (std::memcmp(got.data() + i, want.data() + i, sizeof(float)) != 0 && differing++ == 0) first = i;
  INFO("first differing element " << first << ": got " << (first >= 0 ? got[first] : 0.0f) << " want "
                                  << (first >= 0 ? want[first] : 0.0f) << " (" << differing << " differ)");
  CHECK(differing == 0);
}

Node int8_conv_node(const nlohmann::json& input_scale) {
  Node n{"c", "conv2d", {{"stride", 1}, {"padding", 1}, {"activation", "silu"}}, {"x"}, {"c.weight", "c.bias"}, {"y"}};
  if (!input_scale.is_null()) n.attrs["input_scale"] = input_scale;
  return n;
}

WeightStore conv_weights(int64_t O, int64_t C, int k) {
  WeightStore w;
  w.emplace("c.weight", random_tensor({O, C, k, k}, 11, -0.5f, 0.5f));
  w.emplace("c.bias", random_tensor({O}, 12, -0.2f, 0.2f));
  return w;
}

Graph conv_graph(const nlohmann::json& input_scale, int64_t O, int64_t C, int k) {
  GraphDef def;
  def.inputs = {"x"};
  def.outputs = {"y"};
  def.nodes = {int8_conv_node(input_scale)};
  return Graph(def, conv_weights(O, C, k));
}

}  // namespace

TEST_CASE("int8 input quantisation rounds ties to even and clamps", "[conv2d_int8]") {
  CHECK(quantize_input_value(0.5f, 1.0f) == 0);
  CHECK(quantize_input_value(1.5f, 1.0f) == 2);
  CHECK(quantize_input_value(2.5f, 1.0f) == 2);
  CHECK(quantize_input_value(-2.5f, 1.0f) == -2);
  CHECK(quantize_input_value(-0.49f, 1.0f) == 0);
  CHECK(quantize_input_value(3.0f, 0.5f) == 6);
  CHECK(quantize_input_value(1000.0f, 1.0f) == 127);
  CHECK(quantize_input_value(-1000.0f, 1.0f) == -127);
  CHECK(quantize_input_value(std::numeric_limits<float>::infinity(), 1.0f) == 127);
  CHECK(quantize_input_value(-std::numeric_limits<float>::infinity(), 1.0f) == -127);
  CHECK(quantize_input_value(std::nanf(""), 1.0f) == -127);
}

TEST_CASE("int8 weights: per-channel scales, and stored int8 weights come back unchanged", "[conv2d_int8]") {
  // Weights as a model file holds them: q in [-127, 127] with 127 or -127 in every channel, and a
  // scale per channel; the loader hands the graph q * s.
  const int64_t O = 9, C = 5, k = 3, K = C * k * k;
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> value(-127, 127);
  std::uniform_real_distribution<float> scale(1e-4f, 0.5f);
  std::vector<int8_t> q(O * K);
  std::vector<float> s(O);
  Tensor w({O, C, k, k});
  for (int64_t o = 0; o < O; ++o) {
    s[o] = scale(rng);
    for (int64_t i = 0; i < K; ++i) q[o * K + i] = static_cast<int8_t>(value(rng));
    q[o * K + o % K] = o % 2 ? 127 : -127;
    for (int64_t i = 0; i < K; ++i) w[o * K + i] = q[o * K + i] * s[o];
  }
  const Int8Weights got = quantize_conv_weights(w);
  REQUIRE(got.rows == O);
  REQUIRE(got.cols == K);
  CHECK(got.q == q);
  for (int64_t o = 0; o < O; ++o) CHECK(got.scale[o] == Approx(s[o]).epsilon(1e-6));

  // An all-zero channel: scale 1, every q 0.
  Tensor zero = Tensor::filled({2, 1, 1, 2}, 0.0f);
  zero[2] = -0.25f;
  const Int8Weights z = quantize_conv_weights(zero);
  CHECK(z.scale[0] == 1.0f);
  CHECK(z.q == std::vector<int8_t>{0, 0, -127, 0});
  CHECK(z.scale[1] == 0.25f / 127.0f);
}

TEST_CASE("int8 conv2d reference follows the rules written out by hand", "[conv2d_int8]") {
  // One 2x2 input channel, a 1x2 kernel, padding 1 on the left only: each output sums two taps.
  Tensor x({1, 1, 1, 3});
  x[0] = 0.26f, x[1] = -1.0f, x[2] = 0.74f;  // / 0.5 -> 0.52, -2, 1.48 -> q 1, -2, 1
  Tensor w({2, 1, 1, 2});
  w[0] = 0.5f, w[1] = -0.2f;  // s = 0.5/127: q 127, -50.8 -> -51
  w[2] = 0.0f, w[3] = 0.0f;    // all zero: scale 1, q 0
  Tensor b({2});
  b[0] = 0.125f, b[1] = -1.0f;
  Conv2dParams p;
  p.pad_left = 1;
  Tensor out(conv2d_output_shape(x.shape(), w.shape(), p));
  REQUIRE(out.shape() == Shape{1, 2, 1, 3});
  conv2d_int8_reference(x, w, &b, p, 0.5f, out);
  const float m0 = 0.5f * (0.5f / 127.0f);
  const int32_t acc[3] = {0 * 127 + 1 * -51, 1 * 127 + -2 * -51, -2 * 127 + 1 * -51};
  for (int j = 0; j < 3; ++j) CHECK(out[j] == static_cast<float>(acc[j]) * m0 + 0.125f);
  for (int j = 3; j < 6; ++j) CHECK(out[j] == -1.0f);
}

TEST_CASE("int8 and float conv2d agree within the quantisation error", "[conv2d_int8]") {
  const int k = GENERATE(1, 3);
  const int groups = GENERATE(1, 2);
  CAPTURE(k, groups);
  const int64_t N = 2, C = 16, H = 9, W = 11, O = 12;
  const Tensor x = random_tensor({N, C, H, W}, 5, -2.0f, 2.0f);
  const Tensor w = random_tensor({O, C / groups, k, k}, 6, -0.3f, 0.3f);
  const Tensor b = random_tensor({O}, 7, -0.1f, 0.1f);
  const Conv2dParams p = conv_params(1, k / 2, 1, groups);
  const float input_scale = 2.0f / 127.0f;
  Tensor ref(conv2d_output_shape(x.shape(), w.shape(), p)), q(ref.shape());
  conv2d_reference(x, w, &b, p, ref);
  conv2d_int8_reference(x, w, &b, p, input_scale, q);
  // Each product's error is at most half a step of either factor: |x| s_w / 2 + |w| s_x / 2
  // + s_x s_w / 4, summed over the K terms (in practice it averages out far below this).
  const int64_t K = C / groups * k * k;
  const double bound = K * (2.0 * 0.3 / 127.0 / 2 + 0.3 * input_scale / 2 + input_scale * 0.3 / 127.0 / 4);
  double worst = 0.0;
  for (int64_t i = 0; i < ref.numel(); ++i) worst = std::max(worst, std::fabs(double{q[i]} - ref[i]));
  CAPTURE(worst, bound);
  CHECK(worst <= bound);
  CHECK(worst <= 0.05);  // the typical error, for these magnitudes: the outputs span about +-3
}

TEST_CASE("conv2d node with input_scale runs the int8 semantics", "[conv2d_int8][graph]") {
  const int threads = GENERATE(1, 2);
  const Graph g = conv_graph(0.03, 8, 6, 3);
  const Tensor x = random_tensor({2, 6, 7, 9}, 8, -2.0f, 2.0f);
  auto outs = g.forward({&x}, RunOptions{threads, {}});
  REQUIRE(outs.size() == 1);
  WeightStore w = conv_weights(8, 6, 3);
  Tensor want(outs[0].shape());
  conv2d_int8_reference(x, w.at("c.weight"), &w.at("c.bias"), conv_params(1, 1, 1, 1, Activation::SiLU), 0.03f,
                        want);
  check_same_bits(outs[0], want);
}

TEST_CASE("conv2d refuses an input_scale that is not a finite number > 0", "[conv2d_int8][graph]") {
  const Tensor x = random_tensor({1, 6, 5, 5}, 9);
  for (const nlohmann::json& bad : {nlohmann::json("0.1"), nlohmann::json(0.0), nlohmann::json(-0.5),
                                    nlohmann::json(std::numeric_limits<double>::infinity()),
                                    nlohmann::json(std::nan("")), nlohmann::json(1e-60), nlohmann::json(1e300),
                                    nlohmann::json::array({0.1}), nlohmann::json(true)}) {
    CAPTURE(bad.dump());
    const Graph g = conv_graph(bad, 4, 6, 3);
    CHECK_THROWS_WITH(g.plan({x.shape()}), Contains("'input_scale'") && Contains("finite number > 0"));
  }
  // An integer is a number: accepted.
  const Graph g = conv_graph(1, 4, 6, 3);
  CHECK_NOTHROW(g.plan({x.shape()}));
}

namespace {

// The fast path with the family's kernel against the reference, bit for bit, on `threads`.
void check_fast_path(const QgemmKernel& kernel, const Tensor& x, const Tensor& w, const Tensor* b,
                     const Conv2dParams& p, float input_scale, int threads) {
  const Conv2dInt8 conv(x.shape(), w, b, p, input_scale, kernel);
  Tensor want(conv.output_shape()), got = Tensor::filled(conv.output_shape(), std::nanf(""));
  conv2d_int8_reference(x, w, b, p, input_scale, want);
  std::vector<float> workspace(conv.workspace_floats(threads));
  conv.run(x, got, workspace.data(), threads);
  check_same_bits(got, want);
}

// The int8 families this CPU has (a line for each it lacks).
std::vector<const QgemmKernel*> supported_kernels() {
  std::vector<const QgemmKernel*> kernels;
  for (QgemmFamily family :
       {QgemmFamily::Generic, QgemmFamily::Avx2, QgemmFamily::AvxVnni, QgemmFamily::Avx512Vnni}) {
    const char* missing = nullptr;
    if (qgemm_supported(family, &missing))
      kernels.push_back(&qgemm_kernel(family));
    else
      WARN("skipped: this CPU lacks " << missing << " for the " << qgemm_kernel(family).name << " int8 kernel");
  }
  return kernels;
}

// A layer: its input and weight shapes and parameters.
struct LayerCase {
  Shape input, weight;
  Conv2dParams p;
};

// Each layer's fast path against the reference in every family on 1, 2 and 3 threads, without a
// bias and with one.
void check_layers(const std::vector<LayerCase>& cases) {
  for (const LayerCase& c : cases)
    for (const QgemmKernel* kernel : supported_kernels())
      for (int threads : {1, 2, 3}) {
        CAPTURE(shape_to_string(c.input), shape_to_string(c.weight), kernel->name, threads);
        const Tensor x = random_tensor(c.input, 31, -1.0f, 1.0f);
        const Tensor w = random_tensor(c.weight, 32, -0.2f, 0.2f);
        check_fast_path(*kernel, x, w, nullptr, c.p, 1.0f / 127.0f, threads);
        const Tensor b = random_tensor({c.weight[0]}, 33, -0.3f, 0.3f);
        check_fast_path(*kernel, x, w, &b, c.p, 0.7f / 127.0f, threads);
      }
}

}  // namespace

TEST_CASE("int8 conv2d fast path equals the reference over kernel/stride/padding/dilation/groups", "[conv2d_int8]") {
  const int k = GENERATE(1, 3, 5, 6);
  const int stride = GENERATE(1, 2);
  const int pad = GENERATE(0, 1, 2);
  const int dilation = GENERATE(1, 2);
  const int groups = GENERATE(1, 2);
  const Activation act = std::array<Activation, 4>{Activation::None, Activation::ReLU, Activation::SiLU,
                                                   Activation::Sigmoid}[(k + stride + pad + dilation) % 4];
  const int64_t N = 2, C = 6, H = 13, W = 11, O = 10;
  if (H + 2 * pad < dilation * (k - 1) + 1) return;  // no output
  const Tensor x = random_tensor({N, C, H, W}, 21, -1.5f, 1.5f);
  const Tensor w = random_tensor({O, C / groups, k, k}, 22, -0.4f, 0.4f);
  const Tensor b = random_tensor({O}, 23, -0.3f, 0.3f);
  const Conv2dParams p = conv_params(stride, pad, dilation, groups, act);
  for (const QgemmKernel* kernel : supported_kernels())
    for (int threads = 1; threads <= 4; ++threads) {
      CAPTURE(k, stride, pad, dilation, groups, activation_name(act), kernel->name, threads);
      check_fast_path(*kernel, x, w, &b, p, 1.5f / 127.0f, threads);
    }
}

TEST_CASE("int8 conv2d fast path: depthwise, asymmetric padding, no bias, deep and wide layers", "[conv2d_int8]") {
  Conv2dParams depthwise = conv_params(1, 1, 1, 16, Activation::SiLU);
  Conv2dParams asymmetric = conv_params(1, 0);
  asymmetric.pad_top = 1, asymmetric.pad_left = 0, asymmetric.pad_bottom = 0, asymmetric.pad_right = 1;
  check_layers({
      {{2, 16, 12, 9}, {32, 1, 3, 3}, depthwise},                            // 2 outputs per channel
      {{1, 5, 8, 7}, {7, 5, 2, 2}, asymmetric},                              // "same" for an even kernel
      {{1, 64, 20, 20}, {40, 64, 3, 3}, conv_params(1, 1, 1, 1, Activation::ReLU)},  // K = 576: 2 blocks of k
      {{3, 24, 17, 19}, {50, 24, 1, 1}, conv_params(1, 0, 1, 1, Activation::SiLU)},  // pointwise, batch 3
      {{1, 4, 70, 90}, {9, 4, 3, 3}, conv_params(2, 1)},                     // many column tiles
      {{1, 32, 6, 7}, {40, 32, 3, 3}, conv_params(1, 1)},  // few columns: threads split the channels
  });
}

TEST_CASE("int8 conv2d fast path: small planes of a batch side by side in one GEMM", "[conv2d_int8]") {
  // A deep layer's planes (1x1 .. 5x5): tiles hold several images and may start or end inside
  // one, pointwise tiles straddle images, strided 1x1 shortcuts gather; batch 1 gives 1..25
  // columns, the narrow kernels' widths.
  check_layers({
      {{7, 40, 4, 4}, {24, 40, 1, 1}, conv_params(1, 0, 1, 1, Activation::ReLU)},  // pointwise
      {{5, 24, 5, 5}, {20, 24, 3, 3}, conv_params(1, 1, 1, 1, Activation::SiLU)},  // 3x3, 25 per image
      {{9, 32, 4, 4}, {48, 32, 1, 1}, conv_params(2, 0)},                          // strided shortcut
      {{6, 16, 3, 3}, {16, 8, 3, 3}, conv_params(1, 1, 1, 2)},                     // groups
      {{3, 600, 2, 2}, {36, 600, 3, 3}, conv_params(1, 1)},                        // deep: 2 blocks of k
      {{1, 64, 2, 2}, {17, 64, 1, 1}, conv_params(1, 0)},                          // 4 columns
      {{1, 64, 4, 4}, {17, 64, 1, 1}, conv_params(1, 0)},                          // 16 columns
      {{40, 8, 1, 1}, {12, 8, 1, 1}, conv_params(1, 0)},                           // 1x1 planes
  });
}

TEST_CASE("int8 conv2d fast path quantises as the reference: ties, clamping, NaN and infinities", "[conv2d_int8]") {
  const float scale = 0.25f;
  Tensor x({1, 3, 5, 7});
  const float specials[] = {std::nanf(""), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), 1e30f, -1e30f, 31.75f, -31.75f, 31.875f};
  for (int64_t i = 0; i < x.numel(); ++i)
    x[i] = i < 8 ? specials[i] : scale * (0.5f * static_cast<float>(i - 52));  // every tie from -26 to 26.5
  const Tensor w = random_tensor({4, 3, 3, 3}, 41, -1.0f, 1.0f);
  for (const QgemmKernel* kernel : supported_kernels()) {
    CAPTURE(kernel->name);
    check_fast_path(*kernel, x, w, nullptr, conv_params(1, 1), scale, 2);
  }
  for (int64_t i = 8; i < x.numel(); ++i) {
    const float half_steps = static_cast<float>(i - 52);
    CHECK(quantize_input_value(x[i], scale) == static_cast<int>(std::nearbyint(half_steps / 2)));
  }
}

TEST_CASE("int8 conv2d: the method names the path and family, and a workspace is required", "[conv2d_int8]") {
  const Tensor w3 = random_tensor({8, 4, 3, 3}, 51), w1 = random_tensor({8, 4, 1, 1}, 52);
  const Conv2dInt8 im2col({1, 4, 10, 10}, w3, nullptr, conv_params(1, 1), 0.01f);
  const Conv2dInt8 pointwise({1, 4, 10, 10}, w1, nullptr, conv_params(1, 0), 0.01f);
  CHECK(im2col.method() == std::string("int8 im2col ") + qgemm_kernel().name);
  CHECK(pointwise.method() == std::string("int8 1x1 ") + qgemm_kernel().name);
  CHECK(im2col.workspace_floats(2) >= im2col.workspace_floats(1));
  const Tensor x = random_tensor({1, 4, 10, 10}, 53);
  Tensor out(im2col.output_shape());
  CHECK_THROWS_WITH(im2col.run(x, out, nullptr, 1), Contains("needs a workspace"));
  const Tensor wrong = random_tensor({1, 4, 9, 10}, 54);
  std::vector<float> ws(im2col.workspace_floats(1));
  CHECK_THROWS_WITH(im2col.run(wrong, out, ws.data(), 1), Contains("prepared for input"));
}

// A measurement, not a check (hidden: run it by its tag, `spdinfer_tests "[bench_int8]"`): the
// median time of one convolution through the graph, float (whatever path it chooses: Winograd,
// im2col, 1x1) against int8, for layers of SPD-YOLOv5n/s at 640x640, on 1 and 2 threads.
TEST_CASE("int8 against float conv2d on SPD-YOLOv5 layers (timing)", "[.][bench_int8]") {
  struct Layer {
    int64_t C, O, size;
    int k;
  };
  const Layer layers[] = {{32, 64, 160, 3}, {64, 64, 160, 1}, {64, 64, 80, 3}, {128, 128, 80, 3},
                          {256, 256, 40, 3}, {128, 256, 40, 1}, {512, 512, 20, 3}};
  // Median and fastest of 21 runs: on a machine shared with other work the fastest says what the
  // code can do, the median what a run met.
  struct Times {
    double median, best;
  };
  auto time_ms = [](const Graph& g, const Tensor& x, int threads) {
    std::vector<double> times;
    for (int i = 0; i < 21; ++i) {
      const auto start = std::chrono::steady_clock::now();
      g.forward({&x}, RunOptions{threads, {}});
      times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    return Times{times[times.size() / 2], times[0]};
  };
  std::printf("CPU: %s; int8 kernel %s\n", cpu_features().model_name.c_str(), qgemm_kernel().name);
  for (const Layer& l : layers) {
    const Tensor x = random_tensor({1, l.C, l.size, l.size}, 61, -1.0f, 1.0f);
    for (int threads : {1, 2}) {
      Times ms[2];
      std::string method[2];
      for (int int8 = 0; int8 < 2; ++int8) {
        GraphDef def;
        def.inputs = {"x"};
        def.outputs = {"y"};
        Node n{"c", "conv2d", {{"padding", l.k / 2}, {"activation", "silu"}}, {"x"}, {"c.weight", "c.bias"}, {"y"}};
        if (int8) n.attrs["input_scale"] = 1.0 / 127.0;
        def.nodes = {n};
        const Graph g(def, conv_weights(l.O, l.C, l.k));
        method[int8] = g.plan({x.shape()})->kernel(0).method();
        ms[int8] = time_ms(g, x, threads);
      }
      std::printf("%dx%d %3lld->%3lld at %3lldx%-3lld threads %d: median float %6.2f ms, int8 %6.2f ms: %.2fx"
                  " (fastest %6.2f, %6.2f: %.2fx) [%s; %s]\n",
                  l.k, l.k, static_cast<long long>(l.C), static_cast<long long>(l.O), static_cast<long long>(l.size),
                  static_cast<long long>(l.size), threads, ms[0].median, ms[1].median, ms[0].median / ms[1].median,
                  ms[0].best, ms[1].best, ms[0].best / ms[1].best, method[0].c_str(), method[1].c_str());
    }
  }
}
