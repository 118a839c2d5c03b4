// What the video reader and writer share about FFmpeg itself: its error codes as text and its
// log kept off the terminal. Compiled only with FFmpeg (SPDINFER_HAVE_VIDEO).
#pragma once

#include <string>

namespace spdinfer {

// av_strerror's text for an FFmpeg error code, e.g. "Invalid data found when processing input".
std::string ffmpeg_error(int err);

// FFmpeg logs to stderr by default; spdinfer reports errors and warnings itself, one line each.
// From this call on FFmpeg's log is kept off the terminal, its last error message kept instead.
void silence_ffmpeg_log();
// FFmpeg's last error-level log message since the previous call ("moov atom not found"), or "".
std::string take_ffmpeg_log_error();

}  // namespace spdinfer
