// Validators for floating-point options. CLI11's Range and NonNegativeNumber
// let "nan" through (every comparison with NaN is false) and NonNegativeNumber
// takes "inf": these accept a finite number within [min, max] only.
#pragma once

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>
#include <string>

namespace spdinfer::cli {

inline std::string format_bound(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

inline CLI::Validator finite_range(double min, double max) {
  const std::string range = "[" + format_bound(min) + ", " + format_bound(max) + "]";
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0' || !std::isfinite(v) || !(v >= min && v <= max))
          return "Value " + text + " is not a finite number in " + range;
        return "";
      },
      range);
}

}  // namespace spdinfer::cli
