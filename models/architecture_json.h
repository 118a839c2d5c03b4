// Checked reads from an architecture description: a wrong type or a missing
// key is an Error naming the key, never a JSON library exception.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace spdinfer {

const nlohmann::json& arch_field(const nlohmann::json& j, const std::string& key);
int64_t arch_int(const nlohmann::json& j, const std::string& key, int64_t min, int64_t max);
// An optional boolean: `fallback` when absent; anything but true or false (0, "no") is refused.
bool arch_bool(const nlohmann::json& j, const std::string& key, bool fallback);
double arch_number(const nlohmann::json& j, const std::string& key);
std::vector<int64_t> arch_int_list(const nlohmann::json& j, const std::string& key, int64_t min, int64_t max);
// For values already extracted from a list: `what` names them in the error.
int64_t as_bounded_int(const nlohmann::json& v, const std::string& what, int64_t min, int64_t max);
// A value for an error message: scalars as JSON (at most about 100 bytes),
// lists and objects by kind only (never serialised: they may be nested
// hundreds of thousands of levels deep, and the serialiser recurses).
std::string describe_json(const nlohmann::json& v);

}  // namespace spdinfer
