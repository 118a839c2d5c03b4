// Video files, devices and network streams decoded to RGB frames through FFmpeg's libraries
// (libavformat, libavcodec, libswscale). Compiled only when CMake found them
// (SPDINFER_HAVE_VIDEO). What it is not: writing video (video_writer.h), or any detection.
//
// Two ways of reading, chosen by the source:
// - a regular file gives every frame in order (every `stride`-th when asked): nothing is lost,
//   however slow the caller is;
// - anything else (rtsp://, http://, tcp://, /dev/video0, a pipe) is live: a reader thread
//   decodes as the frames arrive and keeps only the newest one, so a slow caller always gets the
//   latest picture and latency stays bounded; frames it never took are counted in dropped().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "image/image.h"

namespace spdinfer {

struct VideoInfo {
  std::string source;
  std::string codec;  // the decoder's name, e.g. "h264"
  int width = 0, height = 0;
  int fps_num = 25, fps_den = 1;    // frame rate as a fraction (25/1 when the source names none)
  std::int64_t frame_count = 0;     // 0 when unknown (live sources, some containers)
  bool live = false;                // not a regular file: newest frame only, dropping the rest
  double fps() const { return double(fps_num) / fps_den; }
};

struct VideoFrame {
  Image image;              // RGB at the stream's size (VideoInfo's width x height)
  std::int64_t index = 0;   // 0-based position in the stream, counting every decoded frame
  double seconds = 0;       // presentation time from the stream's start
};

struct VideoReaderOptions {
  int stride = 1;               // keep frames whose index is a multiple of this (--vid-stride)
  double timeout_seconds = 10;  // live sources: give up when no frame arrives for this long
  // Called for a frame skipped because the decoder found it corrupt; default: a line on stderr.
  std::function<void(const std::string&)> warn;
};

class VideoReader {
 public:
  // Opens `source` and its best video stream. Throws spdinfer::Error "SOURCE: ..." in one line
  // for a missing file, no video stream, a codec this FFmpeg cannot decode, a 0x0 or oversized
  // stream (image.h's kMaxImageSide and kMaxImagePixels), or a live source silent for the timeout.
  explicit VideoReader(const std::string& source, VideoReaderOptions options = {});
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  const VideoInfo& info() const;
  // The next kept frame; false at the end of the video. Throws spdinfer::Error naming the source
  // on a read error, or when a live source sends no frame for the timeout.
  bool read(VideoFrame& frame);
  // Live sources: frames decoded but replaced by a newer one before read() took them.
  std::int64_t dropped() const;
  // Frames skipped because the decoder reported them corrupt.
  std::int64_t corrupt() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// True for a source read live: not a regular file (a URL other than file:, a device, a pipe).
bool is_live_video_source(const std::string& source);

// "libavformat 59.27.100, libavcodec 59.37.100, libswscale 6.7.100; writes H.264 (libx264)":
// what `spdinfer --version` and `info` say.
std::string video_support_description();

}  // namespace spdinfer
