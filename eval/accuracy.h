// Classification accuracy over a labelled dataset: top-1 and top-k counts,
// overall and per class, from the network's output scores (logits; any
// monotonic transform such as softmax ranks the same).
// What it is not: reading datasets (dataset.h) or printing (the CLI).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace spdinfer {

// How many classes rank above class `label` for these scores: those with a
// higher score, and those with an equal score and a smaller class id (the
// order of classify's top_k). NaN ranks below every number; 0 means `label` is
// the prediction. The sample counts as top-k correct when the rank is < k.
int label_rank(const float* scores, int num_classes, int label);

// The top-1 prediction in the same order: the highest score, the smallest
// class id among equal ones, NaN never chosen unless every score is NaN (then 0).
int predicted_class(const float* scores, int num_classes);

class AccuracyCounter {
 public:
  explicit AccuracyCounter(int num_classes, int k = 5);

  // Scores one sample (num_classes scores) with its true label; returns the
  // predicted class. Throws spdinfer::Error for a label out of range.
  int add(const float* scores, int label);
  // Scores a batch: `scores` is batch x num_classes, row-major.
  void add_batch(const float* scores, const std::vector<int>& labels, std::vector<int>* predictions = nullptr);

  int num_classes() const { return num_classes_; }
  int k() const { return k_; }
  int64_t count() const { return count_; }
  int64_t top1_correct() const { return top1_; }
  int64_t topk_correct() const { return topk_; }
  // Fractions in [0, 1]; 0 when nothing was counted.
  double top1() const;
  double topk() const;
  // Per true class: samples and top-1 correct ones.
  const std::vector<int64_t>& class_count() const { return class_count_; }
  const std::vector<int64_t>& class_top1_correct() const { return class_top1_; }

 private:
  int num_classes_, k_;
  int64_t count_ = 0, top1_ = 0, topk_ = 0;
  std::vector<int64_t> class_count_, class_top1_;
};

}  // namespace spdinfer
