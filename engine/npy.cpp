// .npy reader and writer. The header is a Python dict literal; the three keys
// NumPy writes are read from it.
#include "engine/npy.h"

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <vector>

#include "engine/error.h"
#include "engine/half.h"
#include "engine/input_file.h"

namespace spdinfer {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw Error(path + ": " + what); }

// The value of 'key' in the header's dict literal: a quoted string, True/False
// or a tuple, as NumPy writes them.
std::string dict_value(const std::string& path, const std::string& header, const std::string& key) {
  const std::size_t k = header.find("'" + key + "'");
  std::size_t v = k == std::string::npos ? k : header.find(':', k);
  if (v == std::string::npos) fail(path, ".npy header has no '" + key + "'");
  v = header.find_first_not_of(' ', v + 1);
  if (v == std::string::npos) fail(path, ".npy header is malformed at '" + key + "'");
  std::size_t end;
  if (header[v] == '\'') end = header.find('\'', v + 1);
  else if (header[v] == '(') end = header.find(')', v + 1);
  else end = header.find_first_of(",}", v) - 1;
  if (end == std::string::npos || end < v) fail(path, ".npy header is malformed at '" + key + "'");
  return header.substr(v, end - v + 1);
}

}  // namespace

Tensor read_npy(const std::string& path) {
  std::uint64_t file_size = 0;
  const FilePtr file = open_regular_file(path, ".npy file", &file_size);
  auto read = [&](void* dest, std::size_t count) { return std::fread(dest, 1, count, file.get()) == count; };
  char magic[8];
  if (!read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) fail(path, "not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(magic[6]);
  std::uint32_t header_len = 0;
  if (major == 1) {
    unsigned char b[2];
    if (!read(b, 2)) fail(path, "truncated .npy header");
    header_len = b[0] | (b[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    if (!read(b, 4)) fail(path, "truncated .npy header");
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
  } else {
    fail(path, "unsupported .npy version " + std::to_string(major));
  }
  if (header_len > (1u << 20)) fail(path, ".npy header is implausibly large");
  std::string header(header_len, '\0');
  if (!read(header.data(), header_len)) fail(path, "truncated .npy header");

  const std::string descr = dict_value(path, header, "descr");
  if (dict_value(path, header, "fortran_order") != "False") fail(path, "Fortran-order arrays are not supported");
  std::string dims = dict_value(path, header, "shape");
  Shape shape;
  for (std::size_t i = 0; i < dims.size();) {
    if (!std::isdigit(static_cast<unsigned char>(dims[i]))) {
      if (dims[i] != '(' && dims[i] != ')' && dims[i] != ',' && dims[i] != ' ')
        fail(path, ".npy shape " + dims + " is malformed");
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < dims.size() && std::isdigit(static_cast<unsigned char>(dims[j]))) ++j;
    if (j - i > 12) fail(path, ".npy shape dimension too large");
    shape.push_back(std::stoll(dims.substr(i, j - i)));
    i = j;
  }
  const int64_t n = shape_numel(shape);
  std::size_t elem = 0;
  if (descr == "'<f4'") elem = 4;
  else if (descr == "'<f8'") elem = 8;
  else if (descr == "'<f2'") elem = 2;
  else fail(path, "dtype " + descr + " is not supported (expected little-endian float32, float64 or float16)");

  const auto end = static_cast<std::streamoff>(file_size);
  const std::streamoff data_start = static_cast<std::streamoff>((major == 1 ? 10 : 12) + header_len);
  if (end - data_start != static_cast<std::streamoff>(n) * static_cast<std::streamoff>(elem))
    fail(path, "data is " + std::to_string(end - data_start) + " bytes, shape " + shape_to_string(shape) + " needs " +
                   std::to_string(n * static_cast<int64_t>(elem)));
  std::vector<char> raw(static_cast<std::size_t>(n) * elem);
  if (n && !read(raw.data(), raw.size())) fail(path, "read error");
  Tensor t(shape);
  if (elem == 4) {
    if (n) std::memcpy(t.data(), raw.data(), raw.size());
  } else if (elem == 8) {
    for (int64_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, raw.data() + 8 * i, 8);
      t[i] = static_cast<float>(d);
    }
  } else {
    halves_to_floats(reinterpret_cast<const std::uint8_t*>(raw.data()), t.data(), n);
  }
  return t;
}

void write_npy(const std::string& path, const Tensor& tensor) {
  // Python tuple syntax: "()", "(5,)", "(1, 3, 8, 8)".
  std::string dims;
  for (int64_t d : tensor.shape()) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
  if (tensor.rank() == 1) dims += ",";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad with spaces so the data starts on a 64-byte boundary, newline last.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) fail(path, std::string("cannot write: ") + std::strerror(errno));
  const std::uint16_t len = static_cast<std::uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  const char len_bytes[2] = {static_cast<char>(len & 0xFF), static_cast<char>(len >> 8)};
  out.write(len_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(tensor.data()), static_cast<std::streamsize>(tensor.numel() * 4));
  if (!out) fail(path, "write error");
}

}  // namespace spdinfer
