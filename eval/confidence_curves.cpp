#include "eval/confidence_curves.h"

#include <algorithm>
#include <cstddef>

namespace spdinfer {
namespace {

// numpy.interp(x, xp, fp, left) for xp = -scores (scores non-increasing, so xp non-decreasing)
// and x = -threshold.
double interpolate(double threshold, const std::vector<float>& scores, const std::vector<double>& values,
                   double left) {
  if (threshold > scores.front()) return left;
  if (threshold <= scores.back()) return values.back();
  // hi: the first point whose score is below the threshold; the one before it is at or above.
  const std::size_t hi = static_cast<std::size_t>(
      std::partition_point(scores.begin(), scores.end(), [&](float s) { return s >= threshold; }) - scores.begin());
  const double x = -threshold, x0 = -static_cast<double>(scores[hi - 1]), x1 = -static_cast<double>(scores[hi]);
  return values[hi - 1] + (x - x0) * (values[hi] - values[hi - 1]) / (x1 - x0);
}

}  // namespace

double confidence_threshold(int i) { return i == kConfidencePoints - 1 ? 1.0 : i * (1.0 / (kConfidencePoints - 1)); }

ConfidenceCurves confidence_curves(const std::vector<DetectionEvaluator::RankedDetection>& ranked, int64_t objects) {
  ConfidenceCurves out{std::vector<double>(kConfidencePoints, 0.0), std::vector<double>(kConfidencePoints, 0.0),
                       std::vector<double>(kConfidencePoints, 0.0)};
  if (ranked.empty() || objects <= 0) return out;
  constexpr double kEps = 1e-16;  // YOLOv5's eps in recall's denominator and F1's
  std::vector<float> scores;
  std::vector<double> precision, recall;
  double tp = 0, fp = 0;
  for (const auto& d : ranked) {
    (d.true_positive ? tp : fp) += 1;
    scores.push_back(d.score);
    recall.push_back(tp / (static_cast<double>(objects) + kEps));
    precision.push_back(tp / (tp + fp));
  }
  for (int i = 0; i < kConfidencePoints; ++i) {
    const double t = confidence_threshold(i);
    const double p = interpolate(t, scores, precision, 1.0), r = interpolate(t, scores, recall, 0.0);
    out.precision[i] = p;
    out.recall[i] = r;
    out.f1[i] = 2 * p * r / (p + r + kEps);
  }
  return out;
}

}  // namespace spdinfer
