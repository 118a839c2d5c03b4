// What stb_image v2.27 does unsafely, and the walk that finds it first:
// - JPEG: it reads a DHT table's 16 code-length counts and, without checking
//   that they sum to at most 256, fills stbi__huffman's size[257] and
//   values[256] arrays: a crafted file writes past them (heap corruption;
//   upstream stb issues #1289 / #1291, fixed in v2.28). And it leaves its
//   decoder state uncleared, so a scan that uses a Huffman or quantisation
//   table no segment defined decodes with heap garbage: garbage Huffman tables
//   make it read far out of bounds (found by the image fuzzer). The walk reads
//   the segments the way stb finds them and checks each table count and each
//   scan's tables.
//   It also decodes every scan it finds, each over the whole image, with no
//   cap on their number: a progressive JPEG repeating one scan 100,000 times
//   takes minutes. The walk counts scans (kMaxJpegScans).
// - PNG: it grows its buffer for an IDAT chunk to the length the chunk
//   declares before reading the data, so a few bytes declaring a gigabyte
//   allocate a gigabyte (found by the image fuzzer). The walk reads the chunk
//   headers up to IEND, as stb does, and refuses a chunk that runs past the end
//   of the file: stb would fail on it too, only after the allocation.
// - Truncation: stb reads past the end of its data as zero bytes, so a cut-off
//   JPEG or BMP decodes with its missing pixels grey or black (a 54-byte BMP
//   header becomes a black 100-megapixel image). The walks refuse a JPEG that
//   ends before its end-of-image marker, a PNG that ends before IEND, and a BMP
//   shorter than its header's pixel rows (image/bmp_size_check.h).
#include "image/stb_input_check.h"

#include "image/bmp_size_check.h"

#include <cctype>
#include <cstring>
#include <vector>

