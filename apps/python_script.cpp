#include "apps/python_script.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "engine/error.h"

extern char** environ;

namespace spdinfer::cli {
namespace {

constexpr int kMissingModule = 3;  // eval/plots.py's exit status when an import fails
constexpr std::size_t kMaxCapturedBytes = 64 << 10;

std::string interpreter() {
  if (const char* chosen = std::getenv("SPDINFER_PYTHON"); chosen && *chosen) return chosen;
  return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  const std::size_t start = text.find_last_of('\n');
  return start == std::string::npos ? text : text.substr(start + 1);
}

// Closes a descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() { close_now(); }
  void close_now() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

}  // namespace

void run_python_script(const char* script, const std::vector<std::string>& args, const std::string& blame,
                       const std::string& needs_module, const std::string& debian_package) {
  const std::string python = interpreter();
  std::vector<std::string> argv_text = {python, "-c", script};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);

  // stdout and stderr both into one pipe: the script's output must not mix with spdinfer's
  // (`--json` keeps stdout for one JSON object); stdin is /dev/null.
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw Error(blame + ": cannot start " + python + ": " + std::strerror(errno));
  Fd read_end{pipe_fds[0]}, write_end{pipe_fds[1]};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.fd, 1);
  posix_spawn_file_actions_adddup2(&actions, write_end.fd, 2);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, python.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  write_end.close_now();
  if (spawned != 0)
    throw Error(blame + ": cannot run " + python + " (" + std::strerror(spawned) + "); the figures need Python 3 with " +
                needs_module + " (Debian: apt-get install " + debian_package + "; or set SPDINFER_PYTHON)");

  std::string output;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(read_end.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buf, static_cast<std::size_t>(n));
    if (output.size() > kMaxCapturedBytes) output.erase(0, output.size() - kMaxCapturedBytes);  // keep the end
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  if (WIFEXITED(status) && WEXITSTATUS(status) == kMissingModule)
    throw Error(blame + ": the figures need " + needs_module + " for " + python + " (Debian: apt-get install " +
                debian_package + "; or set SPDINFER_PYTHON): " + last_line(output));
  // posix_spawnp reports a missing interpreter as the child's exit 127 on glibc.
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && output.empty())
    throw Error(blame + ": cannot run " + python + "; the figures need Python 3 with " + needs_module +
                " (Debian: apt-get install " + debian_package + "; or set SPDINFER_PYTHON)");
  const std::string why = last_line(output);
  throw Error(blame + ": drawing the figures failed" + (why.empty() ? std::string() : ": " + why));
}

}  // namespace spdinfer::cli
