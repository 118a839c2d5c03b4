// FFmpeg demuxing and decoding behind VideoReader: one Decoder that turns the source's packets
// into RGB frames, driven directly for a file, or by a reader thread that keeps only the newest
// frame for a live source.
#include "image/video_reader.h"

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#include "engine/error.h"
#include "image/video_ffmpeg.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

namespace spdinfer {

using SteadyClock = std::chrono::steady_clock;

struct VideoReader::Impl {
  VideoReaderOptions options;
  VideoInfo info;

  AVFormatContext* format = nullptr;
  AVCodecContext* decoder = nullptr;
  SwsContext* sws = nullptr;
  AVPacket* packet = nullptr;
  AVFrame* frame = nullptr;
  int stream = -1;
  AVRational time_base{1, 1};
  std::int64_t start_pts = 0;
  std::int64_t next_index = 0;
  bool flushing = false;
  bool warned_short = false;

  // FFmpeg's blocking calls poll interrupt(): a live source gives up when no frame has arrived
  // by `deadline`, and the destructor stops a reader thread blocked in a read.
  std::atomic<SteadyClock::rep> deadline{std::numeric_limits<SteadyClock::rep>::max()};
  std::atomic<bool> stopping{false};
  std::atomic<std::int64_t> corrupt{0};

  // Live sources: the reader thread's one-frame slot.
  std::thread thread;
  std::mutex mutex;
  std::condition_variable changed;
  VideoFrame slot;
  bool slot_full = false, finished = false;
  std::exception_ptr error;
  std::int64_t dropped = 0;

  ~Impl() {
    stopping = true;
    if (thread.joinable()) thread.join();
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&packet);
    avcodec_free_context(&decoder);
    avformat_close_input(&format);
  }

  void fail(const std::string& what) const { throw Error(info.source + ": " + what); }

  void extend_deadline() {
    if (!info.live) return;
    const auto wait = std::chrono::duration_cast<SteadyClock::duration>(
        std::chrono::duration<double>(options.timeout_seconds));
    deadline = (SteadyClock::now() + wait).time_since_epoch().count();
  }
  bool timed_out() const { return SteadyClock::now().time_since_epoch().count() > deadline.load(); }

  std::string timeout_message() const {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", options.timeout_seconds);
    return std::string("no video frame received within ") + buf + " s (stream timeout)";
  }

  void open() {
    info.live = is_live_video_source(info.source);
    extend_deadline();
    format = avformat_alloc_context();
    if (!format) fail("out of memory opening the video");
    format->interrupt_callback.callback = [](void* self) -> int {
      const Impl* impl = static_cast<const Impl*>(self);
      return impl->stopping || impl->timed_out();
    };
    format->interrupt_callback.opaque = this;
    // A camera is opened by its device demuxer (libavdevice), which probing a file name never picks.
    const AVInputFormat* demuxer = info.source.rfind("/dev/video", 0) == 0 ? av_find_input_format("v4l2") : nullptr;
    int err = avformat_open_input(&format, info.source.c_str(), demuxer, nullptr);  // frees format on error
    if (err < 0) fail(open_failure(err));
    err = avformat_find_stream_info(format, nullptr);
    if (err < 0) fail(open_failure(err));

    const AVCodec* codec = nullptr;
    stream = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (stream == AVERROR_STREAM_NOT_FOUND) fail("has no video stream");
    const AVStream* st = format->streams[stream < 0 ? 0 : stream];
    if (stream == AVERROR_DECODER_NOT_FOUND || !codec)
      fail(std::string("no decoder in this FFmpeg for its video codec '") + avcodec_get_name(st->codecpar->codec_id) +
           "'");
    if (stream < 0) fail("cannot select a video stream: " + ffmpeg_error(stream));
    const AVCodecParameters* par = st->codecpar;
    if (par->width <= 0 || par->height <= 0)
      fail("video stream is " + std::to_string(par->width) + "x" + std::to_string(par->height) + ": no pixels");
    if (par->width > kMaxImageSide || par->height > kMaxImageSide ||
        std::int64_t(par->width) * par->height > kMaxImagePixels)
      fail("video frames of " + std::to_string(par->width) + "x" + std::to_string(par->height) +
           " exceed the limit of " + std::to_string(kMaxImageSide) + " px a side, " +
           std::to_string(kMaxImagePixels) + " pixels");

    decoder = avcodec_alloc_context3(codec);
    if (!decoder) fail("out of memory opening the decoder");
    if ((err = avcodec_parameters_to_context(decoder, par)) < 0) fail("cannot set up the decoder: " + ffmpeg_error(err));
    // The same bound for every frame, not just the size the container declares.
    decoder->max_pixels = kMaxImagePixels;
    if ((err = avcodec_open2(decoder, codec, nullptr)) < 0)
      fail(std::string("cannot open the '") + codec->name + "' decoder: " + ffmpeg_error(err));
    packet = av_packet_alloc();
    frame = av_frame_alloc();
    if (!packet || !frame) fail("out of memory opening the video");

    info.codec = codec->name;
    info.width = par->width;
    info.height = par->height;
    time_base = st->time_base;
    start_pts = st->start_time == AV_NOPTS_VALUE ? 0 : st->start_time;
    AVRational rate = av_guess_frame_rate(format, const_cast<AVStream*>(st), nullptr);
    if (rate.num > 0 && rate.den > 0) {
      av_reduce(&info.fps_num, &info.fps_den, rate.num, rate.den, 1 << 16);
    }
    if (!info.live) {
      if (st->nb_frames > 0)
        info.frame_count = st->nb_frames;
      else if (format->duration > 0)
        info.frame_count = std::int64_t(double(format->duration) / AV_TIME_BASE * info.fps() + 0.5);
    }
  }

