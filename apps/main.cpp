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

// Every error: one line "spdinfer: error: ..." on stderr, without terminal control codes (messages
// quote paths and names from files), and status 2.
int fail(const std::string& message) {
  std::fprintf(stderr, "spdinfer: error: %s\n", spdinfer::cli::terminal_text(message).c_str());
  return 2;
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
  const std::string first = argv[1];
  const bool has_command = first[0] != '-' && is_command(app, first);
  // CLI11 would say only "A subcommand is required" for a misspelt command, or an option before it.
  if (first[0] != '-' && !has_command) {
    std::string known;
    const CLI::App& const_app = app;
    for (const CLI::App* sub : const_app.get_subcommands([](const CLI::App*) { return true; }))
      known += (known.empty() ? "" : ", ") + sub->get_name();
    return fail("unknown command '" + first + "': expected one of " + known + " (see spdinfer --help)");
  }
  if (first[0] == '-' && app.get_option_no_throw(first) == nullptr)
    return fail("unknown option '" + first + "': a command's options go after the command (see spdinfer --help)");
  // The command always comes first (the top level has no options of its own but --help and
  // --version), so an argument error points at that command's help.
  const std::string help = has_command ? "spdinfer " + first + " --help" : "spdinfer --help";
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Also what a command throws for an argument only it can judge (apps/commands.h).
    return fail(std::string(e.what()) + " (see " + help + ")");
  } catch (const spdinfer::Error& e) {
    return fail(e.what());
  } catch (const std::bad_alloc&) {
    return fail("out of memory");
  } catch (const std::exception& e) {
    // Last resort for what a library throws past the commands' own checks (std::filesystem's
    // filesystem_error names its paths): one line and status 2, never std::terminate.
    return fail(e.what());
  }
  return spdinfer::cli::exit_status;
}
