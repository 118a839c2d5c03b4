#include "eval/detection_metrics.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <string>

#include "engine/error.h"

namespace spdinfer {
namespace {

constexpr std::array<std::array<double, 2>, kAreaRanges> kAreaBounds = {
    {{0.0, kAreaMax}, {0.0, kSmallArea}, {kSmallArea, kMediumArea}, {kMediumArea, kAreaMax}}};

bool outside(double area, int range) { return area < kAreaBounds[range][0] || area > kAreaBounds[range][1]; }

double area_of(double x1, double y1, double x2, double y2) { return (x2 - x1) * (y2 - y1); }

}  // namespace

// numpy.linspace(start, stop, n): start + i * ((stop - start) / (n - 1)), the last one exactly stop.
double iou_threshold(int t) { return t == kIouThresholds - 1 ? 0.95 : 0.5 + t * ((0.95 - 0.5) / (kIouThresholds - 1)); }
double recall_threshold(int r) { return r == kRecallThresholds - 1 ? 1.0 : r * (1.0 / (kRecallThresholds - 1)); }

double box_iou_xyxy(double ax1, double ay1, double ax2, double ay2, double bx1, double by1, double bx2, double by2) {
  const double iw = std::min(ax2, bx2) - std::max(ax1, bx1);
  const double ih = std::min(ay2, by2) - std::max(ay1, by1);
  const double inter = iw > 0 && ih > 0 ? iw * ih : 0.0;
  const double uni = area_of(ax1, ay1, ax2, ay2) + area_of(bx1, by1, bx2, by2) - inter;
  return uni > 0 ? inter / uni : 0.0;
}

double ClassAp::ap50_95(AreaRange area) const {
  if (objects[area] == 0) return -1;
  return std::accumulate(ap[area].begin(), ap[area].end(), 0.0) / kIouThresholds;
}

DetectionEvaluator::DetectionEvaluator(int num_classes, int max_dets)
    : num_classes_(num_classes),
      max_dets_(max_dets),
      scored_(static_cast<std::size_t>(num_classes)),
      counted_(static_cast<std::size_t>(num_classes)),
      class_images_(static_cast<std::size_t>(num_classes)) {
  if (num_classes <= 0 || max_dets <= 0) throw Error("DetectionEvaluator: needs at least one class and one detection");
}

void DetectionEvaluator::add_image(const std::vector<LabelledBox>& truth, const std::vector<Detection>& detections) {
  std::vector<std::vector<const LabelledBox*>> truth_by_class(static_cast<std::size_t>(num_classes_));
  std::vector<std::vector<const Detection*>> dets_by_class(static_cast<std::size_t>(num_classes_));
  for (const LabelledBox& b : truth) {
    if (b.class_id < 0 || b.class_id >= num_classes_)
      throw Error("labelled class " + std::to_string(b.class_id) + " outside 0-" + std::to_string(num_classes_ - 1));
    truth_by_class[b.class_id].push_back(&b);
  }
  for (const Detection& d : detections) {
    if (d.class_id < 0 || d.class_id >= num_classes_)
      throw Error("detected class " + std::to_string(d.class_id) + " outside 0-" + std::to_string(num_classes_ - 1));
    dets_by_class[d.class_id].push_back(&d);
  }
  for (int c = 0; c < num_classes_; ++c) {
    if (!truth_by_class[c].empty()) ++class_images_[c];
    add_class(c, truth_by_class[c], std::move(dets_by_class[c]));
  }
  ++images_;
  detections_ += static_cast<int64_t>(detections.size());
}

void DetectionEvaluator::add_class(int c, const std::vector<const LabelledBox*>& truth,
                                   std::vector<const Detection*> dets) {
  std::stable_sort(dets.begin(), dets.end(),
                   [](const Detection* a, const Detection* b) { return a->confidence > b->confidence; });
  if (dets.size() > static_cast<std::size_t>(max_dets_)) dets.resize(static_cast<std::size_t>(max_dets_));
  const std::size_t nd = dets.size(), ng = truth.size();
  std::vector<double> det_area(nd), truth_area(ng);
  for (std::size_t d = 0; d < nd; ++d) det_area[d] = area_of(dets[d]->x1, dets[d]->y1, dets[d]->x2, dets[d]->y2);
  for (std::size_t g = 0; g < ng; ++g) truth_area[g] = area_of(truth[g]->x1, truth[g]->y1, truth[g]->x2, truth[g]->y2);
  std::vector<double> iou(nd * ng);
  for (std::size_t d = 0; d < nd; ++d)
    for (std::size_t g = 0; g < ng; ++g)
      iou[d * ng + g] = box_iou_xyxy(dets[d]->x1, dets[d]->y1, dets[d]->x2, dets[d]->y2, truth[g]->x1, truth[g]->y1,
                                     truth[g]->x2, truth[g]->y2);

  for (int range = 0; range < kAreaRanges; ++range) {
    // Objects that count come first, so a detection prefers them to ignored ones.
    std::vector<std::size_t> order(ng);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_partition(order.begin(), order.end(), [&](std::size_t g) { return !outside(truth_area[g], range); });
    const auto counted = std::count_if(order.begin(), order.end(), [&](std::size_t g) { return !outside(truth_area[g], range); });
    counted_[c][range] += counted;

    std::vector<Scored> scored(nd, Scored{0.f, 0, 0});
    for (std::size_t d = 0; d < nd; ++d) scored[d].score = dets[d]->confidence;
    for (int t = 0; t < kIouThresholds; ++t) {
      std::vector<char> taken(ng, 0);
      for (std::size_t d = 0; d < nd; ++d) {
        double best = std::min(iou_threshold(t), 1 - 1e-10);
        std::ptrdiff_t match = -1;
        for (std::size_t k = 0; k < ng; ++k) {
          const std::size_t g = order[k];
          if (taken[g]) continue;
          // Once matched to an object that counts, an ignored one cannot replace it.
          if (match >= 0 && static_cast<std::ptrdiff_t>(k) >= counted && !outside(truth_area[match], range)) break;
          if (iou[d * ng + g] < best) continue;
          best = iou[d * ng + g];
          match = static_cast<std::ptrdiff_t>(g);
        }
        const std::uint16_t bit = static_cast<std::uint16_t>(1u << t);
        if (match < 0) {
          if (outside(det_area[d], range)) scored[d].ignored |= bit;
          continue;
        }
        taken[match] = 1;
        if (outside(truth_area[match], range))
          scored[d].ignored |= bit;
        else
          scored[d].matched |= bit;
      }
    }
    auto& all = scored_[c][range];
    all.insert(all.end(), scored.begin(), scored.end());
  }
}

std::vector<DetectionEvaluator::Scored> DetectionEvaluator::ranked(int c, int range) const {
  std::vector<Scored> dets = scored_[c][range];
  std::stable_sort(dets.begin(), dets.end(), [](const Scored& a, const Scored& b) { return a.score > b.score; });
  return dets;
}

std::vector<DetectionEvaluator::RankedDetection> DetectionEvaluator::ranked_at_iou50(int c) const {
  if (c < 0 || c >= num_classes_) throw Error("class " + std::to_string(c) + " outside 0-" + std::to_string(num_classes_ - 1));
  std::vector<RankedDetection> out;
  for (const Scored& s : ranked(c, kAreaAll)) out.push_back({s.score, (s.matched & 1u) != 0});
  return out;
}

DetectionMetrics DetectionEvaluator::compute() const {
  DetectionMetrics m;
  m.images = images_;
  m.detections = detections_;
  m.per_class.resize(static_cast<std::size_t>(num_classes_));
  constexpr double kEps = std::numeric_limits<double>::epsilon();  // numpy.spacing(1), as COCOeval adds
  for (int c = 0; c < num_classes_; ++c) {
    ClassAp& out = m.per_class[c];
    out.images = class_images_[c];
    for (int range = 0; range < kAreaRanges; ++range) {
      const int64_t objects = counted_[c][range];
      out.objects[range] = objects;
      m.objects[range] += objects;
      if (objects == 0) {
        out.ap[range].fill(-1);
        continue;
      }
      const std::vector<Scored> dets = ranked(c, range);
      for (int t = 0; t < kIouThresholds; ++t) {
        const std::uint16_t bit = static_cast<std::uint16_t>(1u << t);
        std::vector<double> recall, precision;
        double tp = 0, fp = 0;
        for (const Scored& s : dets) {
          if (s.ignored & bit) continue;
          (s.matched & bit ? tp : fp) += 1;
          recall.push_back(tp / static_cast<double>(objects));
          precision.push_back(tp / (tp + fp + kEps));
        }
        for (std::size_t i = precision.size(); i-- > 1;) precision[i - 1] = std::max(precision[i - 1], precision[i]);
        double sum = 0;
        std::size_t i = 0;
        for (int r = 0; r < kRecallThresholds; ++r) {
          const double want = recall_threshold(r);
          while (i < recall.size() && recall[i] < want) ++i;
          if (i == recall.size()) break;
          sum += precision[i];
          if (range == kAreaAll && t == 0) out.precision50[r] = precision[i];
        }
        out.ap[range][t] = sum / kRecallThresholds;
      }
    }
  }
  auto mean_over_classes = [&](auto value, int range) {
    double sum = 0;
    int n = 0;
    for (const ClassAp& a : m.per_class)
      if (a.objects[range] > 0) sum += value(a), ++n;
    return n ? sum / n : -1.0;
  };
  m.map50 = mean_over_classes([](const ClassAp& a) { return a.ap[kAreaAll][0]; }, kAreaAll);
  m.map75 = mean_over_classes([](const ClassAp& a) { return a.ap[kAreaAll][5]; }, kAreaAll);
  for (int range = 0; range < kAreaRanges; ++range)
    m.map_area[range] =
        mean_over_classes([range](const ClassAp& a) { return a.ap50_95(static_cast<AreaRange>(range)); }, range);
  m.map50_95 = m.map_area[kAreaAll];
  return m;
}

}  // namespace spdinfer
