// Activation statistics for int8 calibration (engine/quant/activation_stats.h) on synthetic data:
// minmax is the largest |x|; percentile and KL clip a rare outlier; KL keeps nearly the whole
// range of a uniform distribution; a growing range merges bins exactly; empty and all-zero
// inputs give threshold 0 and a positive scale.
#include <catch2/catch.hpp>
#include <random>
#include <vector>

#include "engine/error.h"
#include "engine/quant/activation_stats.h"

using namespace spdinfer;

namespace {

std::vector<float> gaussian(std::size_t n, unsigned seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

}  // namespace

TEST_CASE("minmax is the largest |x|; percentile and kl fall below a rare outlier", "[quant]") {
  std::vector<float> v = gaussian(200000, 1);
  v[1234] = -100.0f;  // one outlier, far beyond the rest (|x| < 6)
  ActivationStats s;
  s.add(v.data(), static_cast<int64_t>(v.size()));
  CHECK(s.max_abs() == 100.0);
  CHECK(s.threshold(CalibrationMethod::kMinMax) == 100.0);
  const double p = s.threshold(CalibrationMethod::kPercentile, 99.99);
  CHECK(p > 3.0);
  CHECK(p < 10.0);
  const double kl = s.threshold(CalibrationMethod::kKl);
  CHECK(kl > 2.0);
  CHECK(kl < 20.0);
  CHECK(scale_from_threshold(100.0) == Approx(100.0 / 127));
}

TEST_CASE("kl on a uniform distribution keeps nearly its whole range", "[quant]") {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> d(-4.0f, 4.0f);
  std::vector<float> v(400000);
  for (float& x : v) x = d(rng);
  ActivationStats s;
  s.add(v.data(), static_cast<int64_t>(v.size()));
  CHECK(s.threshold(CalibrationMethod::kKl) > 0.9 * s.max_abs());
  CHECK(s.threshold(CalibrationMethod::kPercentile, 99.0) == Approx(0.99 * s.max_abs()).epsilon(0.01));
}

TEST_CASE("a range that grows across batches merges bins without losing a count", "[quant]") {
  ActivationStats s;
  const std::vector<float> small = gaussian(10000, 5, 0.1f);
  const std::vector<float> large = gaussian(10000, 6, 10.0f);
  s.add(small.data(), 10000);
  const double width = s.bin_width();
  s.add(large.data(), 10000);
  CHECK(s.bin_width() > width);
  CHECK(s.bin_width() * ActivationStats::kBins > s.max_abs());
  double total = 0;
  for (double c : s.histogram()) total += c;
  CHECK(total == 20000);
  CHECK(s.count() == 20000);
  // The minmax threshold is the largest |x| of all batches.
  double m = 0;
  for (float x : large) m = std::max(m, static_cast<double>(std::fabs(x)));
  for (float x : small) m = std::max(m, static_cast<double>(std::fabs(x)));
  CHECK(s.threshold(CalibrationMethod::kMinMax) == m);
}

TEST_CASE("empty and all-zero inputs: threshold 0, a positive scale", "[quant]") {
  ActivationStats empty;
  empty.add(nullptr, 0);
  const std::vector<float> zeros(100, 0.0f);
  ActivationStats zero;
  zero.add(zeros.data(), 100);
  for (const ActivationStats* s : {&empty, &zero})
    for (CalibrationMethod m : {CalibrationMethod::kMinMax, CalibrationMethod::kPercentile, CalibrationMethod::kKl})
      CHECK(s->threshold(m) == 0.0);
  CHECK(zero.count() == 100);
  CHECK(zero.nonzero() == 0);
  CHECK(scale_from_threshold(0.0) > 0.0f);
}

TEST_CASE("calibration methods by name", "[quant]") {
  CHECK(calibration_method("kl") == CalibrationMethod::kKl);
  CHECK(calibration_method("minmax") == CalibrationMethod::kMinMax);
  CHECK(calibration_method("percentile") == CalibrationMethod::kPercentile);
  CHECK_THROWS_AS(calibration_method("entropy"), Error);
  CHECK(std::string(calibration_method_name(CalibrationMethod::kPercentile)) == "percentile");
}
