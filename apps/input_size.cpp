#include "apps/input_size.h"

#include <algorithm>
#include <charconv>

#include "engine/error.h"

namespace spdinfer::cli {
namespace {

// "" with *size set, or why `text` is not N or HxW.
std::string parse_input_size(const std::string& text, InputSize* size) {
  if (!parse_dimensions(text, 1, kMaxInputSide, &size->height, &size->width))
    return "Value " + text + " is not N or HxW with sides of 1 to " + std::to_string(kMaxInputSide) + " pixels";
  return "";
}

}  // namespace

bool parse_dimensions(const std::string& text, int min, int max, int* first, int* second) {
  const char* p = text.data();
  const char* end = p + text.size();
  auto side = [&](int* value) {
    if (p == end || *p < '0' || *p > '9') return false;  // from_chars would take a sign
    const auto r = std::from_chars(p, end, *value);
    if (r.ec != std::errc() || *value < min || *value > max) return false;
    p = r.ptr;
    return true;
  };
  int a = 0, b = 0;
  if (!side(&a)) return false;
  b = a;
  if (p != end && (*p == 'x' || *p == 'X')) {
    ++p;
    if (!side(&b)) return false;
  }
  if (p != end) return false;
  *first = a;
  *second = b;
  return true;
}

CLI::Option* add_input_size_option(CLI::App* cmd, InputSize& size, const std::string& primary,
                                   const std::string& help) {
  std::string names = primary;
  for (const char* alias : {"--img", "--imgsz", "--img-size", "--size"})
    if (primary != alias) names += std::string(",") + alias;
  return cmd
      ->add_option_function<std::string>(
          names, [&size](const std::string& text) { parse_input_size(text, &size); }, help)
      ->type_name("N|HxW")
      ->check(CLI::Validator(
          [](std::string& text) {
            InputSize unused;
            return parse_input_size(text, &unused);
          },
          ""));
}

int input_multiple(const Model& model) {
  if (model.family == Family::kYoloV5)
    return model.strides.empty() ? 32 : *std::max_element(model.strides.begin(), model.strides.end());
  int multiple = 1;
  for (const Node& node : model.graph->nodes())
    if (node.op == "space_to_depth") multiple *= node.attrs.value("block", 2);
  return multiple;
}

std::string input_multiple_problem(const Model& model, int height, int width) {
  const int m = input_multiple(model);
  if (height % m == 0 && width % m == 0) return "";
  const int side = height % m ? height : width;
  const int below = side / m * m, above = below + m;
  return "each side must be a multiple of " + std::to_string(m) + " (the model's stride): " + std::to_string(side) +
         " is not; " + (below > 0 ? std::to_string(below) + " or " : "") + std::to_string(above) + " would do";
}

void check_input_multiple(const Model& model, int height, int width, const std::string& argument) {
  const std::string problem = input_multiple_problem(model, height, width);
  if (!problem.empty()) throw CLI::ValidationError(argument + ": " + problem);
}

void check_input_tensor(const Model& model, const Tensor& input, const std::string& file) {
  if (input.rank() != 4) return;
  const std::string problem =
      input_multiple_problem(model, static_cast<int>(input.dim(2)), static_cast<int>(input.dim(3)));
  if (!problem.empty()) throw Error(file + ": input shape " + shape_to_string(input.shape()) + ": " + problem);
}

}  // namespace spdinfer::cli
