#include "image/video_ffmpeg.h"

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

void silence_ffmpeg_log() { av_log_set_level(AV_LOG_QUIET); }

std::string video_support_description() {
  return "FFmpeg (libavformat " + version_text(avformat_version()) + ", libavcodec " +
         version_text(avcodec_version()) + ", libswscale " + version_text(swscale_version()) + "); writes " +
         video_encoder_description();
}

}  // namespace spdinfer
