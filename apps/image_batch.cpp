// Input expansion, progress bar and JSON number formatting (see image_batch.h).
#include "apps/image_batch.h"

#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <system_error>

#include "engine/error.h"
#include "engine/input_file.h"
#include "image/image.h"

namespace spdinfer::cli {
namespace fs = std::filesystem;
namespace {

void note_skipped(const std::string& path) {
  std::fprintf(stderr, "spdinfer: note: skipping %s (not a .jpg, .jpeg, .png or .bmp file)\n", path.c_str());
}

bool is_directory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

std::vector<std::string> expand_glob(const std::string& pattern) {
  glob_t g{};
  const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);  // sorted unless GLOB_NOSORT
  std::vector<std::string> out;
  if (rc == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  globfree(&g);
  if (rc == GLOB_NOSPACE) throw std::bad_alloc();
  if (rc == GLOB_ABORTED) throw Error(pattern + ": cannot read a directory while expanding the pattern");
  return out;
}

}  // namespace

std::vector<std::string> expand_image_inputs(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  auto add_filtered = [&](const std::vector<std::string>& candidates) {
    for (const std::string& f : candidates) {
      if (is_directory(f)) continue;
      if (has_image_extension(f))
        files.push_back(f);
      else
        note_skipped(f);
    }
  };
  for (const std::string& arg : args) {
    std::error_code ec;
    const fs::file_status st = fs::status(arg, ec);
    if (fs::is_directory(st)) {
      const std::size_t before = files.size();
      add_filtered(list_folder(arg));
      if (files.size() == before) throw Error(arg + ": directory has no .jpg, .jpeg, .png or .bmp files");
    } else if (fs::exists(st)) {
      files.push_back(arg);
    } else if (arg.find_first_of("*?[") != std::string::npos) {
      const std::vector<std::string> matches = expand_glob(arg);
      if (matches.empty()) throw Error(arg + ": no files match this pattern");
      const std::size_t before = files.size();
      add_filtered(matches);
      if (files.size() == before)
        throw Error(arg + ": no .jpg, .jpeg, .png or .bmp files match this pattern");
    } else {
      throw Error(arg + ": no such file or directory");
    }
  }
  if (files.empty()) throw Error("no images given");
  return files;
}

ProgressBar::ProgressBar(std::size_t total)
    : total_(total), enabled_(total >= kMinImages && ::isatty(STDERR_FILENO)) {}

ProgressBar::~ProgressBar() { clear(); }

void ProgressBar::update(std::size_t done) {
  if (!enabled_) return;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * done / std::max<std::size_t>(total_, 1));
  std::string bar(filled, '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r[%s] %zu/%zu (%3d%%)", bar.c_str(), done, total_,
               static_cast<int>(100 * done / std::max<std::size_t>(total_, 1)));
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

double round_significant(double value, int digits) {
  if (!std::isfinite(value) || value == 0) return value;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, value);
  return std::strtod(buf, nullptr);
}

double round_decimals(double value, int decimals) {
  if (!std::isfinite(value)) return value;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return std::strtod(buf, nullptr);
}

}  // namespace spdinfer::cli
