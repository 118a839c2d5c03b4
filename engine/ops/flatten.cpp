// Flatten: a copy in chunks, split over threads.
#include "engine/ops/flatten.h"

#include <algorithm>
#include <cstring>

#include "engine/error.h"
#include "engine/graph.h"
#include "engine/parallel.h"

namespace spdinfer {

namespace {

void check_output(const Tensor& input, const Tensor& output) {
  const Shape expected = flatten_output_shape(input.shape());
  if (output.shape() != expected)
    throw Error("flatten: output shape " + shape_to_string(output.shape()) + ", expected " +
                shape_to_string(expected));
}

}  // namespace

Shape flatten_output_shape(const Shape& input) {
  if (input.size() < 2)
    throw Error("flatten: expected an input of rank 2 or more (N, ...), got " + shape_to_string(input));
  shape_numel(input);  // throws on negative dimensions and overflow, so the product below is sound
  int64_t features = 1;
  for (std::size_t d = 1; d < input.size(); ++d) features *= input[d];
  return {input[0], features};
}

void flatten_reference(const Tensor& input, Tensor& output) {
  check_output(input, output);
  for (int64_t i = 0; i < input.numel(); ++i) output[i] = input[i];
}

void flatten(const Tensor& input, Tensor& output, int threads) {
  check_output(input, output);
  if (output.data() == input.data()) return;
  constexpr int64_t kChunk = 1 << 16;  // 256 KiB per copy
  const int64_t n = input.numel();
  parallel_for((n + kChunk - 1) / kChunk, threads, [&](int64_t c) {
    const int64_t begin = c * kChunk, len = std::min(kChunk, n - begin);
    std::memcpy(output.data() + begin, input.data() + begin, static_cast<std::size_t>(len) * sizeof(float));
  });
}

namespace {
class FlattenKernel : public Kernel {
 public:
  explicit FlattenKernel(const Shape& in) { output_shape_ = flatten_output_shape(in); }
  void run(const std::vector<const Tensor*>& inputs, Tensor& out, float*, int threads) const override {
    flatten(*inputs[0], out, threads);
  }
};
}  // namespace

OpDef flatten_op() {
  return unary_op("flatten", [](const Node&, const std::vector<Shape>& s,
                                const std::vector<const Tensor*>&) -> std::unique_ptr<Kernel> {
    return std::make_unique<FlattenKernel>(s[0]);
  });
}

}  // namespace spdinfer