  std::string open_failure(int err) const {
    if (info.live && timed_out()) return timeout_message();
    // FFmpeg's own words say more than the error code ("moov atom not found": a truncated MP4).
    const std::string detail = take_ffmpeg_log_error();
    const std::string why = ffmpeg_error(err) + (detail.empty() ? "" : ": " + detail);
    if (err == AVERROR_INVALIDDATA) return "not a video FFmpeg can read, or truncated (" + why + ")";
    return "cannot open the video: " + why;
  }

  // The next decoded frame in `frame`, its index in `index`; false at the end. Frames the decoder
  // flags as corrupt are skipped with a warning (they keep their index).
  bool decode(std::int64_t& index) {
    for (;;) {
      int err = avcodec_receive_frame(decoder, frame);
      if (err == 0) {
        extend_deadline();
        index = next_index++;
        if ((frame->flags & AV_FRAME_FLAG_CORRUPT) || frame->decode_error_flags) {
          ++corrupt;
          warn("frame " + std::to_string(index + 1) + " is corrupt, skipped (" + decoder_error(0) + ")");
          av_frame_unref(frame);
          continue;
        }
        return true;
      }
      if (err == AVERROR_EOF) {
        warn_if_short();
        return false;
      }
      if (err != AVERROR(EAGAIN)) {
        // A decoding error the decoder could not conceal: the packet is lost, the stream goes on.
        ++corrupt;
        warn("undecodable data skipped (" + decoder_error(err) + ")");
        continue;
      }
      if (flushing) return false;
      err = av_read_frame(format, packet);
      if (err == AVERROR_EOF || (err < 0 && !info.live && err != AVERROR_EXIT)) {
        if (err != AVERROR_EOF) warn("read error, stopping here: " + ffmpeg_error(err));
        flushing = true;
        avcodec_send_packet(decoder, nullptr);
        continue;
      }
      if (err < 0) {
        if (stopping) return false;
        fail(timed_out() ? timeout_message() : "read error: " + ffmpeg_error(err));
      }
      if (packet->stream_index == stream) {
        err = avcodec_send_packet(decoder, packet);
        if (err < 0 && err != AVERROR(EAGAIN)) {
          // A packet holds one frame (in every codec spdinfer meets), so the frame numbers of the
          // ones after it stay those of the stream.
          const std::int64_t lost = next_index++;
          ++corrupt;
          warn("frame " + std::to_string(lost + 1) + " is corrupt, skipped (" + decoder_error(err) + ")");
        }
      }
      av_packet_unref(packet);
    }
  }

