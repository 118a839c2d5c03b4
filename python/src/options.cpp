// Checking detect()'s keywords (see options.h).
#include "options.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "detect/detection.h"
#include "detect/slicing.h"
#include "engine/error.h"

namespace spdinfer::python {
namespace {

// Tile sides slice= accepts, as the command's --slice (apps/slice_options.h).
constexpr long long kMinSliceSide = 32, kMaxSliceSide = 20000;
constexpr long long kMaxDetections = 1'000'000, kMaxTileBatch = 1024;

template <typename T>
std::string text(T value) {
  std::ostringstream s;
  s << value;
  return s.str();
}

template <typename T>
void check_range(const char* name, T value, T low, T high) {
  // Written so NaN fails: every comparison with it is false.
  if (!(value >= low && value <= high))
    throw Error(std::string(name) + "=" + text(value) + ": expected " + text(low) + " to " + text(high));
}

MergeMethod merge_method(const std::string& word) {
  if (word == "nmm") return MergeMethod::kNmm;
  if (word == "nms") return MergeMethod::kNms;
  throw Error("merge='" + word + "': expected 'nmm' or 'nms'");
}

MatchMetric match_metric(const std::string& word) {
  if (word == "ios") return MatchMetric::kIos;
  if (word == "iou") return MatchMetric::kIou;
  throw Error("match='" + word + "': expected 'ios' or 'iou'");
}

// A class id, checked against the model's classes, or a class name, looked up.
int class_id(const std::variant<long long, std::string>& item, const std::vector<std::string>& names) {
  const long long nc = static_cast<long long>(names.size());
  if (const long long* id = std::get_if<long long>(&item)) {
    if (*id < 0 || *id >= nc)
      throw Error("classes: " + text(*id) + " is not a class of the model, which has " + text(nc) + " (0-" +
                  text(nc - 1) + ")");
    return static_cast<int>(*id);
  }
  const std::string& name = std::get<std::string>(item);
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end())
    throw Error("classes: no class named '" + name + "' in the model; its classes: " + class_names_excerpt(names));
  return static_cast<int>(it - names.begin());
}

}  // namespace

DetectOptions detect_options(const DetectArguments& a, const std::vector<std::string>& names, int default_img_size,
                             int threads) {
  DetectOptions o;
  o.threads = threads;
  check_range("conf", a.conf, 0.0, 1.0);
  check_range("iou", a.iou, 0.0, 1.0);
  check_range("max_det", a.max_det, 1LL, kMaxDetections);
  o.nms.conf_threshold = static_cast<float>(a.conf);
  o.nms.iou_threshold = static_cast<float>(a.iou);
  o.nms.max_det = static_cast<int>(a.max_det);
  o.nms.agnostic = a.agnostic;
  if (a.classes)
    for (const auto& item : *a.classes) o.nms.classes.push_back(class_id(item, names));
  o.img_size = default_img_size;
  if (a.img_size) {
    check_range("img_size", *a.img_size, static_cast<long long>(kMinImgSize), static_cast<long long>(kMaxImgSize));
    o.img_size = static_cast<int>(*a.img_size);
  }
  if (a.slice) {
    check_range("slice width", a.slice->first, kMinSliceSide, kMaxSliceSide);
    check_range("slice height", a.slice->second, kMinSliceSide, kMaxSliceSide);
    check_range("overlap", a.overlap, 0.0, kMaxOverlapRatio);
    check_range("merge_thres", a.merge_thres, 0.0, 1.0);
    check_range("tile_batch", a.tile_batch, 1LL, kMaxTileBatch);
    o.slice.width = static_cast<int>(a.slice->first);
    o.slice.height = static_cast<int>(a.slice->second);
    o.slice.overlap = a.overlap;
    o.slice.full_pass = a.full_pass;
    o.slice.tile_batch = static_cast<int>(a.tile_batch);
    o.slice.merge.method = merge_method(a.merge);
    o.slice.merge.match = match_metric(a.match);
    o.slice.merge.threshold = static_cast<float>(a.merge_thres);
  }
  return o;
}

}  // namespace spdinfer::python
