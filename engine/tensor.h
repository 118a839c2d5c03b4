// Tensor: a float32 array with a shape, the only data type the engine computes on.
//
// THE SHAPE RULE: shapes are written in PyTorch order, outermost first.
//   images / activations   (N, C, H, W)   -- NCHW, W varies fastest in memory
//   conv weights           (O, C/groups, kH, kW)
//   linear weights         (out_features, in_features)
// Storage is dense and row-major in that order, exactly like a contiguous
// PyTorch tensor, so bytes copied from a checkpoint need no reordering.
//
// Ownership: a Tensor either owns 64-byte aligned storage or is a view of
// memory owned elsewhere (a planned arena, a weight file). Tensors move
// cheaply and never copy implicitly: copying is `clone()`, spelled out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace spdinfer {

using Shape = std::vector<int64_t>;

// Number of elements of a shape; throws spdinfer::Error on a negative
// dimension or when the product overflows int64.
int64_t shape_numel(const Shape& shape);
// "(1, 3, 640, 640)"
std::string shape_to_string(const Shape& shape);

// Alignment of every owned buffer: one cache line, and what AVX-512 loads like.
constexpr std::size_t kTensorAlignment = 64;

class Tensor {
 public:
  Tensor() = default;
  // Owned, uninitialised storage for `shape`.
  explicit Tensor(Shape shape);
  // Owned storage, every element zero.
  static Tensor zeros(Shape shape);
  // Owned storage, every element `value`.
  static Tensor filled(Shape shape, float value);
  // A non-owning view of `data`, which must outlive the view and hold
  // shape_numel(shape) floats.
  static Tensor view(float* data, Shape shape);

  Tensor(Tensor&& other) noexcept;
  Tensor& operator=(Tensor&& other) noexcept;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;
  ~Tensor();

  // A deep copy with owned storage.
  Tensor clone() const;
  // A view of the same data with another shape of equal element count.
  Tensor reshaped(Shape shape) const;

  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  // Dimension i; negative i counts from the end, as in PyTorch.
  int64_t dim(int i) const;
  int64_t numel() const { return numel_; }
  bool empty() const { return numel_ == 0; }
  bool owns_data() const { return owned_; }

  float* data() { return data_; }
  const float* data() const { return data_; }
  float& operator[](int64_t i) { return data_[i]; }
  float operator[](int64_t i) const { return data_[i]; }

 private:
  void release();

  float* data_ = nullptr;
  Shape shape_;
  int64_t numel_ = 0;
  bool owned_ = false;
};

// Aligned allocation shared by Tensor and the executor's arena.
float* aligned_alloc_floats(std::size_t count);
void aligned_free_floats(float* p);

}  // namespace spdinfer
