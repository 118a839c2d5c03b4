// spdinfer: run SPD-Conv networks converted from PyTorch. Thin: parsing and
// printing only; the numerics are in engine/ and models/.
#include <cstdio>
#include <exception>
#include <new>

#include "apps/commands.h"
#include "engine/error.h"

namespace spdinfer::cli {
int exit_status = 0;
}

int main(int argc, char** argv) {
  CLI::App app{"spdinfer: CPU inference for SPD-Conv networks (ResNet-SPD, SPD-YOLOv5, YOLOv5)", "spdinfer"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "spdinfer 0.1.0");
  spdinfer::cli::add_info_command(app);
  spdinfer::cli::add_run_command(app);
  spdinfer::cli::add_golden_command(app);
  spdinfer::cli::add_val_command(app);
  spdinfer::cli::add_bench_command(app);
  spdinfer::cli::add_classify_command(app);
  spdinfer::cli::add_detect_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "spdinfer: error: %s (see spdinfer --help)\n", e.what());
    return 2;
  } catch (const spdinfer::Error& e) {
    std::fprintf(stderr, "spdinfer: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "spdinfer: error: out of memory\n");
    return 2;
  }
  return spdinfer::cli::exit_status;
}
