// The spdinfer subcommands. Each add_*_command registers its options on the
// app and the callback that runs it; callbacks throw spdinfer::Error for bad
// input, which main() turns into one line "spdinfer: error: ..." and exit 2,
// and CLI::ValidationError("--OPTION VALUE: why") for an argument only the
// command can judge (a size the model cannot take), which main() reports as
// CLI11's own parse errors: with "(see spdinfer COMMAND --help)".
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace spdinfer::cli {

void add_info_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_golden_command(CLI::App& app);
void add_val_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_classify_command(CLI::App& app);
void add_detect_command(CLI::App& app);
void add_calibrate_command(CLI::App& app);

// JSON output: one line, with bytes that are not UTF-8 (a path or class name) replaced by U+FFFD
// instead of nlohmann's type_error.
inline std::string json_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Exit status a command asks for (golden: 1 when a layer fails).
extern int exit_status;

}  // namespace spdinfer::cli
