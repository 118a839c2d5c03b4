#include "image/video_ffmpeg.h"

#include <cstdarg>
#include <mutex>
#include <utility>

#include "image/video_reader.h"
#include "image/video_writer.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>
}

namespace spdinfer {
namespace {

std::string version_text(unsigned v) {
  return std::to_string(v >> 16) + "." + std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff);
}

}  // namespace

std::string ffmpeg_error(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

namespace {

std::mutex log_mutex;
std::string last_error;  // FFmpeg's last error-level message, e.g. "moov atom not found"

void keep_errors(void* avcl, int level, const char* format, va_list args) {
  if (level > AV_LOG_ERROR) return;
  char line[512];
  int prefix = 1;
  av_log_format_line2(avcl, level, format, args, line, sizeof line, &prefix);
  std::string text = line;
  // Without the "[mov,mp4 @ 0x...] " context prefix: one plain line.
  if (!text.empty() && text[0] == '[' && text.find("] ") != std::string::npos) text = text.substr(text.find("] ") + 2);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::lock_guard<std::mutex> lock(log_mutex);
  last_error = text;
}

}  // namespace

void silence_ffmpeg_log() { av_log_set_callback(keep_errors); }

std::string take_ffmpeg_log_error() {
  std::lock_guard<std::mutex> lock(log_mutex);
  return std::exchange(last_error, std::string());
}

std::string video_support_description() {
  return "FFmpeg (libavformat " + version_text(avformat_version()) + ", libavcodec " +
         version_text(avcodec_version()) + ", libswscale " + version_text(swscale_version()) + "); writes " +
         video_encoder_description();
}

}  // namespace spdinfer
