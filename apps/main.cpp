// spdinfer: run SPD-Conv networks converted from PyTorch. Thin: parsing and
// printing only; the numerics are in engine/ and models/.
#include <cstdio>
#include <exception>
#include <new>

#include "apps/cli_app.h"
#include "apps/commands.h"
#include "engine/error.h"

int main(int argc, char** argv) {
  const std::unique_ptr<CLI::App> owned = spdinfer::cli::make_app();
  CLI::App& app = *owned;
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
