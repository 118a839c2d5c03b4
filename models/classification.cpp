// Softmax, top-k and label files for classifiers (see classification.h).
#include "models/classification.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <numeric>

#include "engine/error.h"
#include "engine/input_file.h"

namespace spdinfer {

std::vector<float> softmax(const std::vector<float>& logits) {
  std::vector<float> p(logits.size(), 0.0f);
  float max = -INFINITY;
  for (float v : logits)
    if (std::isfinite(v)) max = std::max(max, v);
  if (!std::isfinite(max)) return p;
  double sum = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    if (!std::isfinite(logits[i])) continue;
    const double e = std::exp(static_cast<double>(logits[i]) - max);
    p[i] = static_cast<float>(e);
    sum += e;
  }
  for (float& v : p) v = static_cast<float>(v / sum);
  return p;
}

std::vector<ClassScore> top_k(const std::vector<float>& probabilities, int k) {
  std::vector<int> order(probabilities.size());
  std::iota(order.begin(), order.end(), 0);
  // NaN mapped to -inf so the comparator stays a strict weak order.
  auto key = [&](int i) { return std::isnan(probabilities[i]) ? -INFINITY : probabilities[i]; };
  const std::size_t n = std::min<std::size_t>(std::max(k, 0), order.size());
  std::partial_sort(order.begin(), order.begin() + n, order.end(), [&](int a, int b) {
    const float ka = key(a), kb = key(b);
    return ka != kb ? ka > kb : a < b;
  });
  std::vector<ClassScore> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back({order[i], probabilities[order[i]]});
  return out;
}

std::vector<std::string> read_label_file(const std::string& path) {
  std::istringstream in(read_regular_file(path, "labels file", kMaxTextFileBytes));
  std::vector<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    const auto e = line.find_last_not_of(" \t\r");
    names.push_back(line.substr(b, e - b + 1));
  }
  return names;
}

}  // namespace spdinfer
