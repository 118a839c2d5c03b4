// A fresh directory under /tmp for one test, removed with everything in it when the test ends.
#pragma once

#include <filesystem>
#include <system_error>
#include <unistd.h>

namespace spdinfer::testing {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char name[] = "/tmp/spdinfer_test_XXXXXX";
    path = ::mkdtemp(name);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace spdinfer::testing
