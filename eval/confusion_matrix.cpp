#include "eval/confusion_matrix.h"

#include <algorithm>
#include <string>
#include <utility>

#include "engine/error.h"

namespace spdinfer {
namespace {

struct Pair {
  std::size_t object, detection;
  double iou;
};

void check_class(int id, int num_classes, const char* what) {
  if (id < 0 || id >= num_classes)
    throw Error(std::string(what) + " class " + std::to_string(id) + " outside 0-" + std::to_string(num_classes - 1));
}

}  // namespace

ConfusionMatrix::ConfusionMatrix(int num_classes, double conf_threshold, double iou_threshold)
    : num_classes_(num_classes),
      conf_threshold_(conf_threshold),
      iou_threshold_(iou_threshold),
      counts_(static_cast<std::size_t>(std::max(num_classes, 0) + 1),
              std::vector<int64_t>(static_cast<std::size_t>(std::max(num_classes, 0) + 1), 0)) {
  if (num_classes <= 0) throw Error("ConfusionMatrix: needs at least one class");
}

void ConfusionMatrix::add_image(const std::vector<LabelledBox>& truth, const std::vector<Detection>& detections) {
  for (const LabelledBox& b : truth) check_class(b.class_id, num_classes_, "labelled");
  std::vector<const Detection*> kept;
  for (const Detection& d : detections) {
    check_class(d.class_id, num_classes_, "detected");
    if (d.confidence > conf_threshold_) kept.push_back(&d);
  }
  std::vector<Pair> pairs;
  for (std::size_t g = 0; g < truth.size(); ++g)
    for (std::size_t d = 0; d < kept.size(); ++d) {
      const LabelledBox& b = truth[g];
      const Detection& k = *kept[d];
      const double iou = box_iou_xyxy(b.x1, b.y1, b.x2, b.y2, k.x1, k.y1, k.x2, k.y2);
      if (iou > iou_threshold_) pairs.push_back({g, d, iou});
    }
  // As YOLOv5: by IoU, highest first, each detection keeps its best pair; of those, each object
  // keeps its best. (A detection whose best object goes to another stays unpaired: it is not
  // offered its second best.)
  auto keep_best = [&pairs](auto key) {
    std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.iou > b.iou; });
    std::vector<Pair> best;
    std::vector<char> seen;
    for (const Pair& p : pairs) {
      const std::size_t k = key(p);
      if (k >= seen.size()) seen.resize(k + 1, 0);
      if (!seen[k]) seen[k] = 1, best.push_back(p);
    }
    pairs = std::move(best);
  };
  keep_best([](const Pair& p) { return p.detection; });
  keep_best([](const Pair& p) { return p.object; });
  std::vector<char> detection_paired(kept.size(), 0);
  std::vector<std::ptrdiff_t> paired_with(truth.size(), -1);
  for (const Pair& p : pairs) {
    detection_paired[p.detection] = 1;
    paired_with[p.object] = static_cast<std::ptrdiff_t>(p.detection);
  }
  const auto background = static_cast<std::size_t>(num_classes_);
  for (std::size_t g = 0; g < truth.size(); ++g) {
    const auto true_class = static_cast<std::size_t>(truth[g].class_id);
    const std::size_t detected =
        paired_with[g] < 0 ? background : static_cast<std::size_t>(kept[static_cast<std::size_t>(paired_with[g])]->class_id);
    ++counts_[detected][true_class];
  }
  for (std::size_t d = 0; d < kept.size(); ++d)
    if (!detection_paired[d]) ++counts_[static_cast<std::size_t>(kept[d]->class_id)][background];
}

}  // namespace spdinfer
