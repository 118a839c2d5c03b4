// libFuzzer target: image decoding (image/image.cpp, stb_image) and every
// preprocessing path (image/preprocess.cpp). See harness.h.
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  spdinfer::fuzz::image(data, size);
  return 0;
}
