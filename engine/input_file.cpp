#include "engine/input_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/error.h"

namespace spdinfer {

FilePtr open_regular_file(const std::string& path, const std::string& what, std::uint64_t* size) {
  // O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open " + what + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(path + ": cannot read " + what + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    if (S_ISDIR(st.st_mode)) throw Error(path + ": is a directory (" + what + " expected)");
    throw Error(path + ": not a regular file (a pipe or device; " + what + " expected)");
  }
  // Reads of a regular file never block; clear the flag all the same.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  FilePtr file(::fdopen(fd, "rb"));
  if (!file) {
    const int err = errno;
    ::close(fd);
    throw Error(path + ": cannot open " + what + ": " + std::strerror(err));
  }
  if (size) *size = static_cast<std::uint64_t>(st.st_size);
  return file;
}

std::string read_regular_file(const std::string& path, const std::string& what, std::uint64_t max_bytes) {
  std::uint64_t size = 0;
  FilePtr file = open_regular_file(path, what, &size);
  if (size > max_bytes)
    throw Error(path + ": " + what + " is " + std::to_string(size) + " bytes; at most " + std::to_string(max_bytes) +
                " are accepted");
  std::string text(static_cast<std::size_t>(size), '\0');
  if (size && std::fread(text.data(), 1, text.size(), file.get()) != text.size())
    throw Error(path + ": cannot read " + what + ": the file is shorter than its size, or unreadable");
  return text;
}

std::vector<std::string> list_folder(const std::string& dir, bool folders) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::error_code status_ec;
    const fs::file_status st = it->status(status_ec);
    if (!status_ec && (folders ? fs::is_directory(st) : fs::is_regular_file(st))) out.push_back(it->path().string());
  }
  if (ec) throw Error(dir + ": cannot list: " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace spdinfer
