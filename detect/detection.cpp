// YOLOv5's non_max_suppression / scale_boxes, step for step (see detection.h).
#include "detect/detection.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>

namespace spdinfer {

float box_iou(const Detection& a, const Detection& b) {
  const float iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  const float inter = std::max(iw, 0.0f) * std::max(ih, 0.0f);
  const float area_a = (a.x2 - a.x1) * (a.y2 - a.y1), area_b = (b.x2 - b.x1) * (b.y2 - b.y1);
  const float uni = area_a + area_b - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

std::vector<int> nms_sorted(const std::vector<Detection>& boxes, float iou_threshold) {
  std::vector<int> keep;
  std::vector<char> suppressed(boxes.size(), 0);
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    if (suppressed[i]) continue;
    keep.push_back(static_cast<int>(i));
    for (std::size_t j = i + 1; j < boxes.size(); ++j)
      if (!suppressed[j] && box_iou(boxes[i], boxes[j]) > iou_threshold) suppressed[j] = 1;
  }
  return keep;
}

std::vector<Detection> non_max_suppression(const float* pred, std::int64_t rows, int row_size,
                                           const NmsOptions& o) {
  const int nc = row_size - 5;
  std::vector<Detection> cand;
  if (nc < 1) return cand;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* p = pred + r * row_size;
    const float obj = p[4];
    if (!(obj > o.conf_threshold)) continue;  // also false for NaN
    bool finite = std::isfinite(obj) && std::isfinite(p[0]) && std::isfinite(p[1]) && std::isfinite(p[2]) &&
                  std::isfinite(p[3]);
    // Best class by score = obj * cls; the first of equal maxima, as torch.max.
    int best = 0;
    float best_score = 0;
    for (int c = 0; c < nc && finite; ++c) {
      const float s = p[5 + c] * obj;
      if (!std::isfinite(s)) {
        finite = false;
      } else if (c == 0 || s > best_score) {
        best = c;
        best_score = s;
      }
    }
    if (!finite || !(best_score > o.conf_threshold)) continue;
    // YOLOv5 filters --classes after choosing the best class, not before.
    if (!o.classes.empty() && std::find(o.classes.begin(), o.classes.end(), best) == o.classes.end())
      continue;
    Detection d;
    d.x1 = p[0] - p[2] / 2;
    d.y1 = p[1] - p[3] / 2;
    d.x2 = p[0] + p[2] / 2;
    d.y2 = p[1] + p[3] / 2;
    d.confidence = best_score;
    d.class_id = best;
    cand.push_back(d);
  }
  // Scores are finite here, so the comparator is a strict weak order.
  std::stable_sort(cand.begin(), cand.end(),
                   [](const Detection& a, const Detection& b) { return a.confidence > b.confidence; });
  if (cand.size() > static_cast<std::size_t>(kMaxNmsCandidates)) cand.resize(kMaxNmsCandidates);

  // One NMS for all classes: each class's boxes are moved kClassOffset * class
  // away so boxes of different classes never overlap (YOLOv5's trick).
  std::vector<Detection> shifted = cand;
  if (!o.agnostic)
    for (Detection& d : shifted) {
      const float off = d.class_id * kClassOffset;
      d.x1 += off;
      d.y1 += off;
      d.x2 += off;
      d.y2 += off;
    }
  std::vector<int> keep = nms_sorted(shifted, o.iou_threshold);
  if (keep.size() > static_cast<std::size_t>(std::max(o.max_det, 0))) keep.resize(std::max(o.max_det, 0));
  std::vector<Detection> out;
  out.reserve(keep.size());
  for (int i : keep) out.push_back(cand[i]);
  return out;
}

void scale_boxes_to_source(std::vector<Detection>& dets, const LetterboxGeometry& g) {
  const double gain =
      std::min(static_cast<double>(g.out_h) / g.src_h, static_cast<double>(g.out_w) / g.src_w);
  const float pad_x = static_cast<float>((g.out_w - g.src_w * gain) / 2);
  const float pad_y = static_cast<float>((g.out_h - g.src_h * gain) / 2);
  const float fgain = static_cast<float>(gain);
  const float w = static_cast<float>(g.src_w), h = static_cast<float>(g.src_h);
  for (Detection& d : dets) {
    d.x1 = std::clamp((d.x1 - pad_x) / fgain, 0.0f, w);
    d.x2 = std::clamp((d.x2 - pad_x) / fgain, 0.0f, w);
    d.y1 = std::clamp((d.y1 - pad_y) / fgain, 0.0f, h);
    d.y2 = std::clamp((d.y2 - pad_y) / fgain, 0.0f, h);
  }
}

std::string detection_counts(const std::vector<Detection>& dets, const std::vector<std::string>& names) {
  if (dets.empty()) return "(no detections), ";
  std::map<int, int> counts;
  for (const Detection& d : dets) ++counts[d.class_id];
  std::string s;
  for (const auto& [cls, n] : counts) {
    const std::string name =
        cls >= 0 && static_cast<std::size_t>(cls) < names.size() ? names[cls] : "class" + std::to_string(cls);
    s += std::to_string(n) + " " + (n > 1 ? plural_noun(name) : name) + ", ";
  }
  return s;
}

std::string class_names_excerpt(const std::vector<std::string>& names, std::size_t limit) {
  std::string list;
  for (std::size_t i = 0; i < names.size() && i < limit; ++i)
    list += (i ? ", " : "") + std::to_string(i) + " " + names[i];
  if (names.size() > limit) list += ", ... (" + std::to_string(names.size()) + " in all)";
  return list;
}

std::string plural_noun(const std::string& name) {
  const auto is_letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  if (name.empty() || !is_letter(name.back())) return name;
  const bool upper = name.back() >= 'A' && name.back() <= 'Z';
  const auto suffix = [upper](const char* s) {
    std::string out = s;
    if (upper)
      for (char& c : out) c = static_cast<char>(c - 'a' + 'A');
    return out;
  };
  const char last = lower(name.back());
  const char before = name.size() > 1 ? lower(name[name.size() - 2]) : '\0';
  if (last == 's') return before == 's' || before == 'u' ? name + suffix("es") : name;
  if (last == 'x' || last == 'z' || (last == 'h' && (before == 'c' || before == 's'))) return name + suffix("es");
  if (last == 'y' && is_letter(before) && std::string("aeiou").find(before) == std::string::npos)
    return name.substr(0, name.size() - 1) + suffix("ies");
  return name + suffix("s");
}

std::string yolo_label_line(const Detection& d, int image_w, int image_h, bool with_confidence) {
  const double xc = (d.x1 + d.x2) / 2.0 / image_w, yc = (d.y1 + d.y2) / 2.0 / image_h;
  const double w = (d.x2 - d.x1) / static_cast<double>(image_w),
               h = (d.y2 - d.y1) / static_cast<double>(image_h);
  char buf[160];
  int n = std::snprintf(buf, sizeof buf, "%d %g %g %g %g", d.class_id, xc, yc, w, h);
  if (with_confidence) std::snprintf(buf + n, sizeof buf - n, " %g", static_cast<double>(d.confidence));
  return buf;
}

}  // namespace spdinfer
