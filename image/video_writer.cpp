// FFmpeg encoding and muxing behind VideoWriter: RGB frames converted to 4:2:0 YUV by swscale,
// encoded, and muxed by the container the file's extension names.
#include "image/video_writer.h"

#include "engine/error.h"
#include "image/video_ffmpeg.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

namespace spdinfer {
namespace {

// libx264 where this FFmpeg has it; MPEG-4 part 2 is in every libavcodec.
const AVCodec* pick_encoder() {
  if (const AVCodec* x264 = avcodec_find_encoder_by_name("libx264")) return x264;
  return avcodec_find_encoder(AV_CODEC_ID_MPEG4);
}

}  // namespace

struct VideoWriter::Impl {
  std::string path;
  int width = 0, height = 0;  // of the frames given; the encoded size is rounded down to even
  AVFormatContext* format = nullptr;
  AVCodecContext* encoder = nullptr;
  AVStream* stream = nullptr;
  SwsContext* sws = nullptr;
  AVFrame* frame = nullptr;
  AVPacket* packet = nullptr;
  std::int64_t written = 0;
  bool header_written = false, finished = false;

  ~Impl() {
    if (format && !(format->oformat->flags & AVFMT_NOFILE)) avio_closep(&format->pb);
    avformat_free_context(format);
    avcodec_free_context(&encoder);
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&packet);
  }

  void check(int err, const char* what) const {
    if (err < 0) throw Error(path + ": " + what + ": " + ffmpeg_error(err));
  }

  void open(int fps_num, int fps_den) {
    const int w = width & ~1, h = height & ~1;
    if (w <= 0 || h <= 0)
      throw Error(path + ": cannot encode " + std::to_string(width) + "x" + std::to_string(height) + " frames");
    check(avformat_alloc_output_context2(&format, nullptr, nullptr, path.c_str()), "no video container for this name");
    const AVCodec* codec = pick_encoder();
    if (!codec) throw Error(path + ": this FFmpeg has neither the libx264 nor the mpeg4 encoder");
    stream = avformat_new_stream(format, nullptr);
    encoder = avcodec_alloc_context3(codec);
    frame = av_frame_alloc();
    packet = av_packet_alloc();
    if (!stream || !encoder || !frame || !packet) throw Error(path + ": out of memory setting up the encoder");
    encoder->width = w;
    encoder->height = h;
    encoder->pix_fmt = AV_PIX_FMT_YUV420P;
    encoder->time_base = AVRational{fps_den, fps_num};
    encoder->framerate = AVRational{fps_num, fps_den};
    encoder->gop_size = 12;
    encoder->max_b_frames = 0;  // no reordering delay: each frame is written as it comes
    if (codec->id == AV_CODEC_ID_H264) {
      // Visually lossless, and fast enough not to slow down detection on a small CPU.
      av_opt_set(encoder->priv_data, "crf", "18", 0);
      av_opt_set(encoder->priv_data, "preset", "veryfast", 0);
    } else {
      encoder->flags |= AV_CODEC_FLAG_QSCALE;
      encoder->global_quality = FF_QP2LAMBDA * 3;
    }
    if (format->oformat->flags & AVFMT_GLOBALHEADER) encoder->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    check(avcodec_open2(encoder, codec, nullptr), "cannot open the video encoder");
    check(avcodec_parameters_from_context(stream->codecpar, encoder), "cannot set up the video stream");
    stream->time_base = encoder->time_base;
    if (!(format->oformat->flags & AVFMT_NOFILE)) check(avio_open(&format->pb, path.c_str(), AVIO_FLAG_WRITE), "cannot write");
    AVDictionary* muxer_options = nullptr;
    // MP4 and MOV: no edit list. The one FFmpeg 5.1 writes for libx264's stream ends a frame early
    // (its last packet gets the discard flag), and the video would lose its last frame.
    av_dict_set(&muxer_options, "use_editlist", "0", 0);
    const int err = avformat_write_header(format, &muxer_options);
    av_dict_free(&muxer_options);
    check(err, "cannot write the video header");
    header_written = true;

    frame->format = encoder->pix_fmt;
    frame->width = w;
    frame->height = h;
    check(av_frame_get_buffer(frame, 0), "out of memory for a frame");
    sws = sws_getContext(w, h, AV_PIX_FMT_RGB24, w, h, AV_PIX_FMT_YUV420P, SWS_BICUBIC, nullptr, nullptr, nullptr);
    if (!sws) throw Error(path + ": cannot set up the RGB to YUV conversion");
  }

  // Sends `f` (null: flush) and writes every packet the encoder has ready.
  void encode(AVFrame* f) {
    check(avcodec_send_frame(encoder, f), "encoding failed");
    for (;;) {
      const int err = avcodec_receive_packet(encoder, packet);
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
      check(err, "encoding failed");
      av_packet_rescale_ts(packet, encoder->time_base, stream->time_base);
      packet->stream_index = stream->index;
      check(av_interleaved_write_frame(format, packet), "cannot write");
    }
  }
};

VideoWriter::VideoWriter(const std::string& path, int width, int height, int fps_num, int fps_den)
    : impl_(std::make_unique<Impl>()) {
  silence_ffmpeg_log();
  impl_->path = path;
  impl_->width = width;
  impl_->height = height;
  impl_->open(fps_num > 0 && fps_den > 0 ? fps_num : 25, fps_num > 0 && fps_den > 0 ? fps_den : 1);
}

VideoWriter::~VideoWriter() {
  try {
    finish();
  } catch (const Error&) {
    // Reported by an explicit finish(); a destructor unwinding another error stays quiet.
  }
}

void VideoWriter::write(const Image& image) {
  Impl& w = *impl_;
  if (image.width != w.width || image.height != w.height)
    throw Error(w.path + ": frame of " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                " in a " + std::to_string(w.width) + "x" + std::to_string(w.height) + " video");
  w.check(av_frame_make_writable(w.frame), "out of memory for a frame");
  const std::uint8_t* src[1] = {image.pixels.data()};
  const int stride[1] = {3 * image.width};
  sws_scale(w.sws, src, stride, 0, w.frame->height, w.frame->data, w.frame->linesize);
  w.frame->pts = w.written++;
  w.encode(w.frame);
}

void VideoWriter::finish() {
  Impl& w = *impl_;
  if (w.finished || !w.header_written) return;
  w.finished = true;
  w.encode(nullptr);
  w.check(av_write_trailer(w.format), "cannot finish the video");
}

std::int64_t VideoWriter::frames_written() const { return impl_->written; }

std::string video_encoder_description() {
  const AVCodec* codec = pick_encoder();
  if (!codec) return "no video (neither libx264 nor mpeg4 in this FFmpeg)";
  return codec->id == AV_CODEC_ID_H264 ? "H.264 (libx264)" : "MPEG-4 part 2 (mpeg4)";
}

}  // namespace spdinfer
