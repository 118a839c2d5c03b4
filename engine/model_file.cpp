// Model-file reader: the container rules, one check at a time, each with its
// own message, because this is what stands between the engine and a file
// from anywhere.
#include "engine/model_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include "engine/error.h"
#include "engine/half.h"

namespace spdinfer {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw Error(path + ": " + what); }

// Strict UTF-8 (RFC 3629): no overlong forms, no UTF-16 surrogates, nothing above U+10FFFF.
bool valid_utf8(const std::uint8_t* s, std::size_t n) {
  std::size_t i = 0;
  while (i < n) {
    const std::uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;  // continuation byte, overlong C0/C1, or F5..FF
    }
    if (n - i < len || s[i + 1] < lo || s[i + 1] > hi) return false;
    for (std::size_t k = 2; k < len; ++k)
      if ((s[i + k] & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

// At most about 100 bytes of `s` for a message (names and values come from the
// file and may be megabytes long), cut at a character boundary.
std::string shorten(const std::string& s) {
  constexpr std::size_t kMax = 100;
  if (s.size() <= kMax) return s;
  std::size_t n = kMax;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n) + "...";
}

// A JSON value for a message, without printing nested values (which may be
// nested a million levels deep: the serializer recurses).
std::string describe(const nlohmann::json& v) {
  if (v.is_array()) return "a list";
  if (v.is_object()) return "an object";
  return shorten(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::size_t dtype_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F16") return 2;
  if (dtype == "I8") return 1;
  return 0;
}

struct Entry {
  TensorInfo info;
  std::uint64_t begin = 0, end = 0;
};

Entry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& j) {
  const std::string where = "tensor '" + shorten(name) + "'";
  if (!j.is_object()) fail(path, where + ": header entry is not a JSON object");
  for (const auto& [key, value] : j.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      fail(path,
           where + ": unknown header field '" + shorten(key) + "' (expected dtype, shape, data_offsets)");
  Entry e;
  e.info.name = name;
  auto dtype = j.find("dtype");
  if (dtype == j.end() || !dtype->is_string()) fail(path, where + ": missing or non-string dtype");
  e.info.dtype = dtype->get<std::string>();
  if (!dtype_size(e.info.dtype))
    fail(path, where + ": unsupported dtype '" + shorten(e.info.dtype) + "' (expected F32, F16 or I8)");
  auto shape = j.find("shape");
  if (shape == j.end() || !shape->is_array()) fail(path, where + ": missing or non-list shape");
  if (shape->size() > 8) fail(path, where + ": shape has " + std::to_string(shape->size()) + " dimensions");
  for (std::size_t i = 0; i < shape->size(); ++i) {
    const auto& d = (*shape)[i];
    if (!d.is_number_unsigned())
      fail(path, where + ": shape dimension " + std::to_string(i) + " is " + describe(d) +
                     ", not a non-negative integer");
    if (d.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(path, where + ": shape dimension " + d.dump() + " is too large");
    e.info.shape.push_back(d.get<int64_t>());
  }
  auto offsets = j.find("data_offsets");
  if (offsets == j.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
    fail(path, where + ": data_offsets must be [begin, end], non-negative integers");
  e.begin = (*offsets)[0].get<std::uint64_t>();
  e.end = (*offsets)[1].get<std::uint64_t>();
  if (e.end < e.begin)
    fail(path, where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                   "] end before they begin");

  // Element count with overflow checks: the product of a crafted shape must
  // not wrap around into a small, plausible size.
  std::uint64_t numel = 1;
  for (int64_t d : e.info.shape) {
    if (d != 0 && numel > static_cast<std::uint64_t>(std::numeric_limits<int64_t>::max()) /
                              static_cast<std::uint64_t>(d))
      fail(path, where + ": shape " + shape_to_string(e.info.shape) + " overflows");
    numel *= static_cast<std::uint64_t>(d);
  }
  const std::uint64_t elem = dtype_size(e.info.dtype);
  if (numel > std::numeric_limits<std::uint64_t>::max() / elem)
    fail(path, where + ": shape " + shape_to_string(e.info.shape) + " overflows");
  if (numel * elem != e.end - e.begin)
    fail(path, where + ": shape " + shape_to_string(e.info.shape) + " of " + e.info.dtype + " needs " +
                   std::to_string(numel * elem) + " bytes, data_offsets span " +
                   std::to_string(e.end - e.begin));
  return e;
}

// The tensor's bytes (src, e.end - e.begin of them) as float32 into out.
void widen(const Entry& e, const std::uint8_t* src, Tensor& out) {
  const int64_t n = out.numel();
  if (e.info.dtype == "F32") {
    if (n) std::memcpy(out.data(), src, static_cast<std::size_t>(n) * sizeof(float));
  } else if (e.info.dtype == "I8") {
    float* dst = out.data();
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(static_cast<std::int8_t>(src[i]));
  } else {
    halves_to_floats(src, out.data(), n);
  }
}

}  // namespace

const std::string& ModelFile::meta(const std::string& key) const {
  auto it = metadata.find(key);
  if (it == metadata.end()) fail(path, "metadata has no '" + key + "' (re-run python3 -m weights_tools.convert)");
  return it->second;
}

namespace {

// Copies `size` bytes of the data section, from `offset` on, to `dest`; throws naming the file.
using ReadData = std::function<void(std::uint64_t offset, std::uint64_t size, std::uint8_t* dest)>;

// The likely first mistake: a PyTorch checkpoint where a model file belongs. torch.save writes a
// zip archive (local file header "PK\3\4") since PyTorch 1.6 and a bare pickle (protocol 2:
// 0x80 0x02) before. Read as a header length, either is past kMaxHeaderBytes, so no model file
// is mistaken for one.
void refuse_pytorch_checkpoint(const std::string& path, const std::uint8_t* first8) {
  const bool zip = first8[0] == 'P' && first8[1] == 'K' && first8[2] == 3 && first8[3] == 4;
  const bool pickle = first8[0] == 0x80 && first8[1] >= 2 && first8[1] <= 5;
  if (!zip && !pickle) return;
  fail(path, std::string(zip ? "a zip archive" : "a pickle") +
                 " (a PyTorch checkpoint?), not a spdinfer model file: convert it first with "
                 "/usr/bin/python3 -m weights_tools.convert " + path + " -o MODEL.safetensors");
}

// The header length the file's first 8 bytes declare, checked against the file's size.
std::uint64_t checked_header_length(const std::string& path, const std::uint8_t* first8, std::uint64_t size) {
  if (size < 8) fail(path, "file is " + std::to_string(size) + " bytes, too short for a model file header");
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | first8[i];
  if (header_len > kMaxHeaderBytes) refuse_pytorch_checkpoint(path, first8);
  if (header_len > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(header_len) + " exceeds the " +
                   std::to_string(kMaxHeaderBytes) + "-byte limit (not a model file?)");
  if (header_len > size - 8)
    fail(path, "header length " + std::to_string(header_len) + " runs past the end of the " +
                   std::to_string(size) + "-byte file (truncated?)");
  return header_len;
}

// Everything after the 8 length bytes: the header is parsed and checked, then every tensor is
// read through `read_data` into its own storage.
ModelFile parse_model(const std::string& path, const std::uint8_t* header, std::uint64_t header_len,
                      std::uint64_t data_size, bool require_spdinfer_metadata, const ReadData& read_data) {
  if (!valid_utf8(header, header_len)) fail(path, "header is not valid UTF-8");

  // Duplicate keys must be an error (JSON parsers keep the last one silently), at every level.
  auto duplicate = [](const std::vector<std::string>& keys) -> std::string {
    if (keys.size() == 1)
      return keys[0] == "__metadata__" ? "'__metadata__' appears twice in the header"
                                       : "tensor '" + shorten(keys[0]) + "' appears twice in the header";
    if (keys[0] == "__metadata__") return "metadata '" + shorten(keys[1]) + "' appears twice";
    return "tensor '" + shorten(keys[0]) + "': field '" + shorten(keys[1]) + "' appears twice";
  };
  const nlohmann::json j =
      parse_json_checked(path, "header", std::string_view(reinterpret_cast<const char*>(header), header_len),
                         kHeaderJsonLimits, duplicate);
  if (!j.is_object()) fail(path, "header is not a JSON object");

  ModelFile file;
  file.path = path;
  std::vector<Entry> entries;
  if (j.size() > kMaxTensors + 1)
    fail(path, "more than " + std::to_string(kMaxTensors) + " tensors (not a model file?)");
  // Metadata first, so that a file of a newer format version is refused by its version
  // before any of its tensors is judged.
  auto meta = j.find("__metadata__");
  if (meta != j.end()) {
    if (!meta->is_object()) fail(path, "__metadata__ is not a JSON object");
    for (const auto& [key, v] : meta->items()) {
      if (!v.is_string()) fail(path, "metadata '" + shorten(key) + "' is " + describe(v) + ", not a string");
      file.metadata[key] = v.get<std::string>();
    }
  }

  if (require_spdinfer_metadata) {
    auto format = file.metadata.find("format");
    if (format == file.metadata.end() || format->second != kModelFormatName)
      fail(path, "not a spdinfer model file (" +
                     (format == file.metadata.end()
                          ? std::string("metadata has no 'format'")
                          : "metadata 'format' is '" + shorten(format->second) + "', expected 'spdinfer'") +
                     "); convert the checkpoint with python3 -m weights_tools.convert");
    auto version = file.metadata.find("format_version");
    const bool v1 = version != file.metadata.end() && version->second == std::to_string(kModelFormatVersion);
    const bool v2 = version != file.metadata.end() && version->second == std::to_string(kQuantizedModelFormatVersion);
    if (!v1 && !v2)
      fail(path, "unknown model format version '" +
                     (version == file.metadata.end() ? std::string("(none)") : shorten(version->second)) +
                     "' (this spdinfer reads versions " + std::to_string(kModelFormatVersion) + " and " +
                     std::to_string(kQuantizedModelFormatVersion) + "); re-run python3 -m weights_tools.convert");
    const bool quantized = file.metadata.count("quantization") > 0;
    if (v2 && !quantized)
      fail(path, "format version 2 (an int8 model) without metadata 'quantization'");
    if (v1 && quantized)
      fail(path, "metadata 'quantization' in a format version 1 file (an int8 model is version 2)");
  }
  for (const auto& [name, value] : j.items())
    if (name != "__metadata__") entries.push_back(parse_entry(path, name, value));

  // Data layout: tensors packed back to back from offset 0, covering the
  // data section exactly.
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::stable_sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin < b->begin || (a->begin == b->begin && a->end < b->end);
  });
  std::uint64_t expected = 0;
  const Entry* previous = nullptr;
  for (const Entry* e : by_offset) {
    if (e->end > data_size)
      fail(path, "tensor '" + shorten(e->info.name) + "': data_offsets [" + std::to_string(e->begin) + ", " +
                     std::to_string(e->end) + "] run past the end of the " + std::to_string(data_size) +
                     "-byte data section (truncated?)");
    if (e->begin < expected)
      fail(path, "tensor '" + shorten(e->info.name) + "': data overlaps tensor '" +
                     shorten(previous->info.name) + "' (bytes [" + std::to_string(e->begin) + ", " +
                     std::to_string(e->end) + "] vs [" + std::to_string(previous->begin) + ", " +
                     std::to_string(previous->end) + "])");
    if (e->begin > expected)
      fail(path, "tensor '" + shorten(e->info.name) + "': data starts at " + std::to_string(e->begin) +
                     ", expected " + std::to_string(expected) + " (offsets must be contiguous from 0)");
    expected = e->end;
    previous = e;
  }
  if (expected != data_size)
    fail(path, std::to_string(data_size - expected) + " trailing bytes after the last tensor");

  // Every size is now known to lie within the file: allocation is bounded by it. Float32
  // tensors are read straight into their storage, float16 and int8 ones through one reused buffer.
  std::vector<std::uint8_t> half_bytes;
  for (const Entry* e : by_offset) {
    Tensor t(e->info.shape);
    const std::uint64_t bytes = e->end - e->begin;
    if (e->info.dtype == "F32") {
      if (bytes) read_data(e->begin, bytes, reinterpret_cast<std::uint8_t*>(t.data()));
    } else {
      half_bytes.resize(static_cast<std::size_t>(bytes));
      if (bytes) read_data(e->begin, bytes, half_bytes.data());
      widen(*e, half_bytes.data(), t);
    }
    file.weights.emplace(e->info.name, std::move(t));
    file.tensors.push_back(e->info);
  }
  return file;
}

// Reads the file one tensor at a time, so that loading needs about the weights' size in
// memory rather than twice it.
ModelFile load_file(const std::string& path, bool require_spdinfer_metadata) {
  // Only regular files: a directory opens and claims a huge size on some file
  // systems, a device or pipe has no size.
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (ec) fail(path, "cannot open: " + ec.message());
  if (!std::filesystem::is_regular_file(status)) fail(path, "not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  if (end < 0) fail(path, "cannot read (not a regular file?)");
  const auto size = static_cast<std::uint64_t>(end);
  in.seekg(0);
  auto read_at = [&](std::uint64_t offset, std::uint64_t count, std::uint8_t* dest) {
    in.seekg(static_cast<std::streamoff>(offset));
    if (!in.read(reinterpret_cast<char*>(dest), static_cast<std::streamsize>(count)))
      fail(path, "read error (was the file changed while it was read?)");
  };
  std::uint8_t first8[8] = {};
  if (size >= 8) read_at(0, 8, first8);
  const std::uint64_t header_len = checked_header_length(path, first8, size);
  std::vector<std::uint8_t> header(static_cast<std::size_t>(header_len));
  if (header_len) read_at(8, header_len, header.data());
  const std::uint64_t data_start = 8 + header_len;
  return parse_model(path, header.data(), header_len, size - data_start, require_spdinfer_metadata,
                     [&](std::uint64_t offset, std::uint64_t count, std::uint8_t* dest) {
                       read_at(data_start + offset, count, dest);
                     });
}

}  // namespace

ModelFile parse_model_file(const std::string& path, const std::uint8_t* bytes, std::size_t size,
                           bool require_spdinfer_metadata) {
  const std::uint64_t header_len = checked_header_length(path, bytes, size);
  const std::uint8_t* data = bytes + 8 + header_len;
  return parse_model(path, bytes + 8, header_len, size - 8 - header_len, require_spdinfer_metadata,
                     [&](std::uint64_t offset, std::uint64_t count, std::uint8_t* dest) {
                       std::memcpy(dest, data + offset, static_cast<std::size_t>(count));
                     });
}

ModelFile read_model_file(const std::string& path) { return load_file(path, true); }

ModelFile read_safetensors(const std::string& path) { return load_file(path, false); }

}  // namespace spdinfer
