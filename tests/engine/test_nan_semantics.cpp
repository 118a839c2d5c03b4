// NaN, infinities and signed zero through every op that compares or clamps, in
// the reference and the fast form, with the values PyTorch gives
// (torch.relu / sigmoid / silu / max_pool2d on the same inputs): a NaN input
// must come out NaN, never as a finite, confident-looking number.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/ops/activation.h"
#include "engine/ops/add.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/pool.h"
#include "engine/ops/space_to_depth.h"
#include "test_util.h"

using namespace spdinfer;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Inputs and, per activation, what PyTorch 2 returns for them.
const std::vector<float> kSpecial = {-0.0f, kNaN, -1.0f, 2.0f, kInf, -kInf};
const std::vector<float> kRelu = {-0.0f, kNaN, 0.0f, 2.0f, kInf, 0.0f};
const std::vector<float> kSigmoid = {0.5f, kNaN, 0.26894142f, 0.88079708f, 1.0f, 0.0f};
const std::vector<float> kSilu = {-0.0f, kNaN, -0.26894142f, 1.76159416f, kInf, kNaN};

const std::vector<float>& expected_for(Activation a) {
  switch (a) {
    case Activation::ReLU: return kRelu;
    case Activation::Sigmoid: return kSigmoid;
    case Activation::SiLU: return kSilu;
    case Activation::None: break;
  }
  return kSpecial;
}

// NaN where PyTorch has NaN, the same value (and, for zeros, the same sign) elsewhere.
void check_like_pytorch(const Tensor& got, const std::vector<float>& want) {
  REQUIRE(got.numel() == static_cast<int64_t>(want.size()));
  for (std::size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i, kSpecial[i], got[i], want[i]);
    if (std::isnan(want[i])) {
      CHECK(std::isnan(got[i]));
    } else {
      CHECK(got[i] == Approx(want[i]).margin(1e-7));
      if (want[i] == 0.0f) CHECK(std::signbit(got[i]) == std::signbit(want[i]));
    }
  }
}

Tensor special_values() {
  Tensor x(Shape{static_cast<int64_t>(kSpecial.size())});
  for (std::size_t i = 0; i < kSpecial.size(); ++i) x[i] = kSpecial[i];
  return x;
}

}  // namespace

TEST_CASE("activations give PyTorch's values for NaN, +-inf and -0", "[activation][nan]") {
  const Activation a = GENERATE(Activation::None, Activation::ReLU, Activation::SiLU, Activation::Sigmoid);
  CAPTURE(activation_name(a));
  const Tensor x = special_values();
  Tensor ref(x.shape());
  activation_reference(x, a, ref);
  check_like_pytorch(ref, expected_for(a));
  Tensor fast(x.shape());
  activation(x, a, fast, 2);
  check_like_pytorch(fast, expected_for(a));
  // The raw-range form the fused ops call, over a range long enough for the vectorised loop
  // (each special value at every lane position).
  std::vector<float> range;
  for (int rep = 0; rep < 13; ++rep) range.insert(range.end(), kSpecial.begin(), kSpecial.end());
  apply_activation(range.data(), static_cast<int64_t>(range.size()), a);
  for (std::size_t i = 0; i < range.size(); ++i) {
    CAPTURE(i);
    const float want = expected_for(a)[i % kSpecial.size()];
    if (std::isnan(want))
      CHECK(std::isnan(range[i]));
    else
      CHECK(range[i] == Approx(want).margin(1e-7));
  }
}

TEST_CASE("ops with a fused ReLU keep a NaN input NaN", "[nan]") {
  const int threads = GENERATE(1, 2);
  CAPTURE(threads);
  Tensor x = spdinfer::testing::random_tensor({1, 2, 4, 4}, 5);
  x[5] = kNaN;  // channel 0, row 1, column 1
  SECTION("conv2d (1x1, 3x3)") {
    for (int k : {1, 3}) {
      CAPTURE(k);
      const Tensor w = spdinfer::testing::random_tensor({3, 2, k, k}, 6);
      Conv2dParams p;
      p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = k / 2;
      p.activation = Activation::ReLU;
      const Shape shape = conv2d_output_shape(x.shape(), w.shape(), p);
      Tensor ref(shape), fast(shape);
      conv2d_reference(x, w, nullptr, p, ref);
      std::vector<float> workspace(conv2d_workspace_floats(x.shape(), w.shape(), p, threads) + 1);
      conv2d(x, w, nullptr, p, fast, workspace.data(), threads);
      for (const Tensor* t : {&ref, &fast})
        for (int o = 0; o < 3; ++o) CHECK(std::isnan((*t)[o * 16 + 5]));  // every output channel, same pixel
    }
  }
  SECTION("batch_norm") {
    const Tensor gamma = Tensor::filled({2}, -1.0f), beta = Tensor::filled({2}, 0.0f),
                 mean = Tensor::filled({2}, 0.0f), var = Tensor::filled({2}, 1.0f);
    BatchNormParams p;
    p.activation = Activation::ReLU;
    Tensor ref(x.shape()), fast(x.shape());
    batch_norm_reference(x, gamma, beta, mean, var, p, ref);
    batch_norm(x, gamma, beta, mean, var, p, fast, threads);
    CHECK(std::isnan(ref[5]));
    CHECK(std::isnan(fast[5]));
  }
  SECTION("space_to_depth") {
    SpaceToDepthParams p;
    p.activation = Activation::ReLU;
    const Shape shape = space_to_depth_output_shape(x.shape(), p);
    Tensor ref(shape), fast(shape);
    space_to_depth_reference(x, p, ref);
    space_to_depth(x, p, fast, threads);
    // x[0, 0, 1, 1] goes to channel 3 (odd row, odd column) of group 0, at (0, 0).
    int nans_ref = 0, nans_fast = 0;
    for (int64_t i = 0; i < ref.numel(); ++i) {
      nans_ref += std::isnan(ref[i]);
      nans_fast += std::isnan(fast[i]);
    }
    CHECK(nans_ref == 1);
    CHECK(nans_fast == 1);
  }
  SECTION("add") {
    const Tensor y = Tensor::filled(x.shape(), -100.0f);
    AddParams p;
    p.activation = Activation::ReLU;
    Tensor ref(x.shape()), fast(x.shape());
    add_reference(x, y, p, ref);
    add(x, y, p, fast, threads);
    CHECK(std::isnan(ref[5]));
    CHECK(std::isnan(fast[5]));
    CHECK(fast[0] == 0.0f);
  }
  SECTION("max_pool2d, in the border windows and the interior") {
    Tensor big = spdinfer::testing::random_tensor({1, 1, 9, 9}, 8);
    big[0] = kNaN;        // corner: only padded (clamped) windows see it
    big[4 * 9 + 4] = kNaN;  // centre: interior windows
    Pool2dParams p;
    p.kernel = 3;
    p.stride = 1;
    p.padding = 1;
    const Shape shape = max_pool2d_output_shape(big.shape(), p);
    Tensor ref(shape), fast(shape);
    max_pool2d_reference(big, p, ref);
    max_pool2d(big, p, fast, threads);
    for (const Tensor* t : {&ref, &fast}) {
      CHECK(std::isnan((*t)[0]));
      CHECK(std::isnan((*t)[3 * 9 + 3]));
      CHECK(std::isnan((*t)[5 * 9 + 5]));
      CHECK_FALSE(std::isnan((*t)[8 * 9 + 8]));
    }
  }
}
