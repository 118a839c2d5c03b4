// The op table.
#include "engine/op_registry.h"

#include "engine/error.h"

namespace spdinfer {

void OpRegistry::add(OpDef def) {
  if (!def.prepare) throw Error("op '" + def.name + "' has no prepare function");
  ops_[def.name] = std::move(def);
}

const OpDef* OpRegistry::find(const std::string& name) const {
  auto it = ops_.find(name);
  return it == ops_.end() ? nullptr : &it->second;
}

std::vector<std::string> OpRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, def] : ops_) out.push_back(name);
  return out;
}

}  // namespace spdinfer
