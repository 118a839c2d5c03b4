// --classes by id or name (see class_selection.h).
#include "apps/class_selection.h"

#include <CLI/CLI.hpp>

#include <algorithm>

#include "apps/terminal_text.h"
#include "detect/detection.h"
#include "engine/error.h"

namespace spdinfer::cli {
namespace {

std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

}  // namespace

std::vector<int> resolve_classes(const std::vector<std::string>& items, const std::vector<std::string>& names,
                                 const std::string& model_path) {
  const std::size_t nc = names.size();
  std::vector<int> ids;
  for (const std::string& raw : items) {
    const std::string item = trimmed(raw);
    const std::string quoted = "--classes " + terminal_text(item) + ": ";
    if (item.empty()) throw CLI::ValidationError("--classes: an empty class in '" + terminal_text(raw) + "'; give ids or names");
    if (std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      // Compared as text first, so 99999999999999999999 is out of range rather than an overflow.
      const std::string digits = item.substr(std::min(item.find_first_not_of('0'), item.size() - 1));
      if (digits.size() > 9 || static_cast<std::size_t>(std::stoi(digits)) >= nc)
        throw CLI::ValidationError(quoted + "the model has " + std::to_string(nc) + " classes (0-" + std::to_string(nc - 1) + ")");
      ids.push_back(std::stoi(digits));
      continue;
    }
    const auto it = std::find(names.begin(), names.end(), item);
    if (it == names.end())
      throw CLI::ValidationError(quoted + "no class of that name in " + model_path + "; its classes: " +
                  terminal_text(class_names_excerpt(names)));
    ids.push_back(static_cast<int>(it - names.begin()));
  }
  return ids;
}

}  // namespace spdinfer::cli
