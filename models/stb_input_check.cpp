// What stb_image v2.27 does unsafely, and the walk that finds it first:
// - JPEG: it reads a DHT table's 16 code-length counts and, without checking
//   that they sum to at most 256, fills stbi__huffman's size[257] and
//   values[256] arrays: a crafted file writes past them (heap corruption;
//   upstream stb issues #1289 / #1291, fixed in v2.28). The walk finds every
//   DHT table stb would read, the way stb finds them.
// - PNG: it grows its buffer for an IDAT chunk to the length the chunk
//   declares before reading the data, so a few bytes declaring a gigabyte
//   allocate a gigabyte (found by the image fuzzer). The walk reads the chunk
//   headers up to IEND, as stb does, and refuses a chunk that runs past the end
//   of the file: stb would fail on it too, only after the allocation.
#include "models/stb_input_check.h"

#include <cctype>
#include <cstring>

namespace spdinfer {
namespace {

constexpr std::uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
constexpr std::uint8_t kMarkerPrefix = 0xFF;
constexpr std::uint8_t kStartOfImage = 0xD8, kEndOfImage = 0xD9, kDefineHuffmanTable = 0xC4;
constexpr int kMaxHuffmanCodes = 256;

// Markers with no length field: stuffed zero, TEM, RST0-7 and SOI.
bool stands_alone(std::uint8_t m) { return m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD7) || m == kStartOfImage; }

// stb reads past the end of the data as zero bytes; so does this.
struct Reader {
  const std::uint8_t* data;
  std::size_t size;
  std::uint8_t at(std::size_t i) const { return i < size ? data[i] : 0; }
};

// The tables of one DHT segment as stb's loop reads them: class/id byte, 16 counts, the values;
// until the segment's declared length is used up.
std::string check_huffman_tables(const Reader& r, std::size_t marker_at, std::size_t body, long length) {
  for (std::size_t table = body; length > 0;) {
    long codes = 0;
    for (std::size_t k = 1; k <= 16; ++k) codes += r.at(table + k);
    if (codes > kMaxHuffmanCodes)
      return "JPEG Huffman table (DHT at byte " + std::to_string(marker_at) + ") declares " + std::to_string(codes) +
             " codes; at most 256 are possible";
    table += 17 + static_cast<std::size_t>(codes);
    length -= 17 + codes;
  }
  return "";
}

std::uint32_t big_endian_u32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

std::string unsafe_png_problem(const std::uint8_t* data, std::size_t size) {
  if (size < sizeof kPngSignature || std::memcmp(data, kPngSignature, sizeof kPngSignature) != 0) return "";
  constexpr std::size_t kChunkHeader = 8, kChunkCrc = 4;  // length and type; CRC after the data
  for (std::size_t pos = sizeof kPngSignature; pos + kChunkHeader <= size;) {
    const std::uint32_t length = big_endian_u32(data + pos);
    std::string type(reinterpret_cast<const char*>(data + pos + 4), 4);
    for (char& c : type)  // PNG chunk types are 4 ASCII letters; anything else is shown as '?'
      if (!std::isalpha(static_cast<unsigned char>(c))) c = '?';
    if (type == "IEND") break;
    const std::size_t left = size - pos - kChunkHeader;
    if (length > left)
      return "PNG chunk " + type + " at byte " + std::to_string(pos) + " declares " + std::to_string(length) +
             " bytes; the file has " + std::to_string(left) + " after its header";
    pos += kChunkHeader + length + kChunkCrc;
  }
  return "";
}

std::string unsafe_jpeg_problem(const std::uint8_t* data, std::size_t size) {
  const Reader r{data, size};
  // stb's JPEG test: 0xFF, any 0xFF fill bytes, then SOI.
  std::size_t pos = 0;
  if (r.at(pos) != kMarkerPrefix) return "";
  while (pos < size && data[pos] == kMarkerPrefix) ++pos;
  if (r.at(pos) != kStartOfImage) return "";
  ++pos;
  // Segments and the entropy-coded data between them: a marker is 0xFF, fill bytes, a code.
  while (pos < size) {
    if (data[pos] != kMarkerPrefix) {
      ++pos;
      continue;
    }
    const std::size_t marker_at = pos;
    while (pos < size && data[pos] == kMarkerPrefix) ++pos;
    if (pos >= size) break;
    const std::uint8_t marker = data[pos++];
    if (marker == kEndOfImage) break;
    if (stands_alone(marker)) continue;
    const long length = long{r.at(pos)} << 8 | r.at(pos + 1);  // includes its own 2 bytes
    if (marker == kDefineHuffmanTable) {
      std::string problem = check_huffman_tables(r, marker_at, pos + 2, length - 2);
      if (!problem.empty()) return problem;
    }
    pos += static_cast<std::size_t>(length < 2 ? 2 : length);
  }
  return "";
}

}  // namespace

std::string unsafe_for_stb(const std::uint8_t* data, std::size_t size) {
  std::string problem = unsafe_jpeg_problem(data, size);
  return problem.empty() ? unsafe_png_problem(data, size) : problem;
}

}  // namespace spdinfer
