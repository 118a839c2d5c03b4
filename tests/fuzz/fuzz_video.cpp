// libFuzzer target: video demuxing and decoding through FFmpeg (image/video_reader.cpp). See
// video_harness.h. Built only with FFmpeg; `scripts/fuzz 60 video` runs it.
#include "fuzz/video_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  spdinfer::fuzz::video(data, size);
  return 0;
}
