// The one way spdinfer opens a file it reads: without blocking (a named pipe
// would wait forever for a writer), and only when it is a regular file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace spdinfer {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// Opens `path` for reading. Throws Error "PATH: cannot open WHAT: ..." when it does not
// exist, "PATH: is a directory (WHAT expected)" or "PATH: not a regular file (...)" for a folder,
// device or pipe (checked on the open file, so what is checked is what is read). `size`
// receives the file's size when given.
FilePtr open_regular_file(const std::string& path, const std::string& what, std::uint64_t* size = nullptr);

// The largest text file read whole (labels, dataset.json).
constexpr std::uint64_t kMaxTextFileBytes = 64ull << 20;

// The whole of a regular file opened as above, refused when larger than `max_bytes`.
std::string read_regular_file(const std::string& path, const std::string& what, std::uint64_t max_bytes);

// The regular files (or, with `folders`, the folders) in `dir`, links followed, as sorted
// paths. An entry whose status cannot be read (a symbolic-link loop, a dangling link) is left
// out; nothing throws but Error "DIR: cannot list: ..." when the folder itself cannot be read.
std::vector<std::string> list_folder(const std::string& dir, bool folders = false);

}  // namespace spdinfer
