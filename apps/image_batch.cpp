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

ProgressBar::ProgressBar(std::size_t total, std::string unit, bool quiet)
    : total_(total), unit_(std::move(unit)), enabled_(!quiet && total >= kMinItems && ::isatty(STDERR_FILENO)) {}

ProgressBar::~ProgressBar() { clear(); }

void ProgressBar::update(std::size_t done) {
  if (!enabled_) return;
  if (!started_) {  // the rate excludes what came before the first update (loading the model)
    started_ = true;
    first_done_ = done;
    start_ = Clock::now();
  }
  constexpr int kWidth = 30;
  const std::size_t total = std::max<std::size_t>(total_, 1);
  const int filled = static_cast<int>(kWidth * std::min(done, total) / total);
  std::string bar(filled, '#');
  bar.resize(kWidth, '.');
  std::string speed;
  const double seconds = ms_since(start_) / 1000.0;
  const std::size_t counted = done - first_done_;
  if (counted > 0 && seconds > 0) {
    const double rate = static_cast<double>(counted) / seconds;
    char text[96];
    std::snprintf(text, sizeof text, " %.*f %s/s, ETA %s", rate < 10 ? 1 : 0, rate, unit_.c_str(),
                  clock_duration(static_cast<double>(total_ - std::min(done, total_)) / rate).c_str());
    speed = text;
  }
  std::fprintf(stderr, "\r[%s] %zu/%zu (%3d%%)%s\033[K", bar.c_str(), done, total_,
               static_cast<int>(100 * std::min(done, total) / total), speed.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

std::string clock_duration(double seconds) {
  const long long s = static_cast<long long>(std::llround(std::max(0.0, std::min(seconds, 3.6e8))));
  char text[48];
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(text, sizeof text, "%lld:%02lld", s / 60, s % 60);
  return text;
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
