// libFuzzer target: spdinfer's argument parsing. The app is built exactly as
// main() builds it (apps/cli_app.h) and parses the input as an argument list
// (arguments separated by NUL bytes) or, when it has no NUL byte, as one
// command line (CLI11 splits it as a shell would). No command runs: the main
// app's parse-complete callback, which CLI11 runs after every option is
// parsed, converted and validated and before any subcommand's callback,
// throws. (Replacing the subcommands' callbacks instead would free the option
// structs they own, which the options still write into.) Parse errors, --help
// and --version are CLI::Error and are formatted as main() would print them;
// anything else escaping is a crash.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "apps/cli_app.h"

namespace {
struct Parsed {};  // thrown once parsing is complete, before any command would run
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::unique_ptr<CLI::App> app = spdinfer::cli::make_app();
  app->parse_complete_callback([] { throw Parsed{}; });
  try {
    if (input.find('\0') == std::string::npos) {
      app->parse(input, false);
    } else {
      std::vector<std::string> args{"spdinfer"};
      std::size_t begin = 0;
      for (std::size_t end; (end = input.find('\0', begin)) != std::string::npos; begin = end + 1)
        args.push_back(input.substr(begin, end - begin));
      args.push_back(input.substr(begin));
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      app->parse(static_cast<int>(args.size()), argv.data());
    }
  } catch (const Parsed&) {
  } catch (const CLI::Error& e) {
    std::ostringstream out, err;
    app->exit(e, out, err);
  }
  return 0;
}
