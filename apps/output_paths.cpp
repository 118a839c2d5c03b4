// Run directories and collision-free output names (see output_paths.h).
#include "apps/output_paths.h"

#include <filesystem>
#include <set>
#include <system_error>

#include "engine/error.h"

namespace spdinfer::cli {
namespace {
namespace fs = std::filesystem;

// YOLOv5's increment_path gives up after name9999 too.
constexpr int kMaxRunNumber = 9999;

std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

}  // namespace

void make_directory(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw Error(dir + ": cannot create output directory: " + ec.message());
}

std::string claim_run_directory(const std::string& project, const std::string& name, bool exist_ok) {
  const fs::path base = fs::path(project) / name;
  if (exist_ok) {
    make_directory(base.string());
    return base.string();
  }
  if (base.has_parent_path()) make_directory(base.parent_path().string());
  for (int n = 1; n <= kMaxRunNumber; ++n) {
    const std::string candidate = n == 1 ? base.string() : base.string() + std::to_string(n);
    std::error_code ec;
    // create_directory is the claim: false (no error) when the directory already exists.
    if (fs::create_directory(candidate, ec)) return candidate;
    if (ec && !fs::exists(candidate)) throw Error(candidate + ": cannot create output directory: " + ec.message());
  }
  throw Error(base.string() + ": " + base.string() + "2 to " + std::to_string(kMaxRunNumber) +
              " all exist; choose another --name or --project, or pass --exist-ok");
}

std::vector<OutputName> distinct_output_names(const std::vector<std::string>& inputs) {
  std::set<std::string> taken;  // lower-cased stems
  std::vector<OutputName> names;
  names.reserve(inputs.size());
  for (const std::string& input : inputs) {
    const fs::path file = fs::path(input).filename();
    const std::string stem = file.stem().string(), extension = file.extension().string();
    std::string unique = stem;
    for (int n = 2; !taken.insert(ascii_lower(unique)).second; ++n) unique = stem + "_" + std::to_string(n);
    names.push_back({unique + extension, unique + ".txt"});
  }
  return names;
}

void check_inputs_not_overwritten(const std::string& dir, const std::vector<OutputName>& names,
                                  const std::vector<std::string>& inputs) {
  std::set<fs::path> sources;
  for (const std::string& input : inputs) {
    std::error_code ec;
    const fs::path canonical = fs::canonical(input, ec);
    if (!ec) sources.insert(canonical);
  }
  for (const OutputName& name : names) {
    const fs::path target = fs::path(dir) / name.image;
    std::error_code ec;
    const fs::path canonical = fs::canonical(target, ec);  // fails when the target does not exist: safe
    if (!ec && sources.count(canonical))
      throw Error(target.string() + ": saving there would overwrite an input image; choose another directory");
  }
}

}  // namespace spdinfer::cli
