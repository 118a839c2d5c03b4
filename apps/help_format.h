// How `spdinfer ... --help` lists options: names joined by ", " (a negatable
// flag reads "--full-pass, --no-full-pass", without CLI11's "{false}" marker),
// and every option's default at the end of its description, "(default: 0.25)",
// instead of CLI11's "=0.25" glued to the type. An option whose description
// already states its default (one the model decides, or an on/off flag) keeps
// its own words; flags, empty strings and empty lists show none.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace spdinfer::cli {

class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_name(const CLI::Option* opt, bool is_positional) const override;
  std::string make_option_opts(const CLI::Option* opt) const override;
  std::string make_option_desc(const CLI::Option* opt) const override;
};

}  // namespace spdinfer::cli
