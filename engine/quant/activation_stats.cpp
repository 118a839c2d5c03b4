// Histogram bookkeeping and the three threshold rules (see activation_stats.h).
#include "engine/quant/activation_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/error.h"

namespace spdinfer {

CalibrationMethod calibration_method(const std::string& name) {
  if (name == "minmax") return CalibrationMethod::kMinMax;
  if (name == "percentile") return CalibrationMethod::kPercentile;
  if (name == "kl") return CalibrationMethod::kKl;
  throw Error("unknown calibration method '" + name + "' (expected kl, minmax or percentile)");
}

const char* calibration_method_name(CalibrationMethod method) {
  switch (method) {
    case CalibrationMethod::kMinMax: return "minmax";
    case CalibrationMethod::kPercentile: return "percentile";
    case CalibrationMethod::kKl: return "kl";
  }
  return "?";
}

void ActivationStats::grow_to(double max_abs) {
  if (bin_width_ == 0) {
    hist_.assign(kBins, 0.0);
    bin_width_ = max_abs / kBins;
    // The largest value must fall inside the last bin, not on its upper edge.
    bin_width_ = std::nextafter(bin_width_, std::numeric_limits<double>::infinity());
    return;
  }
  if (max_abs < bin_width_ * kBins) return;
  // Merge `factor` neighbouring bins into one: counts move exactly, no resampling.
  const auto factor = static_cast<int64_t>(std::floor(max_abs / (bin_width_ * kBins))) + 1;
  std::vector<double> merged(kBins, 0.0);
  for (int i = 0; i < kBins; ++i) merged[static_cast<std::size_t>(i / factor)] += hist_[static_cast<std::size_t>(i)];
  hist_ = std::move(merged);
  bin_width_ *= static_cast<double>(factor);
}

void ActivationStats::add(const float* x, std::int64_t n) {
  double batch_max = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double a = std::fabs(static_cast<double>(x[i]));
    if (std::isfinite(a)) batch_max = std::max(batch_max, a);
  }
  count_ += n;
  if (batch_max > 0) grow_to(batch_max);
  max_abs_ = std::max(max_abs_, batch_max);
  if (bin_width_ == 0) return;
  const double inv = 1.0 / bin_width_;
  for (std::int64_t i = 0; i < n; ++i) {
    const double a = std::fabs(static_cast<double>(x[i]));
    if (a == 0 || !std::isfinite(a)) continue;
    const auto bin = std::min<int64_t>(static_cast<int64_t>(a * inv), kBins - 1);
    hist_[static_cast<std::size_t>(bin)] += 1;
    ++nonzero_;
  }
}

double ActivationStats::threshold(CalibrationMethod method, double percentile) const {
  switch (method) {
    case CalibrationMethod::kMinMax: return max_abs_;
    case CalibrationMethod::kPercentile: return percentile_threshold(percentile);
    case CalibrationMethod::kKl: return kl_threshold();
  }
  return max_abs_;
}

double ActivationStats::percentile_threshold(double percentile) const {
  if (nonzero_ == 0) return 0;
  const double wanted = static_cast<double>(nonzero_) * std::clamp(percentile, 0.0, 100.0) / 100.0;
  double seen = 0;
  for (int i = 0; i < kBins; ++i) {
    seen += hist_[static_cast<std::size_t>(i)];
    if (seen >= wanted) return std::min(max_abs_, (i + 1) * bin_width_);
  }
  return max_abs_;
}

double ActivationStats::kl_threshold() const {
  if (nonzero_ == 0) return 0;
  // The reference distribution P clipped at `t` bins (the tail folded into its last bin),
  // against Q: those t bins merged into 128 levels and expanded back over P's nonzero bins.
  // Fractional bin edges share a bin between two levels in proportion, as ncnn2table does.
  std::vector<double> p(hist_.size());
  const double total = static_cast<double>(nonzero_);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = hist_[i] / total;
  constexpr double kEps = 1e-4;  // keeps the logarithms finite where a bin is empty
  int best = kBins;
  double best_kl = std::numeric_limits<double>::infinity();
  std::vector<double> clip, quant(kTargetLevels), expand;
  for (int t = kTargetLevels; t <= kBins; ++t) {
    clip.assign(static_cast<std::size_t>(t), 0.0);
    for (int j = 0; j < t; ++j) clip[static_cast<std::size_t>(j)] = p[static_cast<std::size_t>(j)];
    for (int j = t; j < kBins; ++j) clip[static_cast<std::size_t>(t - 1)] += p[static_cast<std::size_t>(j)];
    const double per_level = static_cast<double>(t) / kTargetLevels;
    std::fill(quant.begin(), quant.end(), 0.0);
    expand.assign(static_cast<std::size_t>(t), 0.0);
    for (int i = 0; i < kTargetLevels; ++i) {
      const double start = i * per_level, end = start + per_level;
      const int left_upper = static_cast<int>(std::ceil(start));
      const int right_lower = static_cast<int>(std::floor(end));
      const double left_scale = left_upper - start, right_scale = end - right_lower;
      double sum = 0, count = 0;
      if (left_upper > start && p[static_cast<std::size_t>(left_upper - 1)] != 0) {
        sum += left_scale * p[static_cast<std::size_t>(left_upper - 1)];
        count += left_scale;
      }
      if (right_lower < end && right_lower < t && p[static_cast<std::size_t>(right_lower)] != 0) {
        sum += right_scale * p[static_cast<std::size_t>(right_lower)];
        count += right_scale;
      }
      for (int j = left_upper; j < right_lower; ++j)
        if (p[static_cast<std::size_t>(j)] != 0) {
          sum += p[static_cast<std::size_t>(j)];
          count += 1;
        }
      quant[static_cast<std::size_t>(i)] = sum;
      if (count == 0) continue;
      const double level = sum / count;
      if (left_upper > start && p[static_cast<std::size_t>(left_upper - 1)] != 0)
        expand[static_cast<std::size_t>(left_upper - 1)] += left_scale * level;
      if (right_lower < end && right_lower < t && p[static_cast<std::size_t>(right_lower)] != 0)
        expand[static_cast<std::size_t>(right_lower)] += right_scale * level;
      for (int j = left_upper; j < right_lower; ++j)
        if (p[static_cast<std::size_t>(j)] != 0) expand[static_cast<std::size_t>(j)] = level;
    }
    double clip_sum = 0, expand_sum = 0;
    for (int j = 0; j < t; ++j) {
      clip[static_cast<std::size_t>(j)] += kEps;
      expand[static_cast<std::size_t>(j)] += kEps;
      clip_sum += clip[static_cast<std::size_t>(j)];
      expand_sum += expand[static_cast<std::size_t>(j)];
    }
    double kl = 0;
    for (int j = 0; j < t; ++j) {
      const double a = clip[static_cast<std::size_t>(j)] / clip_sum, b = expand[static_cast<std::size_t>(j)] / expand_sum;
      kl += a * std::log(a / b);
    }
    if (kl < best_kl) {
      best_kl = kl;
      best = t;
    }
  }
  return std::min(max_abs_, best * bin_width_);
}

float scale_from_threshold(double threshold) {
  return threshold > 0 ? static_cast<float>(threshold / 127.0) : 1.0f / 127.0f;
}

}  // namespace spdinfer
