// Merging the detections of overlapping tiles (and of the full-image pass)
// into one box per object: greedy NMS, or non-maximum merging (NMM) whose
// kept box becomes the union of the boxes it absorbs, matching boxes by IoU
// or by IoS (intersection over the smaller box's area), per class unless
// agnostic. Boxes cut by a tile's inner border are matched by their uncut
// extent too, so an object split across 2 or 4 tiles ends as one box.
// What it is not: YOLOv5's NMS of one network output (detection.h), or
// tile geometry (slicing.h).
#pragma once

#include <vector>

#include "detect/detection.h"

namespace spdinfer {

enum class MergeMethod { kNms, kNmm };
enum class MatchMetric { kIou, kIos };

// NMM widens a keeper with a member only when the member's confidence is at
// least this fraction of the keeper's (see merge_detections).
constexpr float kMinPieceConfidenceRatio = 0.25f;

struct MergeOptions {
  MergeMethod method = MergeMethod::kNmm;
  MatchMetric match = MatchMetric::kIos;
  float threshold = 0.5f;  // boxes match when the metric is above it
  bool agnostic = false;   // match boxes of different classes too
  int max_det = 1000;      // most confident merged boxes kept
};

// A detection in image pixels and the tile sides (slicing.h's TileSide bits)
// that cut it; 0 for a whole box (or one from the full-image pass).
struct PlacedDetection {
  Detection box;
  unsigned cut = 0;
};

// Intersection over the smaller box's area: 1 when one box lies inside the
// other, so a fragment of an object matches the whole object's box.
float box_ios(const Detection& a, const Detection& b);

// Whether `fragment` (cut on its `fragment.cut` sides) and `other` can be two
// views of one object: `other` reaches the line where the fragment was cut
// and crosses it, and along that line (the extent a cut leaves intact) their
// 1-D IoU is above `threshold`. Classes are not compared here.
bool continues_across_cut(const PlacedDetection& fragment, const PlacedDetection& other, float threshold);

// Greedy clustering, most confident first: each cluster starts at the most
// confident box left (its keeper) and takes every box left that
//  - matches the keeper (IoU or IoS above the threshold), or
//  - is linked by continues_across_cut to a box already in the cluster, in
//    either direction.
// Chains run only through cut boxes: they are known fragments of something
// larger, while chaining whole boxes would let a crowd of neighbours collapse
// into one. NMS outputs each cluster's keeper; NMM outputs the keeper with
// the highest confidence (the keeper's) and the union of the keeper and the
// cluster's fragments: every member when the keeper is cut, else its cut
// members. Whole boxes that match a whole keeper do not widen it (at val's
// --conf 0.001 such unions with loose boxes cost most of the AP), and
// neither do members less confident than kMinPieceConfidenceRatio times the
// keeper: at --conf 0.001 many loose boxes touch a tile border, and taken for
// pieces they widened the boxes they joined (docs/experiments.md). At
// detect's default --conf 0.25 every box passes this bar.
// Returns boxes sorted by confidence, highest first, at most max_det.
// Each member is compared only with the boxes sharing a cell of a uniform
// grid with it (every way of joining needs the boxes to intersect), which
// keeps val's thousands of low-confidence tile boxes per image cheap.
std::vector<Detection> merge_detections(std::vector<PlacedDetection> dets, const MergeOptions& options);

// The same clustering comparing each member with every box: O(n^2), the
// plain statement of what merge_detections computes; tests check they agree.
std::vector<Detection> merge_detections_reference(std::vector<PlacedDetection> dets,
                                                  const MergeOptions& options);

}  // namespace spdinfer