namespace spdinfer {
namespace {

constexpr std::uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
constexpr std::uint8_t kMarkerPrefix = 0xFF;
constexpr std::uint8_t kStartOfImage = 0xD8, kEndOfImage = 0xD9, kDefineHuffmanTable = 0xC4,
                       kDefineQuantTable = 0xDB, kStartOfScan = 0xDA;
constexpr std::uint8_t kBaselineFrame = 0xC0, kExtendedFrame = 0xC1, kProgressiveFrame = 0xC2;
constexpr int kMaxHuffmanCodes = 256;
constexpr int kTableSlots = 4;  // table ids 0-3 for each kind; stb refuses higher ones

// Markers with no length field: stuffed zero, TEM, RST0-7 and SOI.
bool stands_alone(std::uint8_t m) { return m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD7) || m == kStartOfImage; }

// stb reads past the end of the data as zero bytes; so does this.
struct Reader {
  const std::uint8_t* data;
  std::size_t size;
  std::uint8_t at(std::size_t i) const { return i < size ? data[i] : 0; }
};

// What the segments read so far have defined, as stb keeps it. stb allocates its decoder state
// without clearing it, so a table a scan uses but no segment defined is whatever the heap held:
// garbage Huffman tables send its decoder to read far out of bounds (found by the image fuzzer).
struct JpegTables {
  bool huffman[2][kTableSlots] = {};  // [0]: DC, [1]: AC
  bool quantiser[kTableSlots] = {};
  bool progressive = false;
  bool have_frame = false;
  struct Component {
    int id, quantiser;
  };
  std::vector<Component> components;  // from the frame header (SOF)
};

std::string at_byte(const char* segment, std::size_t marker_at) {
  return std::string("(") + segment + " at byte " + std::to_string(marker_at) + ")";
}

// The tables of one DHT segment as stb's loop reads them: class/id byte, 16 counts, the values;
// until the segment's declared length is used up.
std::string read_huffman_tables(const Reader& r, std::size_t marker_at, std::size_t body, long length,
                                JpegTables& tables) {
  for (std::size_t table = body; length > 0;) {
    const int kind = r.at(table) >> 4, slot = r.at(table) & 15;
    long codes = 0;
    for (std::size_t k = 1; k <= 16; ++k) codes += r.at(table + k);
    if (codes > kMaxHuffmanCodes)
      return "JPEG Huffman table " + at_byte("DHT", marker_at) + " declares " + std::to_string(codes) +
             " codes; at most 256 are possible";
    if (kind > 1 || slot >= kTableSlots) return "";  // stb refuses the file here
    tables.huffman[kind][slot] = true;
    table += 17 + static_cast<std::size_t>(codes);
    length -= 17 + codes;
  }
  return "";
}

// DQT: precision/id byte, then 64 entries of 1 or 2 bytes, until the length is used up.
void read_quantisers(const Reader& r, std::size_t body, long length, JpegTables& tables) {
  for (std::size_t table = body; length > 0;) {
    const int precision = r.at(table) >> 4, slot = r.at(table) & 15;
    if (precision > 1 || slot >= kTableSlots) return;  // stb refuses the file here
    tables.quantiser[slot] = true;
    const long bytes = 1 + 64 * (precision + 1);
    table += static_cast<std::size_t>(bytes);
    length -= bytes;
  }
}

// SOF: precision, height, width, component count, then id / sampling / quantiser per component.
void read_frame(const Reader& r, std::uint8_t marker, std::size_t body, JpegTables& tables) {
  if (tables.have_frame) return;  // stb reads one frame header; a second is an error to it
  tables.have_frame = true;
  tables.progressive = marker == kProgressiveFrame;
  const int count = r.at(body + 5);
  for (int i = 0; i < count; ++i)
    tables.components.push_back({r.at(body + 6 + 3 * i), r.at(body + 6 + 3 * i + 2)});
}

// SOS: the tables this scan's decoding will use must have been defined. Which ones, as stb
// decodes: a baseline scan uses each component's DC and AC tables; a progressive scan its DC
// table (first DC scan), none (DC refinement) or its AC table (AC scans).
std::string check_scan(const Reader& r, std::size_t marker_at, std::size_t body, const JpegTables& tables) {
  const int count = r.at(body);
  const std::size_t after = body + 1 + 2 * static_cast<std::size_t>(count);
  const int spectral_start = r.at(after), approximation_high = r.at(after + 2) >> 4;
  const bool uses_dc = !tables.progressive || (spectral_start == 0 && approximation_high == 0);
  const bool uses_ac = !tables.progressive || spectral_start > 0;
  for (int i = 0; i < count; ++i) {
    const int id = r.at(body + 1 + 2 * i), dc = r.at(body + 2 + 2 * i) >> 4, ac = r.at(body + 2 + 2 * i) & 15;
    const JpegTables::Component* component = nullptr;
    for (const auto& c : tables.components)
      if (c.id == id) component = &c;
    if (!component || dc >= kTableSlots || ac >= kTableSlots || component->quantiser >= kTableSlots)
      return "";  // stb refuses the file here
    const auto undefined = [marker_at](const char* table, int slot) {
      return "JPEG scan " + at_byte("SOS", marker_at) + " uses " + table + " " + std::to_string(slot) +
             ", which no segment before it defines";
    };
    if (uses_dc && !tables.huffman[0][dc]) return undefined("DC Huffman table", dc);
    if (uses_ac && !tables.huffman[1][ac]) return undefined("AC Huffman table", ac);
    if (!tables.quantiser[component->quantiser]) return undefined("quantisation table", component->quantiser);
  }
  return "";
}

std::uint32_t big_endian_u32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

std::string unsafe_png_problem(const std::uint8_t* data, std::size_t size) {
  if (size < sizeof kPngSignature || std::memcmp(data, kPngSignature, sizeof kPngSignature) != 0) return "";
  constexpr std::size_t kChunkHeader = 8, kChunkCrc = 4;  // length and type; CRC after the data
  std::size_t pos = sizeof kPngSignature;
  for (;;) {
    if (pos + kChunkHeader > size)
      return "PNG ends at byte " + std::to_string(size) + " before its IEND chunk (a truncated file)";
    const std::uint32_t length = big_endian_u32(data + pos);
    std::string type(reinterpret_cast<const char*>(data + pos + 4), 4);
    for (char& c : type)  // PNG chunk types are 4 ASCII letters; anything else is shown as '?'
      if (!std::isalpha(static_cast<unsigned char>(c))) c = '?';
    if (type == "IEND") return "";
    const std::size_t left = size - pos - kChunkHeader;
    if (length > left)
      return "PNG chunk " + type + " at byte " + std::to_string(pos) + " declares " + std::to_string(length) +
             " bytes; the file has " + std::to_string(left) + " after its header";
    pos += kChunkHeader + length + kChunkCrc;
  }
}

std::string unsafe_jpeg_problem(const std::uint8_t* data, std::size_t size) {
  const Reader r{data, size};
  // stb's JPEG test: 0xFF, any 0xFF fill bytes, then SOI.
  std::size_t pos = 0;
  if (r.at(pos) != kMarkerPrefix) return "";
  while (pos < size && data[pos] == kMarkerPrefix) ++pos;
  if (r.at(pos) != kStartOfImage) return "";
  ++pos;
  JpegTables tables;
  int scans = 0;
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
    if (marker == kEndOfImage) return "";
    if (stands_alone(marker)) continue;
    const long length = long{r.at(pos)} << 8 | r.at(pos + 1);  // includes its own 2 bytes
    const std::size_t body = pos + 2;
    std::string problem;
    if (marker == kDefineHuffmanTable)
      problem = read_huffman_tables(r, marker_at, body, length - 2, tables);
    else if (marker == kDefineQuantTable)
      read_quantisers(r, body, length - 2, tables);
    else if (marker == kBaselineFrame || marker == kExtendedFrame || marker == kProgressiveFrame)
      read_frame(r, marker, body, tables);
    else if (marker == kStartOfScan && ++scans > kMaxJpegScans)
      problem = "JPEG has more than " + std::to_string(kMaxJpegScans) + " scans " + at_byte("SOS", marker_at) +
                "; each is decoded over the whole image";
    else if (marker == kStartOfScan && tables.have_frame)
      problem = check_scan(r, marker_at, body, tables);
    if (!problem.empty()) return problem;
    pos += static_cast<std::size_t>(length < 2 ? 2 : length);
  }
  return "JPEG ends at byte " + std::to_string(size) + " before its end-of-image marker (a truncated file)";
}

}  // namespace

std::string unsafe_for_stb(const std::uint8_t* data, std::size_t size) {
  std::string problem = unsafe_jpeg_problem(data, size);
  if (problem.empty()) problem = unsafe_png_problem(data, size);
  return problem.empty() ? bmp_size_problem(data, size) : problem;
}

}  // namespace spdinfer
