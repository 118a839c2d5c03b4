// What the video fuzz target (tests/fuzz/fuzz_video.cpp) does with one input, shared with its
// replay in the ordinary test build (tests/image/test_video_fuzz_replay.cpp). Only built with
// FFmpeg (SPDINFER_HAVE_VIDEO).
//
// The contract under test, as in harness.h: any input either decodes or throws spdinfer::Error;
// every frame that comes out has the stream's size.
#pragma once

#include <sys/mman.h>  // memfd_create
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/error.h"
#include "image/video_reader.h"

namespace spdinfer::fuzz {

enum class VideoStage { kRejected, kOpened, kDecoded };

// The input is a video file's bytes, handed to VideoReader as /proc/self/fd/N of an in-memory file:
// a regular file with no name to guess the format from, so FFmpeg probes every demuxer on the
// content. At most 8 frames are decoded (the fuzzer's time goes to new inputs, not long videos).
inline VideoStage video(const std::uint8_t* data, std::size_t size) {
  const int fd = memfd_create("fuzz-video", 0);
  if (fd < 0) std::abort();
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) std::abort();
    done += static_cast<std::size_t>(n);
  }
  VideoStage stage = VideoStage::kRejected;
  try {
    VideoReaderOptions options;
    options.warn = [](const std::string&) {};
    VideoReader reader("/proc/self/fd/" + std::to_string(fd), options);
    stage = VideoStage::kOpened;
    VideoFrame frame;
    for (int i = 0; i < 8 && reader.read(frame); ++i) {
      const VideoInfo& info = reader.info();
      if (frame.image.width != info.width || frame.image.height != info.height ||
          frame.image.pixels.size() != std::size_t(info.width) * info.height * 3) {
        std::fprintf(stderr, "fuzz invariant violated: a frame of the stream's size\n");
        std::abort();
      }
      stage = VideoStage::kDecoded;
    }
  } catch (const Error&) {
  }
  close(fd);
  return stage;
}

}  // namespace spdinfer::fuzz
