// EXIF orientation: how a camera says its pixels must be turned to stand
// upright (a phone held upright stores a landscape sensor image plus
// orientation 6). Applied as PIL's ImageOps.exif_transpose does, so a photo is
// processed, and its boxes reported, in the frame a person sees.
#pragma once

#include <cstddef>
#include <cstdint>

#include "image/image.h"

namespace spdinfer {

// The orientation tag (0x0112) of IFD0 in a JPEG's first Exif APP1 segment or a PNG's eXIf
// chunk: 1 to 8 (TIFF 6.0's values). 1 (as stored) when the file has none, or the tag is
// malformed or out of range: every read is bounds-checked, so a hostile segment only loses
// the tag.
int exif_orientation(const std::uint8_t* data, std::size_t size);

// `image` turned from `orientation` to upright, as PIL's exif_transpose: 2 mirror left-right,
// 3 rotate 180, 4 mirror top-bottom, 5 transpose, 6 rotate 90 clockwise, 7 transverse,
// 8 rotate 90 counter-clockwise. 1 and anything else: unchanged.
Image apply_orientation(const Image& image, int orientation);

}  // namespace spdinfer
