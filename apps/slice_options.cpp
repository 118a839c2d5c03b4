// --slice and its companions (see slice_options.h).
#include "apps/slice_options.h"

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "apps/input_size.h"
#include "apps/number_checks.h"
#include "detect/slicing.h"

namespace spdinfer::cli {
namespace {

// "W" (a square) or "WxH", sides in [kMinSliceSide, kMaxSliceSide]; an error
// message, or "" with *w and *h set.
std::string parse_slice(const std::string& text, int* w, int* h) {
  if (parse_dimensions(text, kMinSliceSide, kMaxSliceSide, w, h)) return "";
  return "Value " + text + " is not W or WxH with sides of " + std::to_string(kMinSliceSide) + " to " +
         std::to_string(kMaxSliceSide) + " pixels";
}

// An option taking one of a few words, each naming a value of `target`.
// Spelled out rather than CLI::CheckedTransformer, which would also take the
// enums' numbers.
template <typename Enum>
CLI::Option* add_word_choice(CLI::App* cmd, const std::string& name, Enum& target,
                             const std::vector<std::pair<std::string, Enum>>& words, const std::string& help) {
  std::vector<std::string> allowed;
  for (const auto& word : words) allowed.push_back(word.first);
  return cmd
      ->add_option_function<std::string>(
          name,
          [&target, words](const std::string& text) {
            for (const auto& word : words)
              if (word.first == text) target = word.second;
          },
          help)
      ->check(CLI::IsMember(allowed));
}

}  // namespace

void add_slice_options(CLI::App* cmd, SliceOptions& slice) {
  CLI::Option* slice_option =
      cmd->add_option_function<std::string>(
             "--slice", [&slice](const std::string& text) { parse_slice(text, &slice.width, &slice.height); },
             "sliced inference: cut the image into overlapping tiles of WxH pixels (or W for WxW) at native "
             "resolution, each letterboxed to --img, run in batches and merged; for small objects in large "
             "images")
          ->check(CLI::Validator(
              [](std::string& text) {
                int w = 0, h = 0;
                return parse_slice(text, &w, &h);
              },
              "WxH"));
  cmd->add_option("--overlap", slice.overlap,
                  "with --slice: share of a tile's width (height) shared with the next")
      ->check(finite_range(0.0, kMaxOverlapRatio))
      ->needs(slice_option);
  cmd->add_flag(
         "--full-pass,!--no-full-pass", slice.full_pass,
         "with --slice: also run the whole letterboxed image, for objects larger than a tile (default: on)")
      ->needs(slice_option);
  add_word_choice(cmd, "--merge", slice.merge.method, {{"nmm", MergeMethod::kNmm}, {"nms", MergeMethod::kNms}},
                  "with --slice: nms keeps the most confident of matching boxes, nmm also widens it to the pieces "
                  "of an object cut by tile borders (default: nmm)")
      ->needs(slice_option);
  add_word_choice(cmd, "--match", slice.merge.match, {{"ios", MatchMetric::kIos}, {"iou", MatchMetric::kIou}},
                  "with --slice: boxes match by ios (intersection over the smaller box, so a fragment matches "
                  "the whole) or iou (default: ios)")
      ->needs(slice_option);
  cmd->add_option("--merge-thres", slice.merge.threshold,
                  "with --slice: boxes match when iou/ios is above this")
      ->check(finite_range(0.0, 1.0))
      ->needs(slice_option);
  cmd->add_option(
         "--tile-batch", slice.tile_batch,
         "with --slice: tiles per forward pass (memory grows with it; the last batch may be smaller)")
      ->check(CLI::Range(1, 1024))
      ->needs(slice_option);
}

std::string describe_slicing(const SliceOptions& s) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "tiles %dx%d, overlap %g, %s, %s/%s > %g, %d tile%s per batch", s.width,
                s.height, s.overlap, s.full_pass ? "full pass" : "no full pass",
                s.merge.method == MergeMethod::kNmm ? "nmm" : "nms",
                s.merge.match == MatchMetric::kIos ? "ios" : "iou", static_cast<double>(s.merge.threshold),
                s.tile_batch, s.tile_batch == 1 ? "" : "s");
  return buf;
}

std::string sliced_speed(const DetectionReport& t, double decode_ms, double n) {
  char buf[300];
  std::snprintf(buf, sizeof buf,
                "Speed: %.1fms decode, %.1fms pre-process, %.1fms inference, %.1fms NMS, %.1fms merge per image; "
                "%.1f tiles and %.1f forwards per image",
                decode_ms / n, t.pre_ms / n, t.infer_ms / n, t.nms_ms / n, t.merge_ms / n, t.tiles / n,
                t.forwards / n);
  return buf;
}

}  // namespace spdinfer::cli
