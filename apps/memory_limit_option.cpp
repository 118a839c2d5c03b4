#include "apps/memory_limit_option.h"

#include "engine/memory_budget.h"

namespace spdinfer::cli {

void add_memory_limit_option(CLI::App& command) {
  command.preparse_callback([](std::size_t) { memory_limit_bytes(); });
  command.add_option_function<std::string>(
      "--memory-limit",
      [](const std::string& text) { set_memory_limit_bytes(parse_memory_size(text, "--memory-limit")); },
      "most memory one forward pass may take for activations, e.g. 4G (default: 2G, or $" +
          std::string(kMemoryLimitVariable) + ")");
}

}  // namespace spdinfer::cli
