#include "eval/accuracy.h"

#include <cmath>

#include "engine/error.h"

namespace spdinfer {
namespace {

// True when class a (score sa) ranks above class b (score sb), a != b.
bool ranks_above(float sa, int a, float sb, int b) {
  const bool na = std::isnan(sa), nb = std::isnan(sb);
  if (na || nb) return !na || (nb && a < b);  // numbers above NaN; NaNs by class id
  return sa > sb || (sa == sb && a < b);
}

}  // namespace

int label_rank(const float* scores, int num_classes, int label) {
  if (label < 0 || label >= num_classes)
    throw Error("label " + std::to_string(label) + " is not a class of a " + std::to_string(num_classes) +
                "-class model");
  int rank = 0;
  for (int c = 0; c < num_classes; ++c)
    if (c != label && ranks_above(scores[c], c, scores[label], label)) ++rank;
  return rank;
}

int predicted_class(const float* scores, int num_classes) {
  int best = 0;
  for (int c = 1; c < num_classes; ++c)
    if (ranks_above(scores[c], c, scores[best], best)) best = c;
  return best;
}

AccuracyCounter::AccuracyCounter(int num_classes, int k)
    : num_classes_(num_classes), k_(k), class_count_(num_classes > 0 ? num_classes : 0, 0),
      class_top1_(num_classes > 0 ? num_classes : 0, 0) {
  if (num_classes < 1) throw Error("accuracy: a model needs at least one class");
  if (k < 1) throw Error("accuracy: top-k needs k >= 1, got " + std::to_string(k));
}

int AccuracyCounter::add(const float* scores, int label) {
  const int rank = label_rank(scores, num_classes_, label);
  ++count_;
  ++class_count_[label];
  if (rank == 0) {
    ++top1_;
    ++class_top1_[label];
  }
  if (rank < k_) ++topk_;
  return rank == 0 ? label : predicted_class(scores, num_classes_);
}

void AccuracyCounter::add_batch(const float* scores, const std::vector<int>& labels, std::vector<int>* predictions) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const int p = add(scores + i * static_cast<std::size_t>(num_classes_), labels[i]);
    if (predictions) predictions->push_back(p);
  }
}

double AccuracyCounter::top1() const { return count_ ? static_cast<double>(top1_) / count_ : 0.0; }
double AccuracyCounter::topk() const { return count_ ? static_cast<double>(topk_) / count_ : 0.0; }

}  // namespace spdinfer
