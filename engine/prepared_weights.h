// What kernels derive from a node's weights (Winograd's transformed matrices, int8 panels): made
// once per graph and shared by the plans of every input shape, instead of once per plan.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace spdinfer {

class PreparedWeights {
 public:
  // The object stored under `key`, made by make() (a std::shared_ptr<const T>) the first time.
  // The key names what was derived ("winograd", "int8 avx2"): one key, one type.
  template <class T, class Make>
  std::shared_ptr<const T> get(const std::string& key, Make make) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = items_.find(key);
    if (it == items_.end()) it = items_.emplace(key, std::shared_ptr<const void>(make())).first;
    return std::static_pointer_cast<const T>(it->second);
  }

  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return items_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const void>> items_;
};

}  // namespace spdinfer
