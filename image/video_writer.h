// Annotated frames written as a video file through FFmpeg's libraries: H.264 (libx264, constant
// quality) when this FFmpeg has that encoder, as Debian's does, else MPEG-4 part 2 ('mpeg4', part
// of every libavcodec); the container follows the file's extension (.mp4 for `spdinfer detect`).
// Compiled only with FFmpeg (SPDINFER_HAVE_VIDEO). What it is not: reading (video_reader.h).
#pragma once

#include <memory>
#include <string>

#include "image/image.h"

namespace spdinfer {

class VideoWriter {
 public:
  // A video of width x height frames at fps_num/fps_den frames per second. H.264 and MPEG-4 store
  // 4:2:0 colour, which needs even sizes: an odd width or height loses its last column or row.
  // Throws spdinfer::Error "PATH: ..." when the file or the encoder cannot be set up.
  VideoWriter(const std::string& path, int width, int height, int fps_num, int fps_den);
  // Finishes the file if finish() was not called (errors then go unreported).
  ~VideoWriter();
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  // Appends one frame; it must have the size given to the constructor.
  void write(const Image& frame);
  // Flushes the encoder and writes the container's index. Throws on failure.
  void finish();
  std::int64_t frames_written() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// "H.264 (libx264)" or "MPEG-4 part 2 (mpeg4)": what VideoWriter encodes with here.
std::string video_encoder_description();

}  // namespace spdinfer
