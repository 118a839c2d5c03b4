// A BMP's size checked against what its header declares. stb_image reads past
// the end of a BMP's data as zero bytes, so a truncated file (even a bare
// 54-byte header claiming 10000 x 10000 pixels) would decode to an image
// whose missing rows are black, with no error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace spdinfer {

// Empty when `data` is not a BMP stb would decode uncompressed, or is long enough for the pixel
// rows its header declares (from the pixel-data offset, each row padded to 4 bytes); else e.g.
//   "BMP header declares 10000x10000 pixels at 24 bits, 300000000 bytes from byte 54; the file
//    has 0 (a truncated file)".
std::string bmp_size_problem(const std::uint8_t* data, std::size_t size);

}  // namespace spdinfer
