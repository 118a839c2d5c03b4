// Image file I/O with stb_image and stb_image_write (compiled in
// image/stb_codecs.cpp): the checks around the decoder that make an untrusted
// file safe to hand to it.
#include "image/image.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/error.h"
#include "engine/input_file.h"
#include "image/exif_orientation.h"
#include "image/stb_codecs.h"
#include "image/stb_input_check.h"

// Declarations only: image/stb_codecs.cpp compiles stb.
#define STBI_NO_HDR
#define STBI_NO_LINEAR
#include <stb_image.h>
#include <stb_image_write.h>

namespace spdinfer {
namespace {

std::string lower_extension(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const auto dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

// The whole file, from one open file (so what is checked is what is decoded). Refuses what is
// not a regular file (a directory, /dev/null, a pipe), an empty file and one over the size cap.
std::vector<std::uint8_t> read_image_file(const std::string& path) {
  std::uint64_t size = 0;
  FilePtr file = open_regular_file(path, "image", &size);
  if (size == 0) throw Error(path + ": empty file, not an image");
  if (size > static_cast<std::uint64_t>(kMaxImageFileBytes))
    throw Error(path + ": image file is " + std::to_string(size) + " bytes; at most " +
                std::to_string(kMaxImageFileBytes) + " are accepted");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  if (std::fread(bytes.data(), 1, bytes.size(), file.get()) != bytes.size())
    throw Error(path + ": cannot read image: the file is shorter than its size, or unreadable");
  return bytes;
}

// The largest single buffer stb may need to decode a w x h image from `file_bytes` bytes: its
// pixels at 8 bytes each (16-bit RGBA), with up to 64 more rows and columns (JPEG rounds each
// plane up to whole blocks of up to 32 x 32 pixels), twice the file (stb doubles its buffer of
// PNG data as it reads it), and 1 MiB for its tables and state. A PNG whose data inflates past
// this is not a w x h image.
std::size_t decoder_allocation_bound(int w, int h, std::size_t file_bytes) {
  constexpr std::size_t kBytesPerPixel = 8, kPadding = 64, kTables = 1 << 20;
  return (std::size_t(w) + kPadding) * (std::size_t(h) + kPadding) * kBytesPerPixel + 2 * file_bytes + kTables;
}

}  // namespace

bool has_image_extension(const std::string& path) {
  const std::string ext = lower_extension(path);
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

Image load_image(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_image_file(path);
  const std::string unsafe = unsafe_for_stb(bytes.data(), bytes.size());
  if (!unsafe.empty()) throw Error(path + ": " + unsafe);
  const int size = static_cast<int>(bytes.size());  // <= kMaxImageFileBytes
  int w = 0, h = 0, channels = 0;
  if (!stbi_info_from_memory(bytes.data(), size, &w, &h, &channels))
    throw Error(path + ": not a readable JPEG, PNG or BMP image (" + stbi_failure_reason() + ")");
  if (w <= 0 || h <= 0 || w > kMaxImageSide || h > kMaxImageSide ||
      static_cast<std::int64_t>(w) * h > kMaxImagePixels)
    throw Error(path + ": image is " + std::to_string(w) + "x" + std::to_string(h) + " pixels; at most " +
                std::to_string(kMaxImageSide) + " per side and " + std::to_string(kMaxImagePixels / 1000000) +
                " M pixels are accepted");
  int dw = 0, dh = 0, dc = 0;
  const StbAllocationLimit limit(decoder_allocation_bound(w, h, bytes.size()));
  // Always 3 channels: stb converts grey / grey+alpha / RGBA and narrows 16-bit.
  stbi_uc* data = stbi_load_from_memory(bytes.data(), size, &dw, &dh, &dc, 3);
  if (!data && limit.exceeded())
    throw Error(path + ": cannot decode image: its data decodes to more than a " + std::to_string(w) + "x" +
                std::to_string(h) + " image holds (a corrupt file)");
  if (!data) throw Error(path + ": cannot decode image (" + stbi_failure_reason() + ")");
  std::unique_ptr<stbi_uc, void (*)(void*)> owned(data, stbi_image_free);
  if (dw != w || dh != h) throw Error(path + ": image size changed while decoding");
  Image img;
  img.width = dw;
  img.height = dh;
  img.pixels.assign(data, data + std::size_t(dw) * dh * 3);
  const int orientation = exif_orientation(bytes.data(), bytes.size());
  if (orientation != 1) return apply_orientation(img, orientation);
  return img;
}

void save_image(const std::string& path, const Image& image) {
  const std::string ext = lower_extension(path);
  int ok = 0;
  if (ext == ".png")
    ok = stbi_write_png(path.c_str(), image.width, image.height, 3, image.pixels.data(), image.width * 3);
  else if (ext == ".bmp")
    ok = stbi_write_bmp(path.c_str(), image.width, image.height, 3, image.pixels.data());
  else
    ok = stbi_write_jpg(path.c_str(), image.width, image.height, 3, image.pixels.data(), 95);
  if (!ok) throw Error(path + ": cannot write image");
}

}  // namespace spdinfer
