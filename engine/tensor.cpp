// Tensor storage and shape helpers.
#include "engine/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

#include "engine/error.h"

namespace spdinfer {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error("negative dimension in shape " + shape_to_string(shape));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      throw Error("shape " + shape_to_string(shape) + " has too many elements");
    n *= d;
  }
  return n;
}

std::string shape_to_string(const Shape& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + ")";
}

float* aligned_alloc_floats(std::size_t count) {
  if (count == 0) return nullptr;
  if (count > std::numeric_limits<std::size_t>::max() / sizeof(float) - kTensorAlignment)
    throw Error("tensor allocation of " + std::to_string(count) + " floats is too large");
  // aligned_alloc wants a size that is a multiple of the alignment.
  std::size_t bytes = (count * sizeof(float) + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
  void* p = std::aligned_alloc(kTensorAlignment, bytes);
  if (!p) throw std::bad_alloc();
  return static_cast<float*>(p);
}

void aligned_free_floats(float* p) { std::free(p); }

Tensor::Tensor(Shape shape) : shape_(std::move(shape)) {
  numel_ = shape_numel(shape_);
  data_ = aligned_alloc_floats(static_cast<std::size_t>(numel_));
  owned_ = true;
}

Tensor Tensor::zeros(Shape shape) { return filled(std::move(shape), 0.0f); }

Tensor Tensor::filled(Shape shape, float value) {
  Tensor t(std::move(shape));
  std::fill(t.data_, t.data_ + t.numel_, value);
  return t;
}

Tensor Tensor::view(float* data, Shape shape) {
  Tensor t;
  t.numel_ = shape_numel(shape);
  t.shape_ = std::move(shape);
  t.data_ = data;
  t.owned_ = false;
  return t;
}

Tensor::Tensor(Tensor&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      shape_(std::move(other.shape_)),
      numel_(std::exchange(other.numel_, 0)),
      owned_(std::exchange(other.owned_, false)) {
  other.shape_.clear();
}

Tensor& Tensor::operator=(Tensor&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    shape_ = std::move(other.shape_);
    other.shape_.clear();
    numel_ = std::exchange(other.numel_, 0);
    owned_ = std::exchange(other.owned_, false);
  }
  return *this;
}

Tensor::~Tensor() { release(); }

void Tensor::release() {
  if (owned_) aligned_free_floats(data_);
  data_ = nullptr;
  owned_ = false;
}

Tensor Tensor::clone() const {
  Tensor t(shape_);
  if (numel_) std::memcpy(t.data_, data_, static_cast<std::size_t>(numel_) * sizeof(float));
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  if (shape_numel(shape) != numel_)
    throw Error("cannot reshape " + shape_to_string(shape_) + " to " + shape_to_string(shape));
  return view(data_, std::move(shape));
}

int64_t Tensor::dim(int i) const {
  int r = rank();
  if (i < 0) i += r;
  if (i < 0 || i >= r)
    throw Error("dimension " + std::to_string(i) + " out of range for shape " + shape_to_string(shape_));
  return shape_[static_cast<std::size_t>(i)];
}

}  // namespace spdinfer
