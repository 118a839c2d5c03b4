// spdinfer command-line tool: entry point (placeholder until the subcommands land).
#include <cstdio>
int main() {
  std::puts("spdinfer");
  return 0;
}
