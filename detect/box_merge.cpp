// NMS / NMM over tile detections with cut-aware matching (see box_merge.h).
#include "detect/box_merge.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "detect/slicing.h"

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

namespace {

// Boxes bucketed by the cells of a uniform grid that their extent overlaps,
// so the boxes that may intersect one box are found without looking at all of
// them. Every way of joining a cluster needs a positive-area intersection
// (a metric above a threshold >= 0, or a cut link whose two extents overlap),
// so the boxes sharing a cell with a box are all it can join.
class BoxGrid {
 public:
  // At most kMaxCells cells per side; cells no smaller than kMinCell pixels.
  static constexpr int kMaxCells = 64;
  static constexpr float kMinCell = 16.0f;

  explicit BoxGrid(const std::vector<PlacedDetection>& dets) : stamp_(dets.size(), 0) {
    float x_lo = 0, y_lo = 0, x_hi = 0, y_hi = 0;
    bool any = false;
    for (const PlacedDetection& p : dets) {
      const Detection& d = p.box;
      if (!(std::isfinite(d.x1) && std::isfinite(d.x2) && std::isfinite(d.y1) && std::isfinite(d.y2)))
        continue;
      x_lo = any ? std::min({x_lo, d.x1, d.x2}) : std::min(d.x1, d.x2);
      x_hi = any ? std::max({x_hi, d.x1, d.x2}) : std::max(d.x1, d.x2);
      y_lo = any ? std::min({y_lo, d.y1, d.y2}) : std::min(d.y1, d.y2);
      y_hi = any ? std::max({y_hi, d.y1, d.y2}) : std::max(d.y1, d.y2);
      any = true;
    }
    x0_ = x_lo;
    y0_ = y_lo;
    cell_ = std::max(std::max(x_hi - x_lo, y_hi - y_lo) / kMaxCells, kMinCell);
    cols_ = cell_index(x_hi, x0_, kMaxCells) + 1;
    rows_ = cell_index(y_hi, y0_, kMaxCells) + 1;
    cells_.resize(static_cast<std::size_t>(cols_) * rows_);
    for (std::size_t i = 0; i < dets.size(); ++i)
      visit_cells(dets[i].box,
                  [&](std::vector<std::uint32_t>& cell) { cell.push_back(static_cast<std::uint32_t>(i)); });
  }

  // Calls visit(j) once for every box j sharing a cell with `d`.
  template <typename Visit>
  void for_each_near(const Detection& d, Visit&& visit) {
    ++query_;
    visit_cells(d, [&](const std::vector<std::uint32_t>& cell) {
      for (std::uint32_t j : cell)
        if (stamp_[j] != query_) {
          stamp_[j] = query_;
          visit(static_cast<std::size_t>(j));
        }
    });
  }

 private:
  // The cell of coordinate v along an axis starting at `origin`, clamped to
  // [0, count - 1]; NaN goes to cell 0 (such a box never joins anything).
  int cell_index(float v, float origin, int count) const {
    const float c = std::floor((v - origin) / cell_);
    if (!(c >= 0)) return 0;
    return c >= static_cast<float>(count - 1) ? count - 1 : static_cast<int>(c);
  }

  template <typename Fn>
  void visit_cells(const Detection& d, Fn&& fn) {
    const int cx1 = cell_index(std::min(d.x1, d.x2), x0_, cols_),
              cx2 = cell_index(std::max(d.x1, d.x2), x0_, cols_);
    const int cy1 = cell_index(std::min(d.y1, d.y2), y0_, rows_),
              cy2 = cell_index(std::max(d.y1, d.y2), y0_, rows_);
    for (int cy = cy1; cy <= cy2; ++cy)
      for (int cx = cx1; cx <= cx2; ++cx) fn(cells_[static_cast<std::size_t>(cy) * cols_ + cx]);
  }

  float x0_ = 0, y0_ = 0, cell_ = kMinCell;
  int cols_ = 1, rows_ = 1;
  std::vector<std::vector<std::uint32_t>> cells_;
  std::vector<std::uint32_t> stamp_;  // the last query that visited each box
  std::uint32_t query_ = 0;
};

void sort_by_confidence(std::vector<PlacedDetection>& dets) {
  std::stable_sort(dets.begin(), dets.end(), [](const PlacedDetection& a, const PlacedDetection& b) {
    return a.box.confidence > b.box.confidence;
  });
}

// The clustering both implementations share, over `dets` sorted most
// confident first. near(i, visit) calls visit(j) for (at least) every box j
// that box i may join; which boxes it offers is all that differs.
template <typename Near>
std::vector<Detection> merge_sorted(const std::vector<PlacedDetection>& dets, const MergeOptions& o,
                                    Near&& near) {
  const std::size_t n = dets.size();
  std::vector<char> taken(n, 0);
  std::vector<std::size_t> cluster;
  std::vector<Detection> out;
  for (std::size_t keeper = 0; keeper < n && out.size() < static_cast<std::size_t>(std::max(o.max_det, 0));
       ++keeper) {
    if (taken[keeper]) continue;
    taken[keeper] = 1;
    cluster.assign(1, keeper);
    // Breadth-first over the cluster: each member is compared once with each
    // box still free that `near` offers. Which boxes join does not depend on
    // the order they are offered in, so both implementations agree exactly.
    for (std::size_t next = 0; next < cluster.size(); ++next) {
      const std::size_t m = cluster[next];
      near(m, [&](std::size_t j) {
        if (taken[j] || !same_class_or_agnostic(dets[m].box, dets[j].box, o)) return;
        const bool joins = (m == keeper && metric_matches(dets[m].box, dets[j].box, o)) ||
                           linked_by_cut(dets[m], dets[j], o.threshold);
        if (joins) {
          taken[j] = 1;
          cluster.push_back(j);
        }
      });
    }
    Detection merged = dets[keeper].box;
    if (o.method == MergeMethod::kNmm)
      for (std::size_t i : cluster) {
        // Only pieces of a cut object widen the box. A whole box that merely
        // matches the keeper is another view of it, or a loose low-confidence
        // box around it (val keeps thousands): taking its union would only
        // spoil the keeper's localisation, so it is suppressed, as by NMS.
        if (!dets[i].cut && !dets[keeper].cut) continue;
        // A piece far less confident than the keeper is more likely a loose
        // box that happens to touch a tile border than the rest of the object.
        if (dets[i].box.confidence < kMinPieceConfidenceRatio * dets[keeper].box.confidence) continue;
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

}  // namespace

std::vector<Detection> merge_detections_reference(std::vector<PlacedDetection> dets, const MergeOptions& o) {
  sort_by_confidence(dets);
  return merge_sorted(dets, o, [n = dets.size()](std::size_t, auto&& visit) {
    for (std::size_t j = 0; j < n; ++j) visit(j);
  });
}

std::vector<Detection> merge_detections(std::vector<PlacedDetection> dets, const MergeOptions& o) {
  sort_by_confidence(dets);
  BoxGrid grid(dets);
  return merge_sorted(dets, o, [&](std::size_t i, auto&& visit) { grid.for_each_near(dets[i].box, visit); });
}

}  // namespace spdinfer
