// The spdinfer command line as a CLI11 app with every subcommand registered:
// what main() parses, and what tests/fuzz/fuzz_args.cpp parses fuzzed
// argument lists with (callbacks removed, so no command runs).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace spdinfer::cli {

std::unique_ptr<CLI::App> make_app();

}  // namespace spdinfer::cli
