// Running a Python script the binary carries (CMake embeds its text, cmake/embed_text.cmake):
// `python3 -c SOURCE ARGS...` with the interpreter $SPDINFER_PYTHON names, else /usr/bin/python3
// (Debian's, where python3-matplotlib installs), else python3 on PATH. Used for the figures
// (eval/plots.py), which need matplotlib; the numbers they show are all computed in C++.
#pragma once

#include <string>
#include <vector>

namespace spdinfer::cli {

// The text of eval/plots.py (generated source, see CMakeLists.txt).
extern const char* const kPlotsScript;

// Runs `script` with `args` and waits. Its output goes nowhere visible; on failure throws
// spdinfer::Error("<blame>: ..." ) with the script's last stderr line, or, when it could not
// import `needs_module` (the script exits 3 then), what to install.
void run_python_script(const char* script, const std::vector<std::string>& args, const std::string& blame,
                       const std::string& needs_module, const std::string& debian_package);

}  // namespace spdinfer::cli
