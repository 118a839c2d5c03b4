// Checked architecture reads.
#include "models/architecture_json.h"

#include "engine/error.h"

namespace spdinfer {

std::string describe_json(const nlohmann::json& v) {
  if (v.is_array()) return "a list";
  if (v.is_object()) return "an object";
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  constexpr std::size_t kMax = 100;
  if (s.size() <= kMax) return s;
  std::size_t n = kMax;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // a character boundary
  return s.substr(0, n) + "...";
}

const nlohmann::json& arch_field(const nlohmann::json& j, const std::string& key) {
  if (!j.is_object() || !j.contains(key)) throw Error("architecture has no '" + key + "'");
  return j.at(key);
}

int64_t as_bounded_int(const nlohmann::json& v, const std::string& what, int64_t min, int64_t max) {
  if (!v.is_number_integer()) throw Error(what + " must be an integer, found " + describe_json(v));
  const int64_t i = v.get<int64_t>();
  if (i < min || i > max)
    throw Error(what + " is " + std::to_string(i) + ", expected " + std::to_string(min) + " to " + std::to_string(max));
  return i;
}

int64_t arch_int(const nlohmann::json& j, const std::string& key, int64_t min, int64_t max) {
  return as_bounded_int(arch_field(j, key), "architecture '" + key + "'", min, max);
}

bool arch_bool(const nlohmann::json& j, const std::string& key, bool fallback) {
  if (!j.is_object() || !j.contains(key)) return fallback;
  const auto& v = j.at(key);
  if (!v.is_boolean()) throw Error("architecture '" + key + "' must be true or false, found " + describe_json(v));
  return v.get<bool>();
}

double arch_number(const nlohmann::json& j, const std::string& key) {
  const auto& v = arch_field(j, key);
  if (!v.is_number()) throw Error("architecture '" + key + "' must be a number, found " + describe_json(v));
  return v.get<double>();
}

std::vector<int64_t> arch_int_list(const nlohmann::json& j, const std::string& key, int64_t min, int64_t max) {
  const auto& v = arch_field(j, key);
  if (!v.is_array()) throw Error("architecture '" + key + "' must be a list, found " + describe_json(v));
  std::vector<int64_t> out;
  for (std::size_t i = 0; i < v.size(); ++i)
    out.push_back(as_bounded_int(v[i], "architecture '" + key + "'[" + std::to_string(i) + "]", min, max));
  return out;
}

}  // namespace spdinfer
