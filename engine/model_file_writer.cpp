// safetensors writer: header JSON padded with spaces to a multiple of 8 bytes (as the
// reference implementation does), then the tensors' bytes.
#include "engine/model_file_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "engine/error.h"

namespace spdinfer {
namespace {

std::uint16_t float_to_half(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t abs = x & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u)  // Inf or NaN (a NaN keeps a payload bit)
    return static_cast<std::uint16_t>(sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u | ((abs >> 13) & 0x3FFu) : 0u));
  if (abs >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // rounds past 65504
  if (abs < 0x38800000u) {  // a subnormal half (or zero): round abs / 2^-24 to nearest even
    if (abs < 0x33000000u) return sign;  // below half of the smallest subnormal
    const std::uint32_t mant = (abs & 0x7FFFFFu) | 0x800000u;
    const int shift = 126 - static_cast<int>(abs >> 23);  // 14..24
    std::uint32_t h = mant >> shift;
    const std::uint32_t rest = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (h & 1u))) ++h;
    return static_cast<std::uint16_t>(sign | h);
  }
  std::uint32_t h = ((abs - 0x38000000u) >> 13);  // rebias the exponent 127 -> 15
  const std::uint32_t rest = abs & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return static_cast<std::uint16_t>(sign | h);
}

std::size_t element_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F16") return 2;
  if (dtype == "I8") return 1;
  return 0;
}

}  // namespace

TensorToWrite f32_tensor(const std::string& name, const Tensor& t) {
  TensorToWrite w{name, "F32", t.shape(), std::vector<std::uint8_t>(static_cast<std::size_t>(t.numel()) * 4)};
  for (int64_t i = 0; i < t.numel(); ++i) {
    std::uint32_t bits;
    const float v = t[i];
    std::memcpy(&bits, &v, 4);
    for (int b = 0; b < 4; ++b) w.bytes[static_cast<std::size_t>(i) * 4 + b] = static_cast<std::uint8_t>(bits >> (8 * b));
  }
  return w;
}

TensorToWrite f16_tensor(const std::string& name, const Tensor& t) {
  TensorToWrite w{name, "F16", t.shape(), std::vector<std::uint8_t>(static_cast<std::size_t>(t.numel()) * 2)};
  for (int64_t i = 0; i < t.numel(); ++i) {
    const std::uint16_t h = float_to_half(t[i]);
    w.bytes[static_cast<std::size_t>(i) * 2] = static_cast<std::uint8_t>(h & 0xFF);
    w.bytes[static_cast<std::size_t>(i) * 2 + 1] = static_cast<std::uint8_t>(h >> 8);
  }
  return w;
}

TensorToWrite i8_tensor(const std::string& name, const Shape& shape, const std::vector<std::int8_t>& values) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (n != static_cast<int64_t>(values.size()))
    throw Error("tensor '" + name + "': " + std::to_string(values.size()) + " values for shape " +
                shape_to_string(shape));
  TensorToWrite w{name, "I8", shape, std::vector<std::uint8_t>(values.size())};
  std::memcpy(w.bytes.data(), values.data(), values.size());
  return w;
}

void write_safetensors(const std::string& path, const std::map<std::string, std::string>& metadata,
                       const std::vector<TensorToWrite>& tensors) {
  auto fail = [&](const std::string& what) -> void { throw Error(path + ": " + what); };
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header["__metadata__"] = meta;
  }
  std::set<std::string> names;
  std::uint64_t offset = 0;
  for (const TensorToWrite& t : tensors) {
    if (t.name == "__metadata__" || !names.insert(t.name).second) fail("tensor '" + t.name + "' written twice");
    const std::size_t elem = element_size(t.dtype);
    if (!elem) fail("tensor '" + t.name + "': cannot write dtype '" + t.dtype + "'");
    std::uint64_t n = 1;
    for (int64_t d : t.shape) {
      if (d < 0) fail("tensor '" + t.name + "': negative dimension");
      n *= static_cast<std::uint64_t>(d);
    }
    if (n * elem != t.bytes.size())
      fail("tensor '" + t.name + "': " + std::to_string(t.bytes.size()) + " bytes for shape " +
           shape_to_string(t.shape) + " of " + t.dtype);
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  text.append((8 - text.size() % 8) % 8, ' ');

  const std::filesystem::path target(path);
  std::random_device rd;
  const std::filesystem::path temp =
      target.parent_path() / ("." + target.filename().string() + ".tmp" + std::to_string(rd() % 1000000));
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) fail(std::string("cannot write: ") + std::strerror(errno));
    std::uint8_t len[8];
    for (int b = 0; b < 8; ++b) len[b] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(text.size()) >> (8 * b));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const TensorToWrite& t : tensors)
      out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
    out.flush();
    if (!out) {
      const std::string reason = std::strerror(errno);
      std::error_code ec;
      std::filesystem::remove(temp, ec);
      fail("cannot write: " + reason);
    }
  }
  std::error_code ec;
  std::filesystem::rename(temp, target, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    fail("cannot write: " + ec.message());
  }
}

}  // namespace spdinfer
