// Element-wise add. The fast path sums a cache-sized chunk and runs the
// activation over it while it is still hot, instead of a second pass.
#include "engine/ops/add.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/graph.h"
#include "engine/parallel.h"

namespace spdinfer {

Shape add_output_shape(const Shape& a, const Shape& b) {
  if (a != b)
    throw Error("add: input shapes differ: " + shape_to_string(a) + " and " + shape_to_string(b) +
                " (broadcasting is not supported)");
  return a;
}

namespace {

void check_shapes(const Tensor& a, const Tensor& b, const Tensor& out) {
  const Shape expected = add_output_shape(a.shape(), b.shape());
  if (out.shape() != expected)
    throw Error("add: output shape " + shape_to_string(out.shape()) + ", expected " +
                shape_to_string(expected));
}

}  // namespace

void add_reference(const Tensor& a, const Tensor& b, const AddParams& params, Tensor& out) {
  check_shapes(a, b, out);
  for (int64_t i = 0; i < a.numel(); ++i) out[i] = a[i] + b[i];
  activation_reference(out, params.activation, out);
}

void add(const Tensor& a, const Tensor& b, const AddParams& params, Tensor& out, int threads) {
  check_shapes(a, b, out);
  // 16 Ki floats = 64 KiB per operand: the chunk stays in L2 between the sum and the activation.
  constexpr int64_t kChunk = 1 << 14;
  const int64_t n = a.numel();
  const float* pa = a.data();
  const float* pb = b.data();
  float* po = out.data();
  parallel_for((n + kChunk - 1) / kChunk, threads, [&](int64_t c) {
    const int64_t begin = c * kChunk, end = std::min(n, begin + kChunk);
    for (int64_t i = begin; i < end; ++i) po[i] = pa[i] + pb[i];
    apply_activation(po + begin, end - begin, params.activation);
  });
}

namespace {
class AddKernel : public Kernel {
 public:
  AddKernel(const Node& node, const std::vector<Shape>& in) {
    p_.activation = activation_attr(node);
    output_shape_ = add_output_shape(in[0], in[1]);
  }
  void run(const std::vector<const Tensor*>& inputs, Tensor& out, float*, int threads) const override {
    add(*inputs[0], *inputs[1], p_, out, threads);
  }

 private:
  AddParams p_;
};
}  // namespace

OpDef add_op() {
  OpDef d = unary_op("add", [](const Node& n, const std::vector<Shape>& s,
                               const std::vector<const Tensor*>&) -> std::unique_ptr<Kernel> {
    return std::make_unique<AddKernel>(n, s);
  });
  d.min_inputs = d.max_inputs = 2;
  return d;
}

}  // namespace spdinfer
