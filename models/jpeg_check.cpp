// stb_image v2.27 reads a DHT table's 16 code-length counts and, without
// checking that they sum to at most 256, fills stbi__huffman's size[257] and
// values[256] arrays: a crafted file writes past them (heap corruption;
// upstream stb issues #1289 / #1291, fixed in v2.28). This walk finds every
// DHT table stb would read, the way stb finds them, and refuses such a file.
#include "models/jpeg_check.h"

namespace spdinfer {
namespace {

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

}  // namespace

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

}  // namespace spdinfer
