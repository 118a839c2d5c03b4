// Weight checking for the model builders.
#include "models/weight_binder.h"

#include "engine/error.h"

#include <cmath>

namespace spdinfer {

const Shape& WeightBinder::shape(const std::string& name) const {
  auto it = source_.find(name);
  if (it == source_.end()) {
    if (taken_.count(name)) throw Error(path_ + ": tensor '" + name + "' is used twice by the architecture");
    throw Error(path_ + ": tensor '" + name + "' is missing (the architecture needs it)");
  }
  return it->second.shape();
}

Tensor WeightBinder::take(const std::string& name, const Shape& expected) {
  auto it = source_.find(name);
  if (it == source_.end())
    throw Error(path_ + ": tensor '" + name + "' is missing (the architecture needs shape " +
                shape_to_string(expected) + ")");
  if (it->second.shape() != expected)
    throw Error(path_ + ": tensor '" + name + "' has shape " + shape_to_string(it->second.shape()) +
                ", the architecture needs " + shape_to_string(expected));
  // A NaN or infinite weight makes every output it touches NaN or infinite: boxes and scores
  // that look like answers and mean nothing. Refused here, by name, rather than run.
  const Tensor& weights = it->second;
  for (int64_t i = 0; i < weights.numel(); ++i)
    if (!std::isfinite(weights[i]))
      throw Error(path_ + ": tensor '" + name + "' holds " + (std::isnan(weights[i]) ? "NaN" : "an infinity") +
                  " at index " + std::to_string(i) + " (weights must be finite)");
  Tensor t = std::move(it->second);
  source_.erase(it);
  taken_.insert(name);
  return t;
}

void WeightBinder::finish() const {
  if (!source_.empty())
    throw Error(path_ + ": tensor '" + source_.begin()->first + "' is not used by the architecture" +
                (source_.size() > 1 ? " (and " + std::to_string(source_.size() - 1) + " more)" : ""));
}

}  // namespace spdinfer
