// The header fields as stb_image v2.27 reads them (stbi__bmp_parse_header): pixel rows start at
// the header's data offset; a 12-byte (OS/2) header has 16-bit sides, the others 32-bit ones;
// a negative height means top-down rows. Compressed BMPs (RLE, JPEG, PNG) stb refuses itself.
#include "image/bmp_size_check.h"

#include <cstdlib>

namespace spdinfer {
namespace {

std::uint32_t le(const std::uint8_t* p, int bytes) {
  std::uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

}  // namespace

std::string bmp_size_problem(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kFileHeader = 14, kCoreHeader = 12, kInfoFields = 20;  // up to `compression`
  if (size < kFileHeader + 4 || data[0] != 'B' || data[1] != 'M') return "";
  const std::uint32_t offset = le(data + 10, 4), header = le(data + 14, 4);
  const bool core = header == kCoreHeader;
  if (size < kFileHeader + (core ? kCoreHeader : kInfoFields)) return "";  // stb fails on the header
  const std::int64_t width = core ? std::int64_t{le(data + 18, 2)} : std::int64_t{static_cast<std::int32_t>(le(data + 18, 4))};
  const std::int64_t height =
      core ? std::int64_t{le(data + 20, 2)} : std::llabs(std::int64_t{static_cast<std::int32_t>(le(data + 22, 4))});
  const std::uint32_t bits = le(data + (core ? 24 : 28), 2);
  const std::uint32_t compression = core ? 0 : le(data + 30, 4);
  if (compression != 0 && compression != 3) return "";  // stb refuses RLE and embedded JPEG/PNG
  // stb, or load_image's size limits (far below 2^24 a side, so no product here overflows), refuse.
  if (width <= 0 || height <= 0 || width > (1 << 24) || height > (1 << 24) || bits == 0 || bits > 32) return "";
  const std::uint64_t row_bytes = (static_cast<std::uint64_t>(width) * bits + 31) / 32 * 4;
  const std::uint64_t pixel_bytes = row_bytes * static_cast<std::uint64_t>(height);
  const std::uint64_t have = size > offset ? size - offset : 0;
  if (have >= pixel_bytes) return "";
  return "BMP header declares " + std::to_string(width) + "x" + std::to_string(height) + " pixels at " +
         std::to_string(bits) + " bits, " + std::to_string(pixel_bytes) + " bytes from byte " + std::to_string(offset) +
         "; the file has " + std::to_string(have) + " (a truncated file)";
}

}  // namespace spdinfer
