// Hands a model file's tensors to a graph builder, checking each against the
// shape the architecture needs, and afterwards that none was left over. This
// is where "missing, extra or wrongly shaped weights" become clear errors.
#pragma once

#include <set>
#include <string>

#include "engine/graph.h"

namespace spdinfer {

class WeightBinder {
 public:
  // `source` is the model file's weight store; taken tensors are moved out of it.
  WeightBinder(std::string path, WeightStore& source) : path_(std::move(path)), source_(source) {}

  bool has(const std::string& name) const { return source_.count(name) > 0; }
  // The stored shape, for the few sizes an architecture leaves to the weights
  // (e.g. a kernel size); throws naming the tensor when it is missing.
  const Shape& shape(const std::string& name) const;
  // Moves the tensor out, after checking it has exactly `expected` shape.
  Tensor take(const std::string& name, const Shape& expected);
  // Throws naming the first tensor no layer took.
  void finish() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  WeightStore& source_;
  std::set<std::string> taken_;
};

}  // namespace spdinfer
