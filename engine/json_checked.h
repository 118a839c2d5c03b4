// Parsing JSON from an untrusted file within named limits (docs/design.md, "Limits"): nesting
// depth, number of values, and no key repeated within one object. The check is a linear pass
// that runs before any value is built, so no recursive copy or destructor of nlohmann's ever
// sees a deep tree, and a header with many keys costs linear time.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace spdinfer {

struct JsonLimits {
  std::size_t max_depth;   // arrays and objects nested at most this deep
  std::size_t max_values;  // values of every kind, containers included
};

// The message for a repeated key, given the keys of the objects enclosing it, outermost first,
// ending with the repeated key. Without one: "WHAT: key 'a/b/c' appears twice".
using DuplicateKeyMessage = std::function<std::string(const std::vector<std::string>& key_path)>;

// Parses `text`, or throws Error "PATH: WHAT is not valid JSON (...)", "PATH: WHAT nests more
// than N levels deep", "PATH: WHAT has more than N values" or "PATH: " + the duplicate message.
nlohmann::json parse_json_checked(const std::string& path, const std::string& what, std::string_view text,
                                  const JsonLimits& limits, const DuplicateKeyMessage& duplicate = {});

}  // namespace spdinfer
