// A small bounds-checked reader of one TIFF tag rather than a general EXIF
// library: the orientation is the only field spdinfer uses, and every byte it
// reads comes from an untrusted file.
#include "image/exif_orientation.h"

#include <cstring>

namespace spdinfer {
namespace {

constexpr std::uint16_t kOrientationTag = 0x0112;
constexpr std::uint16_t kTiffShort = 3;
constexpr int kUpright = 1;

// Reads within [data, data + size) only; a read past the end yields nothing.
struct TiffReader {
  const std::uint8_t* data;
  std::size_t size;
  bool little_endian;
  bool u16(std::size_t at, std::uint16_t& v) const {
    if (at > size || size - at < 2) return false;
    v = little_endian ? std::uint16_t(data[at] | data[at + 1] << 8) : std::uint16_t(data[at] << 8 | data[at + 1]);
    return true;
  }
  bool u32(std::size_t at, std::uint32_t& v) const {
    std::uint16_t a = 0, b = 0;
    if (!u16(at, a) || !u16(at + 2, b)) return false;
    v = little_endian ? std::uint32_t(b) << 16 | a : std::uint32_t(a) << 16 | b;
    return true;
  }
};

// A TIFF structure (byte order, 42, offset of IFD0) and its IFD0's orientation entry.
int tiff_orientation(const std::uint8_t* tiff, std::size_t size) {
  if (size < 8) return kUpright;
  const bool little = tiff[0] == 'I' && tiff[1] == 'I', big = tiff[0] == 'M' && tiff[1] == 'M';
  if (!little && !big) return kUpright;
  const TiffReader r{tiff, size, little};
  std::uint16_t magic = 0, entries = 0;
  std::uint32_t ifd = 0;
  if (!r.u16(2, magic) || magic != 42 || !r.u32(4, ifd) || !r.u16(ifd, entries)) return kUpright;
  for (std::size_t i = 0; i < entries; ++i) {
    const std::size_t entry = std::size_t(ifd) + 2 + 12 * i;
    std::uint16_t tag = 0, type = 0, value = 0;
    std::uint32_t count = 0;
    if (!r.u16(entry, tag) || !r.u16(entry + 2, type) || !r.u32(entry + 4, count) || !r.u16(entry + 8, value))
      return kUpright;
    if (tag != kOrientationTag) continue;
    return type == kTiffShort && count == 1 && value >= 1 && value <= 8 ? value : kUpright;
  }
  return kUpright;
}

// JPEG: the segments after SOI, up to the first scan; the first APP1 that starts "Exif\0\0".
int jpeg_orientation(const std::uint8_t* data, std::size_t size) {
  static const std::uint8_t kExif[6] = {'E', 'x', 'i', 'f', 0, 0};
  std::size_t pos = 2;
  while (pos + 4 <= size && data[pos] == 0xFF) {
    const std::uint8_t marker = data[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) break;  // SOS, EOI: no more header segments
    const std::size_t length = std::size_t(data[pos + 2]) << 8 | data[pos + 3];  // includes itself
    if (length < 2 || length > size - pos - 2) break;
    const std::uint8_t* body = data + pos + 4;
    const std::size_t body_size = length - 2;
    if (marker == 0xE1 && body_size >= sizeof kExif && std::memcmp(body, kExif, sizeof kExif) == 0)
      return tiff_orientation(body + sizeof kExif, body_size - sizeof kExif);
    pos += 2 + length;
  }
  return kUpright;
}

// PNG: the eXIf chunk holds the TIFF structure itself.
int png_orientation(const std::uint8_t* data, std::size_t size) {
  for (std::size_t pos = 8; pos + 8 <= size;) {
    const std::size_t length = std::size_t(data[pos]) << 24 | std::size_t(data[pos + 1]) << 16 |
                               std::size_t(data[pos + 2]) << 8 | data[pos + 3];
    if (length > size - pos - 8) break;
    if (std::memcmp(data + pos + 4, "eXIf", 4) == 0) return tiff_orientation(data + pos + 8, length);
    if (std::memcmp(data + pos + 4, "IDAT", 4) == 0) break;  // eXIf comes before the image data
    pos += 8 + length + 4;
  }
  return kUpright;
}

}  // namespace

int exif_orientation(const std::uint8_t* data, std::size_t size) {
  if (size >= 4 && data[0] == 0xFF && data[1] == 0xD8) return jpeg_orientation(data, size);
  static const std::uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size >= 8 && std::memcmp(data, kPng, 8) == 0) return png_orientation(data, size);
  return kUpright;
}

Image apply_orientation(const Image& image, int orientation) {
  if (orientation < 2 || orientation > 8) return image;
  const int w = image.width, h = image.height;
  const bool swaps_sides = orientation >= 5;
  Image out(swaps_sides ? h : w, swaps_sides ? w : h);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;  // the source pixel that lands at (x, y)
      switch (orientation) {
        case 2: sx = w - 1 - x; break;
        case 3: sx = w - 1 - x; sy = h - 1 - y; break;
        case 4: sy = h - 1 - y; break;
        case 5: sx = y; sy = x; break;
        case 6: sx = y; sy = h - 1 - x; break;
        case 7: sx = w - 1 - y; sy = h - 1 - x; break;
        case 8: sx = w - 1 - y; sy = x; break;
      }
      std::memcpy(out.at(x, y), image.at(sx, sy), 3);
    }
  return out;
}

}  // namespace spdinfer
