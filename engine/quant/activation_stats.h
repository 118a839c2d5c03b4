// Activation-range statistics for int8 calibration: per tensor the largest
// |x| seen and a histogram of |x|, from which a clipping threshold is chosen
// (the symmetric per-tensor scale is threshold / 127).
//
//   minmax      the largest |x|;
//   percentile  the |x| below which `percentile` % of the nonzero values lie;
//   kl          the threshold whose 128-level quantised distribution is closest
//               (Kullback-Leibler) to the clipped one: TensorRT's entropy
//               calibration as ncnn's ncnn2table does it.
//
// The histogram has kBins bins over [0, range). Its range is set by the
// first nonzero batch and doubles (or grows by the least integer factor
// that fits) when a later batch has a larger |x|, merging neighbouring bins
// exactly, so one pass over the images suffices. Exact zeros (ReLU's, the
// padding's) are counted apart and left out of the histogram, as ncnn does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace spdinfer {

enum class CalibrationMethod { kMinMax, kPercentile, kKl };
// "minmax", "percentile", "kl"; throws spdinfer::Error for another name.
CalibrationMethod calibration_method(const std::string& name);
const char* calibration_method_name(CalibrationMethod method);

class ActivationStats {
 public:
  static constexpr int kBins = 2048;
  static constexpr int kTargetLevels = 128;  // kl: int8's positive levels

  void add(const float* x, std::int64_t n);

  double max_abs() const { return max_abs_; }
  std::int64_t count() const { return count_; }     // values seen
  std::int64_t nonzero() const { return nonzero_; }  // of which in the histogram
  double bin_width() const { return bin_width_; }
  const std::vector<double>& histogram() const { return hist_; }

  // The clipping threshold; 0 when no nonzero value was seen.
  double threshold(CalibrationMethod method, double percentile = 99.99) const;
  double percentile_threshold(double percentile) const;
  double kl_threshold() const;

 private:
  void grow_to(double max_abs);

  double max_abs_ = 0;
  double bin_width_ = 0;  // 0 until the first nonzero value
  std::int64_t count_ = 0, nonzero_ = 0;
  std::vector<double> hist_;
};

// threshold / 127, or 1/127 for a zero threshold (a tensor that was all zeros:
// any positive scale maps it to 0 exactly).
float scale_from_threshold(double threshold);

}  // namespace spdinfer
