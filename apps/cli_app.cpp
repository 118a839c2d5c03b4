// The spdinfer app: name, version, and every subcommand (apps/cmd_*.cpp).
#include "apps/cli_app.h"

#include "apps/commands.h"
#include "apps/help_format.h"
#include "apps/machine_report.h"
#include "apps/memory_limit_option.h"

namespace spdinfer::cli {

int exit_status = 0;

std::unique_ptr<CLI::App> make_app() {
  auto app = std::make_unique<CLI::App>(
      "spdinfer: CPU inference for SPD-Conv networks (ResNet-SPD, SPD-YOLOv5, YOLOv5)", "spdinfer");
  app->require_subcommand(1);
  // Inherited by every subcommand added below: defaults shown the same way in every --help.
  app->formatter(std::make_shared<HelpFormatter>());
  app->option_defaults()->always_capture_default();
  // The version, and what this machine runs: a bug report's first lines.
  app->set_help_flag("-h,--help", "print this help and exit");  // inherited by every command
  app->set_version_flag(
      "--version",
      [] {
        std::string text = "spdinfer 0.1.0";
        for (const auto& [label, value] : machine_lines()) text += "\n" + label + ": " + value;
        return text;
      },
      "print the version and this machine's CPU and kernels, and exit");
  add_info_command(*app);
  add_run_command(*app);
  add_golden_command(*app);
  add_val_command(*app);
  add_bench_command(*app);
  add_classify_command(*app);
  add_detect_command(*app);
  add_calibrate_command(*app);
  for (const char* runs_a_model : {"run", "golden", "val", "bench", "classify", "detect", "calibrate"})
    add_memory_limit_option(*app->get_subcommand(runs_a_model));
  // Set last: a footer given before add_subcommand would be inherited by every command.
  app->footer("Run `spdinfer COMMAND --help` for a command's arguments and their defaults.");
  return app;
}

}  // namespace spdinfer::cli
