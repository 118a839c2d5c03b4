#include "engine/memory_budget.h"

#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "engine/error.h"

namespace spdinfer {
namespace {

std::atomic<std::size_t> g_limit{0};  // 0: not set; the environment or the default decides

}  // namespace

std::size_t parse_memory_size(const std::string& text, const std::string& what) {
  const auto bad = [&] {
    return Error(what + " '" + text + "': expected a size such as 4G, 512M or a number of bytes, more than 0 and at most 1T");
  };
  std::size_t i = 0;
  unsigned long long value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (value > (~0ull - 9) / 10) throw bad();
    value = value * 10 + static_cast<unsigned>(text[i++] - '0');
  }
  if (i == 0) throw bad();
  std::string unit = text.substr(i);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && (unit.substr(1) == "IB" || unit.substr(1) == "B")) unit = unit.substr(0, 1);
  int shift = 0;
  if (unit == "K") shift = 10;
  else if (unit == "M") shift = 20;
  else if (unit == "G") shift = 30;
  else if (unit == "T") shift = 40;
  else if (!unit.empty() && unit != "B") throw bad();
  if (value == 0 || value > (kMaxMemoryLimitBytes >> shift)) throw bad();
  return static_cast<std::size_t>(value << shift);
}

std::size_t memory_limit_bytes() {
  const std::size_t set = g_limit.load();
  if (set) return set;
  const char* env = std::getenv(kMemoryLimitVariable);
  return env && *env ? parse_memory_size(env, kMemoryLimitVariable) : kDefaultMemoryLimitBytes;
}

void set_memory_limit_bytes(std::size_t bytes) { g_limit.store(bytes); }

std::string memory_size_text(std::size_t bytes) {
  static const char* const kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char text[48];
  if (unit == 0)
    std::snprintf(text, sizeof text, "%zu bytes", bytes);
  else
    std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

void check_memory_budget(std::size_t needed, const std::string& detail) {
  const std::size_t limit = memory_limit_bytes();
  if (needed <= limit) return;
  throw Error("needs " + memory_size_text(needed) + " (" + std::to_string(needed) + " bytes: " + detail +
              ") of activation memory, more than the limit of " + memory_size_text(limit) +
              "; raise it with --memory-limit or " + kMemoryLimitVariable);
}

void check_layer_output_total(std::size_t bytes) {
  const std::size_t limit = memory_limit_bytes();
  if (bytes / kLayerOutputsPerBudget <= limit) return;
  throw Error("its layers write " + memory_size_text(bytes) + " in one forward pass, more than " +
              std::to_string(kLayerOutputsPerBudget) + " x the activation-memory limit of " + memory_size_text(limit) +
              " (a bound on the work one pass may take); raise it with --memory-limit or " + kMemoryLimitVariable);
}

}  // namespace spdinfer
