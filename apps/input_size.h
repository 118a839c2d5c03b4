// The network input size, spelt the same way by every command that takes one
// (classify, val, bench; detect has its own --img/--imgsz): the names
// --img, --imgsz, --img-size and --size, as YOLOv5's scripts and spdinfer's
// older --size, and the value N (a square, or a detector's longest side) or
// HxW. And the one rule a model puts on it: both sides multiples of its
// stride, checked before anything runs, with the argument named.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "engine/tensor.h"
#include "models/model.h"

namespace spdinfer::cli {

struct InputSize {
  int height = 0, width = 0;  // 0: not given (the model's)
  bool given() const { return height > 0; }
  bool square() const { return height == width; }
  // As given: "320" or "240x320".
  std::string text() const {
    return square() ? std::to_string(height) : std::to_string(height) + "x" + std::to_string(width);
  }
};

constexpr int kMaxInputSide = 8192;

// "N" (both set to N) or "AxB" (also "AXB"), each a plain decimal in [min, max];
// false for anything else. --slice's W or WxH is read by it too.
bool parse_dimensions(const std::string& text, int min, int max, int* first, int* second);

// Registers the size option under every name, `primary` first (the name errors
// quote), e.g. "--size" or "--img". "N" or "HxW", sides 1 to kMaxInputSide.
CLI::Option* add_input_size_option(CLI::App* cmd, InputSize& size, const std::string& primary,
                                   const std::string& help);

// What each side of the model's input must be a multiple of: the largest
// detection stride of a detector, the product of the space_to_depth blocks of
// a classifier (each halves the feature map, which must be even there).
int input_multiple(const Model& model);

// "" when height and width are multiples of input_multiple(model), else "each side
// must be a multiple of 32 (the model's stride): 100 is not; 96 or 128 would do".
std::string input_multiple_problem(const Model& model, int height, int width);

// Throws CLI::ValidationError "ARGUMENT: " + input_multiple_problem(...) when there
// is one; `argument` is what the user gave, e.g. "--size 100x100".
void check_input_multiple(const Model& model, int height, int width, const std::string& argument);

// The same for an (N, 3, H, W) input tensor read from `file` (run's .npy, a golden
// file): spdinfer::Error "FILE: input shape (1, 3, 100, 100): each side must ...",
// the file's fault rather than an argument's. Tensors of another rank are left to
// the caller's own check.
void check_input_tensor(const Model& model, const Tensor& input, const std::string& file);

}  // namespace spdinfer::cli
