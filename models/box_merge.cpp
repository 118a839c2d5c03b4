// NMS / NMM over tile detections with cut-aware matching (see box_merge.h).
#include "models/box_merge.h"

#include <algorithm>

#include "models/slicing.h"

namespace spdinfer {
namespace {

float area(const Detection& d) { return std::max(d.x2 - d.x1, 0.0f) * std::max(d.y2 - d.y1, 0.0f); }

float intersection(const Detection& a, const Detection& b) {
  const float iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  return std::max(iw, 0.0f) * std::max(ih, 0.0f);
}

// IoU of the intervals [a1, a2] and [b1, b2].
float interval_iou(float a1, float a2, float b1, float b2) {
  const float inter = std::min(a2, b2) - std::max(a1, b1);
  const float uni = std::max(a2, b2) - std::min(a1, b1);
  return inter > 0 && uni > 0 ? inter / uni : 0.0f;
}

bool metric_matches(const Detection& a, const Detection& b, const MergeOptions& o) {
  const float m = o.match == MatchMetric::kIou ? box_iou(a, b) : box_ios(a, b);
  return m > o.threshold;
}

bool same_class_or_agnostic(const Detection& a, const Detection& b, const MergeOptions& o) {
  return o.agnostic || a.class_id == b.class_id;
}

bool linked_by_cut(const PlacedDetection& a, const PlacedDetection& b, float threshold) {
  return (a.cut && continues_across_cut(a, b, threshold)) || (b.cut && continues_across_cut(b, a, threshold));
}

}  // namespace

float box_ios(const Detection& a, const Detection& b) {
  const float smaller = std::min(area(a), area(b));
  return smaller > 0 ? intersection(a, b) / smaller : 0.0f;
}

bool continues_across_cut(const PlacedDetection& fragment, const PlacedDetection& other, float threshold) {
  const Detection& f = fragment.box;
  const Detection& o = other.box;
  // The other view must lie across the cut line, overlapping the fragment in
  // the tiles' overlap strip: an object beside the fragment that merely
  // touches the line is a different object.
  auto across_x = [&] { return o.x1 < f.x2 && o.x2 > f.x1; };
  auto across_y = [&] { return o.y1 < f.y2 && o.y2 > f.y1; };
  const bool rows_agree = interval_iou(f.y1, f.y2, o.y1, o.y2) > threshold;
  const bool cols_agree = interval_iou(f.x1, f.x2, o.x1, o.x2) > threshold;
  // A cut on the left or right leaves the fragment's rows intact; on the top
  // or bottom, its columns. The other view reaches beyond the cut line.
  if ((fragment.cut & kSideRight) && o.x2 > f.x2 && across_x() && rows_agree) return true;
  if ((fragment.cut & kSideLeft) && o.x1 < f.x1 && across_x() && rows_agree) return true;
  if ((fragment.cut & kSideBottom) && o.y2 > f.y2 && across_y() && cols_agree) return true;
  if ((fragment.cut & kSideTop) && o.y1 < f.y1 && across_y() && cols_agree) return true;
  return false;
}

std::vector<Detection> merge_detections(std::vector<PlacedDetection> dets, const MergeOptions& o) {
  std::stable_sort(dets.begin(), dets.end(), [](const PlacedDetection& a, const PlacedDetection& b) {
    return a.box.confidence > b.box.confidence;
  });
  const std::size_t n = dets.size();
  std::vector<char> taken(n, 0);
  std::vector<std::size_t> cluster;
  std::vector<Detection> out;
  for (std::size_t keeper = 0; keeper < n && out.size() < static_cast<std::size_t>(std::max(o.max_det, 0));
       ++keeper) {
    if (taken[keeper]) continue;
    taken[keeper] = 1;
    cluster.assign(1, keeper);
    // Breadth-first over the cluster: every member is compared once with
    // every box still free, so the whole merge is O(n^2) comparisons.
    for (std::size_t next = 0; next < cluster.size(); ++next) {
      const PlacedDetection& member = dets[cluster[next]];
      for (std::size_t j = keeper + 1; j < n; ++j) {
        if (taken[j] || !same_class_or_agnostic(member.box, dets[j].box, o)) continue;
        const bool joins = (next == 0 && metric_matches(member.box, dets[j].box, o)) ||
                           linked_by_cut(member, dets[j], o.threshold);
        if (joins) {
          taken[j] = 1;
          cluster.push_back(j);
        }
      }
    }
    Detection merged = dets[keeper].box;
    if (o.method == MergeMethod::kNmm)
      for (std::size_t i : cluster) {
        const Detection& d = dets[i].box;
        merged.x1 = std::min(merged.x1, d.x1);
        merged.y1 = std::min(merged.y1, d.y1);
        merged.x2 = std::max(merged.x2, d.x2);
        merged.y2 = std::max(merged.y2, d.y2);
      }
    out.push_back(merged);
  }
  return out;
}

}  // namespace spdinfer
