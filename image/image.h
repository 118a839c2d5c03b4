// 8-bit RGB images in memory, and reading/writing them as files (stb_image,
// stb_image_write). What it is not: resizing or normalising (preprocess.h),
// drawing (draw.h), or finding image files on disk (the CLI does that).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace spdinfer {

// Interleaved RGB, row-major, 3 bytes per pixel, no row padding.
struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;  // width * height * 3

  Image() = default;
  Image(int w, int h, std::uint8_t fill = 0) : width(w), height(h), pixels(std::size_t(w) * h * 3, fill) {}
  std::uint8_t* at(int x, int y) { return &pixels[(std::size_t(y) * width + x) * 3]; }
  const std::uint8_t* at(int x, int y) const { return &pixels[(std::size_t(y) * width + x) * 3]; }
};

// Decoding limits: checked from the header before any pixel is decoded, so a
// tiny file that claims to be 60000 x 60000 is refused instead of allocating.
constexpr int kMaxImageSide = 20000;
constexpr std::int64_t kMaxImagePixels = 100'000'000;
// The whole file is read before decoding (so it can be checked first): a
// 100 M pixel uncompressed 32-bit BMP is 400 MB.
constexpr std::int64_t kMaxImageFileBytes = 512 << 20;

// JPEG, PNG or BMP -> RGB. Grey, grey+alpha, RGBA and 16-bit PNGs all come
// back as 8-bit RGB (alpha dropped, 16-bit narrowed). An EXIF orientation is
// applied (image/exif_orientation.h): the image comes back upright. Throws
// spdinfer::Error "PATH: ..." saying what is wrong (missing, unreadable, not an
// image of a supported format, too large, not a regular file, a JPEG, PNG or
// BMP that is truncated or that the decoder would handle unsafely
// (image/stb_input_check.h), data that decodes to more than the image's size
// holds).
Image load_image(const std::string& path);

// True for names ending in .jpg, .jpeg, .png or .bmp (any case): what a
// directory listing is filtered by.
bool has_image_extension(const std::string& path);

// Writes by extension: .png, .bmp, else JPEG (quality 95). Throws on failure.
void save_image(const std::string& path, const Image& image);

}  // namespace spdinfer
