// Walks over an image file's structure that refuse what the stb_image we
// compile (Debian's, v2.27) would handle unsafely or decode silently wrong
// (a truncated file), before stb sees the bytes. Not validators: anything
// they do not know is left for stb to judge.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace spdinfer {

// stb decodes each scan of a JPEG over the whole image. Encoders write far fewer: libjpeg's
// standard progressive script has 10 scans, a baseline JPEG one per component at most.
constexpr int kMaxJpegScans = 256;

// Empty when nothing unsafe was found (or the bytes are neither JPEG nor PNG);
// else what is wrong, e.g.
//   "JPEG Huffman table (DHT at byte 20) declares 300 codes; at most 256 are possible"
//     (stb would write past its Huffman arrays: heap corruption),
//   "JPEG scan (SOS at byte 322) uses AC Huffman table 1, which no segment before it defines"
//     (stb would decode with uninitialised tables and read out of bounds), or
//   "PNG chunk IDAT at byte 181 declares 1291845632 bytes; the file has 1 after its header"
//     (stb would first allocate what the chunk declares: a 194-byte file asked for 2 GB),
//   "JPEG has more than 256 scans (SOS at byte 9000); ..." (minutes of decoding),
//   "JPEG ends at byte 600 before its end-of-image marker (a truncated file)", the same for a
//   PNG without IEND, and a BMP shorter than its pixel rows (stb would decode the missing
//   pixels as zeros: a silently wrong image).
std::string unsafe_for_stb(const std::uint8_t* data, std::size_t size);

}  // namespace spdinfer
