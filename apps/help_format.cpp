#include "apps/help_format.h"

namespace spdinfer::cli {
namespace {

// "--no-full-pass{false}" -> "--no-full-pass".
std::string without_flag_value(std::string name) { return name.substr(0, name.find('{')); }

bool shows_default(const CLI::Option* opt) {
  const std::string& value = opt->get_default_str();
  return opt->get_type_size() != 0 && !value.empty() && value != "[]" && value != "{}" &&
         opt->get_description().find("(default") == std::string::npos;
}

}  // namespace

std::string HelpFormatter::make_option_name(const CLI::Option* opt, bool is_positional) const {
  if (is_positional) return opt->get_name(true, false);
  std::string names;
  for (const std::string& name : CLI::detail::split(opt->get_name(false, true), ','))
    names += (names.empty() ? "" : ", ") + without_flag_value(name);
  return names;
}

std::string HelpFormatter::make_option_opts(const CLI::Option* opt) const {
  // The base class glues "=DEFAULT" after the type; the default goes in the description instead.
  std::string opts = CLI::Formatter::make_option_opts(opt);
  const std::string glued = "=" + opt->get_default_str();
  if (!opt->get_default_str().empty()) {
    const std::size_t at = opts.find(glued);
    if (at != std::string::npos) opts.erase(at, glued.size());
  }
  // CLI11 names a checked integer "INT:INT in [1 - 256]": say INT once.
  const std::size_t colon = opts.find(':');
  if (colon != std::string::npos && colon > 1) {
    const std::string type = opts.substr(1, colon - 1);
    if (opts.compare(colon + 1, type.size() + 1, type + " ") == 0) opts.erase(colon, type.size() + 1);
  }
  return opts;
}

std::string HelpFormatter::make_option_desc(const CLI::Option* opt) const {
  std::string desc = opt->get_description();
  if (shows_default(opt)) desc += " (default: " + opt->get_default_str() + ")";
  return desc;
}

}  // namespace spdinfer::cli
