// Classifier post-processing: logits -> softmax probabilities -> top-k.
// What it is not: preprocessing (preprocess.h) or printing (the CLI).
#pragma once

#include <string>
#include <vector>

namespace spdinfer {

struct ClassScore {
  int class_id = 0;
  float probability = 0;
};

// Numerically stable softmax (max subtracted first). Non-finite logits count
// as -inf, so they get probability 0 and cannot poison the others; if no
// logit is finite every probability is 0.
std::vector<float> softmax(const std::vector<float>& logits);

// The k highest probabilities, highest first; equal values in class-id order.
// k is clamped to the number of classes. NaN ranks below everything.
std::vector<ClassScore> top_k(const std::vector<float>& probabilities, int k);

// Class names from a text file, one per line (trailing '\r' and surrounding
// blanks trimmed; blank lines skipped). Throws spdinfer::Error naming the file.
std::vector<std::string> read_label_file(const std::string& path);

}  // namespace spdinfer
