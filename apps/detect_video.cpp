// The video loop of `spdinfer detect`: read (image/video_reader.h), detect, report, draw, write
// (image/video_writer.h). Compiled in every build; without FFmpeg it only refuses videos.
#include "apps/detect_video.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <system_error>

#include "apps/commands.h"
#include "apps/detection_output.h"
#include "apps/image_batch.h"
#include "apps/number_checks.h"
#include "apps/output_paths.h"
#include "apps/stage_times.h"
#include "apps/slice_options.h"
#include "apps/terminal_text.h"
#include "engine/error.h"
#ifdef SPDINFER_HAVE_VIDEO
#include "image/video_reader.h"
#include "image/video_writer.h"
#endif

namespace spdinfer::cli {
namespace {
namespace fs = std::filesystem;

#ifdef SPDINFER_HAVE_VIDEO

// What the outputs of `source` are called: its file name without extension; a device's or URL's
// last path component ("video0" for /dev/video0, "cam1" for rtsp://host/cam1), else "stream".
std::string output_stem(const std::string& source) {
  const auto scheme = source.find("://");
  std::string path = scheme == std::string::npos ? source : source.substr(scheme + 3);
  if (scheme != std::string::npos) {
    const auto slash = path.find('/');
    path = slash == std::string::npos ? "" : path.substr(slash, path.find_first_of("?#") - slash);  // no host, query
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  const std::string stem = fs::path(path).stem().string();
  return stem.empty() || stem == "." || stem == ".." ? "stream" : stem;
}

void print_frame_line(std::FILE* human, std::size_t n, std::size_t count, const VideoInfo& info,
                      const VideoFrame& frame, const std::string& counts, const DetectionReport& r, bool sliced) {
  std::string position = "frame " + std::to_string(frame.index + 1);
  if (info.frame_count > 0) position += "/" + std::to_string(info.frame_count);
  std::fprintf(human, "video %zu/%zu (%s) %s: %dx%d %s", n, count, position.c_str(),
               terminal_text(info.source).c_str(), r.input_h, r.input_w, terminal_text(counts).c_str());
  if (sliced)
    std::fprintf(human, "%d tiles in %d forwards, %.1fms inference, %.1fms merge\n", r.tiles, r.forwards,
                 r.infer_ms, r.merge_ms);
  else
    std::fprintf(human, "%.1fms\n", r.infer_ms);
}

void detect_one_video(const Detector& detector, const DetectOptions& options, const std::string& source,
                      std::size_t n, std::size_t count, const VideoOutputs& o, std::FILE* human) {
  const std::vector<std::string>& names = detector.class_names();
  const bool sliced = options.slice.enabled();
  VideoReaderOptions read_options;
  read_options.stride = o.settings.stride;
  read_options.timeout_seconds = o.settings.timeout_seconds;
  VideoReader reader(source, read_options);
  const VideoInfo& info = reader.info();

  const std::string stem = output_stem(source);
  std::unique_ptr<VideoWriter> writer;
  std::string written;
  if (o.save_video) {
    written = (fs::path(o.dir) / (stem + ".mp4")).string();
    std::error_code ec;
    if (fs::equivalent(written, source, ec))
      throw Error(written + ": --out would overwrite this input video; choose another directory");
    // Only the processed frames are written; at the frame rate divided by the stride the video
    // keeps the input's duration.
    writer = std::make_unique<VideoWriter>(written, info.width, info.height, info.fps_num,
                                           info.fps_den * o.settings.stride);
  }

  const std::int64_t expected = (info.frame_count + o.settings.stride - 1) / o.settings.stride;
  ProgressBar bar(info.live ? 0 : static_cast<std::size_t>(expected), "frames");
  // Frames of one video share a size, so a batch is one forward pass. Sliced inference batches its
  // tiles instead, and a live source gains nothing from waiting for more frames: one at a time.
  const std::size_t batch_size = sliced || info.live ? 1 : static_cast<std::size_t>(o.settings.batch);
  DetectionReport total;
  StageTimes total_times;
  std::size_t processed = 0;
  std::vector<VideoFrame> frames;
  std::vector<DetectionReport> reports;
  std::vector<double> decode_ms;
  auto frame_name = [&](const VideoFrame& f) { return source + " frame " + std::to_string(f.index + 1); };
  auto detect_frames = [&]() -> std::vector<std::vector<Detection>> {
    std::vector<const Image*> images;
    for (const VideoFrame& f : frames) images.push_back(&f.image);
    return naming_image(frame_name(frames[0]) + (frames.size() > 1 ? " and the rest of its batch" : ""),
                        [&] { return detector.detect_images(images, options, &reports); });
  };
  for (bool more = true; more;) {
    frames.clear();
    reports.clear();
    decode_ms.clear();
    while (frames.size() < batch_size) {
      bar.update(processed + frames.size());
      const auto t0 = Clock::now();
      VideoFrame frame;
      if (!(more = reader.read(frame))) break;
      frames.push_back(std::move(frame));
      reports.emplace_back();
      decode_ms.push_back(ms_since(t0));
    }
    if (frames.empty()) break;
    const std::vector<std::vector<Detection>> dets = detect_frames();
    bar.clear();
    for (std::size_t i = 0; i < frames.size(); ++i) {
      VideoFrame& frame = frames[i];
      const DetectionReport& r = reports[i];
      total.add(r);
      const StageTimes times(r, decode_ms[i]);
      total_times.add(times);
      ++processed;
      print_frame_line(human, n, count, info, frame, detection_counts(dets[i], names), r, sliced);
      if (o.json) {
        nlohmann::json line = detections_json(names, source, frame.image, dets[i], r, times, sliced);
        line.erase("image");
        line["video"] = source;
        line["frame"] = frame.index + 1;
        line["time"] = round_decimals(frame.seconds, 6);
        std::printf("%s\n", json_text(line).c_str());
      }
      std::fflush(stdout);
      if (o.save_txt)
        write_labels((fs::path(o.dir) / "labels" / (stem + "_" + std::to_string(frame.index + 1) + ".txt")).string(),
                     dets[i], frame.image.width, frame.image.height, o.save_conf);
      if (writer) {
        draw_detections(frame.image, dets[i], names, o.draw);
        writer->write(frame.image);
      }
    }
  }
  bar.clear();
  if (writer) writer->finish();
  if (processed == 0) throw Error(source + ": no video frame could be decoded");

  std::string notes;
  if (reader.corrupt() > 0) notes += ", " + std::to_string(reader.corrupt()) + " corrupt frames skipped";
  if (info.live)
    notes += ", " + std::to_string(reader.dropped()) + " frames dropped while the detector was busy";
  const double k = static_cast<double>(processed);
  std::fprintf(human, "%s: %zu frames processed%s\n", terminal_text(source).c_str(), processed, notes.c_str());
  if (sliced)
    std::fprintf(human, "%s\n", sliced_speed(total, total_times.decode, k).c_str());
  else
    std::fprintf(human, "%s\n", speed_text(total_times, k, "NMS", "frame").c_str());
  if (writer) std::fprintf(human, "Results saved to %s\n", terminal_text(written).c_str());
  if (o.save_txt)
    std::fprintf(human, "%zu %s saved to %s\n", processed, processed == 1 ? "label" : "labels",
                 terminal_text((fs::path(o.dir) / "labels").string()).c_str());
}

#endif  // SPDINFER_HAVE_VIDEO

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

void add_video_options(CLI::App* cmd, VideoSettings& video) {
  cmd->add_option("--vid-stride", video.stride, "videos: detect in every N-th frame (the written video has those)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--stream-timeout", video.timeout_seconds,
                  "live streams and cameras: seconds without a frame before giving up")
      ->check(finite_range(0.1, 86400.0));
}

bool is_video_input(const std::string& arg) {
  if (arg.find("://") != std::string::npos) return true;
  if (arg.rfind("/dev/video", 0) == 0) return true;
  static const char* const kExtensions[] = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg",
                                            ".mpeg", ".ts", ".wmv", ".flv", ".3gp", ".asf", ".y4m"};
  const std::string ext = lower(fs::path(arg).extension().string());
  return std::find(std::begin(kExtensions), std::end(kExtensions), ext) != std::end(kExtensions);
}

void run_detect_video(const Detector& detector, const DetectOptions& options, const std::vector<std::string>& sources,
                      const VideoOutputs& outputs) {
#ifdef SPDINFER_HAVE_VIDEO
  if (outputs.save_video) {
    // Checked before any work: the second of two videos named alike would replace the first's results.
    std::map<std::string, std::string> by_stem;
    for (const std::string& source : sources) {
      const auto [it, fresh] = by_stem.emplace(output_stem(source), source);
      if (!fresh)
        throw Error(source + ": its results would replace those of " + it->second + " (both " + it->first +
                    ".mp4 in the results directory); run them separately");
    }
  }
  if (outputs.save_txt) make_directory((fs::path(outputs.dir) / "labels").string());
  std::FILE* human = outputs.json ? stderr : stdout;  // stdout carries the JSON lines
  for (std::size_t i = 0; i < sources.size(); ++i)
    detect_one_video(detector, options, sources[i], i + 1, sources.size(), outputs, human);
#else
  (void)detector;
  (void)options;
  (void)outputs;
  throw Error(sources.front() +
              ": is a video, and this spdinfer was built without video support (FFmpeg's libraries; see "
              "`spdinfer --version`)");
#endif
}

}  // namespace spdinfer::cli
