// spdinfer: run SPD-Conv networks converted from PyTorch. Thin: parsing and
// printing only; the numerics are in engine/ and models/.
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "apps/cli_app.h"
#include "apps/terminal_text.h"
#include "apps/commands.h"
#include "engine/error.h"

namespace {

bool is_command(const CLI::App& app, const std::string& name) {
  try {
    app.get_subcommand(name);
    return true;
  } catch (const CLI::OptionNotFound&) {
    return false;
  }
}


}  // namespace

int main(int argc, char** argv) {
  const std::unique_ptr<CLI::App> owned = spdinfer::cli::make_app();
  CLI::App& app = *owned;
  // Nothing to do is a request for help, as with git or cargo: the overview on stdout, status 0.
  if (argc == 1) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  // CLI11 would say only "A subcommand is required" for a misspelt command: name it.
  const bool has_command = argv[1][0] != '-' && is_command(app, argv[1]);
  if (argv[1][0] != '-' && !has_command) {
    std::string known;
    const CLI::App& const_app = app;
    for (const CLI::App* sub : const_app.get_subcommands([](const CLI::App*) { return true; }))
      known += (known.empty() ? "" : ", ") + sub->get_name();
    std::fprintf(stderr, "spdinfer: error: unknown command '%s' (expected one of %s; see spdinfer --help)\n",
                 argv[1], known.c_str());
    return 2;
  }
  // The command always comes first (the top level has no options of its own but --help and
  // --version), so an argument error points at that command's help.
  const std::string help = has_command ? std::string("spdinfer ") + argv[1] + " --help" : "spdinfer --help";
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Also what the commands throw for an argument only they can judge (apps/commands.h).
    std::fprintf(stderr, "spdinfer: error: %s (see %s)\n", spdinfer::cli::terminal_text(e.what()).c_str(),
                 help.c_str());
    return 2;
  } catch (const spdinfer::Error& e) {
    // Messages quote paths and names from files: on one line, with no terminal control codes.
    std::fprintf(stderr, "spdinfer: error: %s\n", spdinfer::cli::terminal_text(e.what()).c_str());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "spdinfer: error: out of memory\n");
    return 2;
  } catch (const std::exception& e) {
    // Last resort for what a library throws past the commands' own checks (std::filesystem's
    // filesystem_error names its paths): one line and status 2, never std::terminate.
    std::fprintf(stderr, "spdinfer: error: %s\n", spdinfer::cli::terminal_text(e.what()).c_str());
    return 2;
  }
  return spdinfer::cli::exit_status;
}
