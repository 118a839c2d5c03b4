// --memory-limit SIZE, which every command that runs a model takes: the
// activation-memory budget of engine/memory_budget.h for this run.
#pragma once

#include <CLI/CLI.hpp>

namespace spdinfer::cli {

// Adds --memory-limit to `command`, and checks SPDINFER_MEMORY_LIMIT before the command runs so
// a bad value is named as the variable's fault, not the model's.
void add_memory_limit_option(CLI::App& command);

}  // namespace spdinfer::cli
