// Concatenation. Both forms see each tensor as (outer, len_i, inner) around
// the axis: the reference copies element by element with full index
// arithmetic, the fast form copies each input's contiguous len_i * inner
// block per outer index with memcpy, and skips an input that already lies
// where it belongs (a graph's plan can put it there: engine/graph.cpp).
#include "engine/ops/concat.h"

#include <cstring>
#include <string>

#include "engine/attributes.h"
#include "engine/error.h"
#include "engine/graph.h"
#include "engine/parallel.h"

namespace spdinfer {

namespace {

int normalized_axis(int axis, int rank) {
  const int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw Error("concat: axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  return a;
}

// (outer, inner): the products of the dimensions before and after the axis.
struct Extent {
  int64_t outer = 1;
  int64_t inner = 1;
};

Extent extent_around(const Shape& shape, int axis) {
  Extent e;
  for (int d = 0; d < axis; ++d) e.outer *= shape[d];
  for (int d = axis + 1; d < static_cast<int>(shape.size()); ++d) e.inner *= shape[d];
  return e;
}

// Validates the tensors and the output; returns the normalised axis.
int check_tensors(const std::vector<const Tensor*>& inputs, const ConcatParams& params, const Tensor& out) {
  std::vector<Shape> shapes;
  shapes.reserve(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) throw Error("concat: input " + std::to_string(i) + " is null");
    shapes.push_back(inputs[i]->shape());
  }
  const Shape expected = concat_output_shape(shapes, params);
  if (out.shape() != expected)
    throw Error("concat: output shape " + shape_to_string(out.shape()) + ", expected " +
                shape_to_string(expected));
  return normalized_axis(params.axis, out.rank());
}

}  // namespace

Shape concat_output_shape(const std::vector<Shape>& inputs, const ConcatParams& params) {
  if (inputs.empty()) throw Error("concat: no inputs");
  const Shape& first = inputs[0];
  const int axis = normalized_axis(params.axis, static_cast<int>(first.size()));
  Shape out = first;
  for (std::size_t i = 1; i < inputs.size(); ++i) {
    const Shape& s = inputs[i];
    bool agree = s.size() == first.size();
    for (std::size_t d = 0; agree && d < s.size(); ++d)
      agree = static_cast<int>(d) == axis || s[d] == first[d];
    if (!agree)
      throw Error("concat: input " + std::to_string(i) + " has shape " + shape_to_string(s) +
                  ", which does not match input 0's " + shape_to_string(first) + " outside dim " +
                  std::to_string(axis));
    out[axis] += s[axis];
  }
  shape_numel(out);  // throws on a total element count past int64
  return out;
}

void concat_reference(const std::vector<const Tensor*>& inputs, const ConcatParams& params, Tensor& out) {
  const int axis = check_tensors(inputs, params, out);
  const Extent e = extent_around(out.shape(), axis);
  const int64_t out_len = out.shape()[axis];
  int64_t offset = 0;  // where this input starts along the axis of out
  for (const Tensor* in : inputs) {
    const int64_t len = in->shape()[axis];
    for (int64_t o = 0; o < e.outer; ++o)
      for (int64_t a = 0; a < len; ++a)
        for (int64_t i = 0; i < e.inner; ++i)
          out[(o * out_len + offset + a) * e.inner + i] = (*in)[(o * len + a) * e.inner + i];
    offset += len;
  }
}

void concat(const std::vector<const Tensor*>& inputs, const ConcatParams& params, Tensor& out, int threads) {
  const int axis = check_tensors(inputs, params, out);
  const Extent e = extent_around(out.shape(), axis);
  const int64_t out_block = out.shape()[axis] * e.inner;  // floats per outer index of out
  // Where input k starts inside one outer block of out.
  std::vector<int64_t> offsets(inputs.size());
  int64_t at = 0;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    offsets[k] = at;
    at += inputs[k]->shape()[axis] * e.inner;
  }
  // One work item per (outer index, input): for channel concat of a batch
  // that is N * inputs copies of Ci * H * W floats each.
  const int64_t count = static_cast<int64_t>(inputs.size());
  parallel_for(e.outer * count, threads, [&](int64_t item) {
    const int64_t o = item / count;
    const std::size_t k = static_cast<std::size_t>(item % count);
    const int64_t block = inputs[k]->shape()[axis] * e.inner;
    float* dst = out.data() + o * out_block + offsets[k];
    const float* src = inputs[k]->data() + o * block;
    // The graph may have planned the input inside the output already (engine/graph.cpp's
    // concat_homes): its producer wrote it where it belongs.
    if (block == 0 || src == dst) return;
    std::memcpy(dst, src, static_cast<std::size_t>(block) * sizeof(float));
  });
}

namespace {
class ConcatKernel : public Kernel {
 public:
  ConcatKernel(const Node& node, const std::vector<Shape>& in) {
    p_.axis = int_attr(node, "axis", 1);
    output_shape_ = concat_output_shape(in, p_);
  }
  void run(const std::vector<const Tensor*>& inputs, Tensor& out, float*, int threads) const override {
    concat(inputs, p_, out, threads);
  }

 private:
  ConcatParams p_;
};
}  // namespace

OpDef concat_op() {
  OpDef d = unary_op("concat", [](const Node& n, const std::vector<Shape>& s,
                                  const std::vector<const Tensor*>&) -> std::unique_ptr<Kernel> {
    return std::make_unique<ConcatKernel>(n, s);
  });
  d.max_inputs = -1;
  return d;
}

}  // namespace spdinfer
