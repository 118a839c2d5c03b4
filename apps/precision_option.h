// `--precision int8|fp32` for the commands that can run a model either way
// (val, bench): not given, the model file's own precision.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "models/model.h"

namespace spdinfer::cli {

void add_precision_option(CLI::App* command, std::string& precision);
// The load options for the option's value ("" for the file's precision).
LoadOptions precision_load_options(const std::string& precision);

}  // namespace spdinfer::cli