  // A file cut short often still demuxes cleanly up to the cut (Matroska, MPEG-TS, AVI; an MP4
  // without its index does not open at all): say so when far fewer frames came than the header
  // promised. The count may be an estimate from the duration, hence the slack of a frame.
  void warn_if_short() {
    if (info.live || warned_short || info.frame_count <= 0 || next_index + 1 >= info.frame_count) return;
    warned_short = true;
    warn("the video ended after " + std::to_string(next_index) + " of its " + std::to_string(info.frame_count) +
         " frames; the file may be truncated");
  }

  // The error code's text and what FFmpeg logged about it ("... : inflate returned error -3").
  static std::string decoder_error(int err) {
    const std::string detail = take_ffmpeg_log_error();
    const std::string code = err < 0 ? ffmpeg_error(err) : "flagged by the decoder";
    return detail.empty() ? code : code + ": " + detail;
  }

  void warn(const std::string& what) const {
    const std::string line = info.source + ": " + what;
    if (options.warn)
      options.warn(line);
    else
      std::fprintf(stderr, "spdinfer: warning: %s\n", line.c_str());
  }

  // The next frame whose index is a multiple of the stride, as RGB at the stream's size.
  bool next(VideoFrame& out) {
    std::int64_t index = 0;
    do {
      if (!decode(index)) return false;
      if (index % options.stride != 0) av_frame_unref(frame);
    } while (index % options.stride != 0);
    out.index = index;
    const std::int64_t pts = frame->best_effort_timestamp;
    out.seconds = pts == AV_NOPTS_VALUE ? double(index) / info.fps() : double(pts - start_pts) * av_q2d(time_base);
    // A frame whose size changed mid-stream is scaled to the stream's size: the caller (and the
    // video written from it) sees one size throughout.
    sws = sws_getCachedContext(sws, frame->width, frame->height, AVPixelFormat(frame->format), info.width,
                               info.height, AV_PIX_FMT_RGB24, SWS_BICUBIC, nullptr, nullptr, nullptr);
    if (!sws) fail("cannot convert frame " + std::to_string(index) + " to RGB");
    if (out.image.width != info.width || out.image.height != info.height) out.image = Image(info.width, info.height);
    std::uint8_t* planes[1] = {out.image.pixels.data()};
    const int strides[1] = {3 * info.width};
    sws_scale(sws, frame->data, frame->linesize, 0, frame->height, planes, strides);
    av_frame_unref(frame);
    return true;
  }

  // Live sources: decode as fast as frames come, keeping only the newest.
  void read_live() {
    try {
      for (;;) {
        VideoFrame f;
        const bool got = next(f);
        std::lock_guard<std::mutex> lock(mutex);
        if (!got) break;
        if (slot_full) ++dropped;
        slot = std::move(f);
        slot_full = true;
        changed.notify_one();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex);
    finished = true;
    changed.notify_one();
  }
};

VideoReader::VideoReader(const std::string& source, VideoReaderOptions options) : impl_(std::make_unique<Impl>()) {
  silence_ffmpeg_log();
  avdevice_register_all();  // /dev/video* (v4l2) and other capture devices
  take_ffmpeg_log_error();   // what an earlier video left
  if (options.stride < 1) throw Error("video stride must be at least 1");
  impl_->options = std::move(options);
  impl_->info.source = source;
  impl_->open();
  if (impl_->info.live) impl_->thread = std::thread([impl = impl_.get()] { impl->read_live(); });
}

VideoReader::~VideoReader() = default;

const VideoInfo& VideoReader::info() const { return impl_->info; }

bool VideoReader::read(VideoFrame& frame) {
  if (!impl_->info.live) return impl_->next(frame);
  std::unique_lock<std::mutex> lock(impl_->mutex);
  // The reader thread's own deadline ends a silent stream; this wait needs no timeout of its own.
  impl_->changed.wait(lock, [&] { return impl_->slot_full || impl_->finished; });
  if (impl_->slot_full) {
    frame = std::move(impl_->slot);
    impl_->slot_full = false;
    return true;
  }
  if (impl_->error) std::rethrow_exception(impl_->error);
  return false;
}

std::int64_t VideoReader::dropped() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->dropped;
}

std::int64_t VideoReader::corrupt() const { return impl_->corrupt; }

bool is_live_video_source(const std::string& source) {
  const auto scheme = source.find("://");
  if (scheme != std::string::npos && source.find('/') > scheme) return source.compare(0, 7, "file://") != 0;
  struct stat st;
  return stat(source.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
}

}  // namespace spdinfer
