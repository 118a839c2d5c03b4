// What the video reader and writer share about FFmpeg itself: its error codes as text and its
// log kept off the terminal. Compiled only with FFmpeg (SPDINFER_HAVE_VIDEO).
#pragma once

#include <string>

namespace spdinfer {

// av_strerror's text for an FFmpeg error code, e.g. "Invalid data found when processing input".
std::string ffmpeg_error(int err);

// FFmpeg logs to stderr by default; spdinfer reports errors and warnings itself, one line each.
void silence_ffmpeg_log();

}  // namespace spdinfer
