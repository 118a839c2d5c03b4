#include "engine/json_checked.h"

#include <unordered_set>

#include "engine/error.h"

namespace spdinfer {
namespace {

using Json = nlohmann::json;

// Walks the SAX events of the parser (which is itself iterative) and stops at the first
// limit crossed or key repeated.
class ShapeCheck : public nlohmann::json_sax<Json> {
 public:
  ShapeCheck(const std::string& what, const JsonLimits& limits, const DuplicateKeyMessage& duplicate)
      : what_(what), limits_(limits), duplicate_(duplicate) {}

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return open(true); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    Level& level = stack_.back();
    if (!level.keys.insert(k).second) {
      std::vector<std::string> key_path;
      for (const Level& l : stack_)
        if (l.object && &l != &level) key_path.push_back(l.current_key);
      key_path.push_back(k);
      problem = duplicate_ ? duplicate_(key_path) : default_duplicate(key_path);
      return false;
    }
    level.current_key = k;
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception&) override {
    problem = what_ + " is not valid JSON (error at byte " + std::to_string(position) + ")";
    return false;
  }

  std::string problem;

 private:
  struct Level {
    bool object;
    std::unordered_set<std::string> keys;
    std::string current_key;
  };

  std::string default_duplicate(const std::vector<std::string>& key_path) const {
    std::string joined;
    for (const auto& k : key_path) joined += (joined.empty() ? "" : "/") + k;
    return what_ + ": key '" + joined + "' appears twice";
  }
  bool value() {
    if (++values_ <= limits_.max_values) return true;
    problem = what_ + " has more than " + std::to_string(limits_.max_values) + " values";
    return false;
  }
  bool open(bool object) {
    if (!value()) return false;
    if (stack_.size() >= limits_.max_depth) {
      problem = what_ + " nests more than " + std::to_string(limits_.max_depth) + " levels deep";
      return false;
    }
    stack_.push_back({object, {}, {}});
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  const std::string& what_;
  const JsonLimits& limits_;
  const DuplicateKeyMessage& duplicate_;
  std::vector<Level> stack_;
  std::size_t values_ = 0;
};

}  // namespace

Json parse_json_checked(const std::string& path, const std::string& what, std::string_view text,
                        const JsonLimits& limits, const DuplicateKeyMessage& duplicate) {
  ShapeCheck check(what, limits, duplicate);
  if (!Json::sax_parse(text.begin(), text.end(), &check, nlohmann::detail::input_format_t::json, false))
    throw Error(path + ": " + (check.problem.empty() ? what + " is not valid JSON" : check.problem));
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception&) {
    throw Error(path + ": " + what + " is not valid JSON");
  }
}

}  // namespace spdinfer
