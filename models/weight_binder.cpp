// Weight checking for the model builders.
#include "models/weight_binder.h"

#include "engine/error.h"

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
