// `spdinfer detect` on videos, streams and cameras: every frame (or every --vid-stride-th) through
// the same Detector as a photo, a console line per frame like YOLOv5's, a progress bar for files,
// JSON lines, and with --out the annotated video plus, with --save-txt, labels NAME_FRAME.txt.
// What it is not: decoding (image/video_reader.h) or the image path (apps/cmd_detect.cpp).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "detect/draw.h"
#include "models/detector.h"

namespace spdinfer::cli {

// The options only videos have (and --batch, which detect shares with images).
struct VideoSettings {
  int stride = 1;               // --vid-stride: detect in every N-th frame
  double timeout_seconds = 10;  // --stream-timeout: a live source silent this long is an error
  int batch = 1;                // --batch: frames per forward pass (files, without --slice)
};

void add_video_options(CLI::App* cmd, VideoSettings& video);

// What detect's other options say about the outputs.
struct VideoOutputs {
  std::string dir;          // the run's directory (runs/detect/expN or --out), made by the caller; empty: none
  bool save_video = false;  // DIR/NAME.mp4 (not with --nosave)
  bool save_txt = false;    // DIR/labels/NAME_FRAME.txt
  bool save_conf = false;
  bool json = false;
  DrawStyle draw;
  VideoSettings settings;
};

// A detect argument read as a video: a name ending in .mp4, .avi, .mkv, .mov, .webm, .m4v, .mpg,
// .mpeg, .ts, .wmv, .flv, .3gp, .asf, .y4m (any case); a URL (rtsp://, rtmp://, http(s)://, tcp://, udp://,
// file://...); or a device /dev/video*.
bool is_video_input(const std::string& arg);

// Runs `detector` over each source in turn. Throws spdinfer::Error naming the source, in one line,
// when it cannot be read (or, in a build without FFmpeg, for any video).
void run_detect_video(const Detector& detector, const DetectOptions& options, const std::vector<std::string>& sources,
                      const VideoOutputs& outputs);

}  // namespace spdinfer::cli
