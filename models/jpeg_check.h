// A walk over a JPEG's marker segments that refuses what the stb_image we
// compile (Debian's, v2.27) would decode unsafely, before stb sees the bytes.
// Not a JPEG validator: anything it does not know is left for stb to judge.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace spdinfer {

// Empty when the bytes are not a JPEG or nothing unsafe was found; else what
// is wrong, e.g. "JPEG Huffman table (DHT at byte 20) declares 300 codes; at most 256".
std::string unsafe_jpeg_problem(const std::uint8_t* data, std::size_t size);

}  // namespace spdinfer
