// The sliced-inference options that `detect` and `val` share (--slice,
// --overlap, --full-pass/--no-full-pass, --merge, --match, --merge-thres,
// --tile-batch), registered straight into detect/detection_pipeline.h's
// SliceOptions, and the line that describes them.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "detect/detection_pipeline.h"

namespace spdinfer::cli {

// Tile sides --slice accepts, in pixels: below the smallest network input a
// tile is all border; above the largest image side it is pointless.
constexpr int kMinSliceSide = 32;
constexpr int kMaxSliceSide = 20000;

// Every option but --slice needs --slice: given alone it would do nothing.
void add_slice_options(CLI::App* cmd, SliceOptions& slice);

// "tiles 640x640, overlap 0.2, full pass, nmm/ios > 0.5, 8 tiles per batch".
std::string describe_slicing(const SliceOptions& slice);

// "Speed: ...ms decode, ...ms pre-process, ... merge per image; 12.0 tiles and
// 3.0 forwards per image" from the totals over `images` images, decoding the
// files having taken `decode_ms` in all (no newline).
std::string sliced_speed(const DetectionReport& total, double decode_ms, double images);

}  // namespace spdinfer::cli
