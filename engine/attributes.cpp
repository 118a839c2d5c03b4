// Attribute parsing for graph nodes.
#include "engine/attributes.h"

#include <limits>

#include "engine/error.h"

namespace spdinfer {
namespace {

[[noreturn]] void bad_attr(const std::string& key, const std::string& expected, const nlohmann::json& found) {
  throw Error("attribute '" + key + "' must be " + expected + ", found " + found.dump());
}

int as_int(const std::string& key, const nlohmann::json& v) {
  if (!v.is_number_integer()) bad_attr(key, "an integer", v);
  const auto i = v.get<int64_t>();
  if (i < std::numeric_limits<int>::min() || i > std::numeric_limits<int>::max())
    bad_attr(key, "an integer in int range", v);
  return static_cast<int>(i);
}

}  // namespace

int int_attr(const Node& node, const std::string& key, int fallback) {
  auto it = node.attrs.find(key);
  return it == node.attrs.end() ? fallback : as_int(key, *it);
}

float float_attr(const Node& node, const std::string& key, float fallback) {
  auto it = node.attrs.find(key);
  if (it == node.attrs.end()) return fallback;
  if (!it->is_number()) bad_attr(key, "a number", *it);
  return it->get<float>();
}

std::string string_attr(const Node& node, const std::string& key, const std::string& fallback) {
  auto it = node.attrs.find(key);
  if (it == node.attrs.end()) return fallback;
  if (!it->is_string()) bad_attr(key, "a string", *it);
  return it->get<std::string>();
}

std::array<int, 2> pair_attr(const Node& node, const std::string& key, int fallback) {
  auto it = node.attrs.find(key);
  if (it == node.attrs.end()) return {fallback, fallback};
  if (it->is_number_integer()) {
    int v = as_int(key, *it);
    return {v, v};
  }
  if (!it->is_array() || it->size() != 2) bad_attr(key, "an integer or a list of 2 integers", *it);
  return {as_int(key, (*it)[0]), as_int(key, (*it)[1])};
}

std::array<int, 4> padding_attr(const Node& node, const std::string& key) {
  auto it = node.attrs.find(key);
  if (it == node.attrs.end()) return {0, 0, 0, 0};
  if (it->is_array() && it->size() == 4)
    return {as_int(key, (*it)[0]), as_int(key, (*it)[1]), as_int(key, (*it)[2]), as_int(key, (*it)[3])};
  if (it->is_array() && it->size() != 2)
    bad_attr(key, "an integer, [h, w] or [top, left, bottom, right]", *it);
  auto [h, w] = pair_attr(node, key, 0);
  return {h, w, h, w};
}

}  // namespace spdinfer
