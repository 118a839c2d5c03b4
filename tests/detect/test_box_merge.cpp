// Tests of detect/box_merge on crafted boxes: an object cut by tile borders
// (across 2 and across 4 tiles, any fragment the most confident) ends as one
// box with NMM, NMS keeps the best; pieces far less confident than the keeper
// do not widen it; IoU vs IoS; thresholds; per class vs
// agnostic; neighbours that only touch a border stay apart; whole boxes do
// not chain; the grid-accelerated merge equals the reference on random boxes.
#include <catch2/catch.hpp>
#include <random>

#include "detect/box_merge.h"
#include "detect/slicing.h"

using namespace spdinfer;

namespace {

PlacedDetection box(float x1, float y1, float x2, float y2, float conf, unsigned cut = 0, int cls = 0) {
  PlacedDetection p;
  p.box.x1 = x1, p.box.y1 = y1, p.box.x2 = x2, p.box.y2 = y2;
  p.box.confidence = conf;
  p.box.class_id = cls;
  p.cut = cut;
  return p;
}

MergeOptions options(MergeMethod method, MatchMetric match, float threshold = 0.5f) {
  MergeOptions o;
  o.method = method;
  o.match = match;
  o.threshold = threshold;
  return o;
}

void check_box(const Detection& d, float x1, float y1, float x2, float y2) {
  CHECK(d.x1 == Approx(x1));
  CHECK(d.y1 == Approx(y1));
  CHECK(d.x2 == Approx(x2));
  CHECK(d.y2 == Approx(y2));
}

// Tiles x in [0, 320) and [256, 576) (64 px shared). The object spans
// x 100-400: the left tile sees 100-320 (cut on its right), the right tile
// 256-400 (cut on its left). IoU 64/300, IoS 64/144: neither reaches 0.5.
std::vector<PlacedDetection> object_across_two_tiles(float left_conf, float right_conf) {
  return {box(100, 100, 320, 180, left_conf, kSideRight), box(256, 100, 400, 180, right_conf, kSideLeft)};
}

// Tiles of 320 with 64 px shared in both directions; the object spans
// 150-450 in x and y, so each of the four tiles sees a corner of it.
std::vector<PlacedDetection> object_across_four_tiles(const float conf[4]) {
  return {box(150, 150, 320, 320, conf[0], kSideRight | kSideBottom),
          box(256, 150, 450, 320, conf[1], kSideLeft | kSideBottom),
          box(150, 256, 320, 450, conf[2], kSideRight | kSideTop),
          box(256, 256, 450, 450, conf[3], kSideLeft | kSideTop)};
}

}  // namespace

TEST_CASE("IoS is intersection over the smaller box", "[box_merge]") {
  const PlacedDetection big = box(0, 0, 100, 100, 1), inside = box(10, 10, 30, 30, 1),
                        half = box(90, 0, 110, 100, 1);
  CHECK(box_ios(big.box, inside.box) == Approx(1.0f));
  CHECK(box_iou(big.box, inside.box) == Approx(0.04f));
  CHECK(box_ios(big.box, half.box) == Approx(0.5f));
  CHECK(box_ios(big.box, box(200, 200, 300, 300, 1).box) == 0.0f);
  CHECK(box_ios(big.box, box(5, 5, 5, 50, 1).box) == 0.0f);  // empty box
}

TEST_CASE("An object cut by one tile border gives one box", "[box_merge]") {
  for (MatchMetric match : {MatchMetric::kIos, MatchMetric::kIou}) {
    for (auto confs : {std::pair<float, float>{0.9f, 0.6f}, {0.6f, 0.9f}}) {
      CAPTURE(match == MatchMetric::kIos, confs.first);
      const auto parts = object_across_two_tiles(confs.first, confs.second);
      const auto nmm = merge_detections(parts, options(MergeMethod::kNmm, match));
      REQUIRE(nmm.size() == 1);
      check_box(nmm[0], 100, 100, 400, 180);  // the union
      CHECK(nmm[0].confidence == Approx(0.9f));
      const auto nms = merge_detections(parts, options(MergeMethod::kNms, match));
      REQUIRE(nms.size() == 1);
      const Detection& best = confs.first > confs.second ? parts[0].box : parts[1].box;
      check_box(nms[0], best.x1, best.y1, best.x2, best.y2);  // the best, unchanged
      CHECK(nms[0].confidence == Approx(0.9f));
    }
  }
  // Without the cut marks the two fragments match by neither metric: the cut
  // handling is what makes them one.
  auto unmarked = object_across_two_tiles(0.9f, 0.6f);
  for (PlacedDetection& p : unmarked) p.cut = 0;
  CHECK(merge_detections(unmarked, options(MergeMethod::kNmm, MatchMetric::kIos)).size() == 2);
}

TEST_CASE("An object cut across four tiles gives one box, whichever corner is most confident",
          "[box_merge]") {
  for (int best = 0; best < 4; ++best) {
    float conf[4] = {0.5f, 0.6f, 0.7f, 0.4f};
    conf[best] = 0.95f;
    CAPTURE(best);
    const auto parts = object_across_four_tiles(conf);
    for (MatchMetric match : {MatchMetric::kIos, MatchMetric::kIou}) {
      const auto nmm = merge_detections(parts, options(MergeMethod::kNmm, match));
      REQUIRE(nmm.size() == 1);
      check_box(nmm[0], 150, 150, 450, 450);
      CHECK(nmm[0].confidence == Approx(0.95f));
      const auto nms = merge_detections(parts, options(MergeMethod::kNms, match));
      REQUIRE(nms.size() == 1);
      check_box(nms[0], parts[best].box.x1, parts[best].box.y1, parts[best].box.x2, parts[best].box.y2);
    }
  }
}

TEST_CASE("Tile fragments merge with the full-image pass's box of the same object", "[box_merge]") {
  const float conf[4] = {0.5f, 0.6f, 0.7f, 0.4f};
  auto parts = object_across_four_tiles(conf);
  parts.push_back(box(148, 152, 452, 449, 0.8f));  // whole, from the full pass
  const auto nmm = merge_detections(parts, options(MergeMethod::kNmm, MatchMetric::kIos));
  REQUIRE(nmm.size() == 1);
  check_box(nmm[0], 148, 150, 452, 450);
  const auto nms = merge_detections(parts, options(MergeMethod::kNms, MatchMetric::kIou));
  REQUIRE(nms.size() == 1);
  check_box(nms[0], 148, 152, 452, 449);
}

TEST_CASE("NMM widens a box only with the pieces of a cut object", "[box_merge]") {
  // A confident small box inside a loose, less confident whole box (IoS 1): the loose box is
  // suppressed, not united with it, or every small object near clutter would grow.
  const std::vector<PlacedDetection> nested = {box(10, 10, 30, 30, 0.9f), box(0, 0, 100, 100, 0.5f)};
  const auto whole = merge_detections(nested, options(MergeMethod::kNmm, MatchMetric::kIos));
  REQUIRE(whole.size() == 1);
  check_box(whole[0], 10, 10, 30, 30);
  // The same pair when the keeper is a piece cut by a tile border: the box around it is the
  // object's other view, and the union is the object.
  std::vector<PlacedDetection> cut = nested;
  cut[0].cut = kSideRight;
  const auto joined = merge_detections(cut, options(MergeMethod::kNmm, MatchMetric::kIos));
  REQUIRE(joined.size() == 1);
  check_box(joined[0], 0, 0, 100, 100);
}

TEST_CASE("NMM widens a box only with pieces confident enough to be the rest of the object", "[box_merge]") {
  const float keeper = 0.8f, bar = kMinPieceConfidenceRatio * keeper;
  for (float piece : {bar * 0.9f, bar * 1.1f}) {
    CAPTURE(piece);
    const auto parts = object_across_two_tiles(keeper, piece);
    const auto nmm = merge_detections(parts, options(MergeMethod::kNmm, MatchMetric::kIos));
    // Below the bar the piece is still absorbed (one box, as with NMS) but leaves the keeper as it is.
    REQUIRE(nmm.size() == 1);
    if (piece < bar)
      check_box(nmm[0], 100, 100, 320, 180);
    else
      check_box(nmm[0], 100, 100, 400, 180);
    CHECK(nmm[0].confidence == Approx(keeper));
    const auto reference = merge_detections_reference(parts, options(MergeMethod::kNmm, MatchMetric::kIos));
    REQUIRE(reference.size() == 1);
    CHECK(reference[0].x2 == nmm[0].x2);
  }
}

TEST_CASE("A neighbour that only touches a cut border stays a separate object", "[box_merge]") {
  // Object 1 ends 0.5 px before the left tile's right border (so it is marked
  // cut) and is seen whole by the right tile too; object 2 starts just past
  // the border, in the right tile only, with the same rows.
  const std::vector<PlacedDetection> dets = {box(290, 100, 319.5f, 140, 0.8f, kSideRight),
                                             box(290, 100, 319.5f, 140, 0.7f), box(322, 100, 360, 140, 0.9f)};
  for (MergeMethod method : {MergeMethod::kNmm, MergeMethod::kNms}) {
    const auto out = merge_detections(dets, options(method, MatchMetric::kIos));
    REQUIRE(out.size() == 2);
    check_box(out[0], 322, 100, 360, 140);
    check_box(out[1], 290, 100, 319.5f, 140);
  }
  // A cut fragment does not link to a box of other rows beyond the border.
  const std::vector<PlacedDetection> other_rows = {box(100, 100, 320, 180, 0.9f, kSideRight),
                                                   box(256, 170, 400, 260, 0.8f, kSideLeft)};
  CHECK(merge_detections(other_rows, options(MergeMethod::kNmm, MatchMetric::kIos)).size() == 2);
}

TEST_CASE("Merging is per class unless agnostic", "[box_merge]") {
  std::vector<PlacedDetection> dets = {box(0, 0, 100, 100, 0.9f, 0, 0), box(5, 5, 100, 100, 0.8f, 0, 1)};
  MergeOptions o = options(MergeMethod::kNmm, MatchMetric::kIos);
  CHECK(merge_detections(dets, o).size() == 2);
  o.agnostic = true;
  const auto agnostic = merge_detections(dets, o);
  REQUIRE(agnostic.size() == 1);
  CHECK(agnostic[0].class_id == 0);  // the keeper's class
  // Fragments of different classes are not joined through a cut either.
  auto parts = object_across_two_tiles(0.9f, 0.6f);
  parts[1].box.class_id = 3;
  CHECK(merge_detections(parts, options(MergeMethod::kNmm, MatchMetric::kIos)).size() == 2);
}

TEST_CASE("Merge thresholds and metrics", "[box_merge]") {
  // A small box inside a large one: IoS 1, IoU 0.04.
  const std::vector<PlacedDetection> nested = {box(0, 0, 100, 100, 0.9f), box(10, 10, 30, 30, 0.8f)};
  CHECK(merge_detections(nested, options(MergeMethod::kNms, MatchMetric::kIos)).size() == 1);
  CHECK(merge_detections(nested, options(MergeMethod::kNms, MatchMetric::kIou)).size() == 2);
  CHECK(merge_detections(nested, options(MergeMethod::kNms, MatchMetric::kIou, 0.03f)).size() == 1);
  // IoS 0.6 (60x100 of a 100x100 box): merged at 0.5, apart at 0.6 (strictly above) and 0.7.
  const std::vector<PlacedDetection> shifted = {box(0, 0, 100, 100, 0.9f), box(40, 0, 140, 100, 0.8f)};
  CHECK(merge_detections(shifted, options(MergeMethod::kNmm, MatchMetric::kIos, 0.5f)).size() == 1);
  CHECK(merge_detections(shifted, options(MergeMethod::kNmm, MatchMetric::kIos, 0.6f)).size() == 2);
  CHECK(merge_detections(shifted, options(MergeMethod::kNmm, MatchMetric::kIos, 0.7f)).size() == 2);
}

TEST_CASE("Whole boxes do not chain: each must match the keeper", "[box_merge]") {
  // A-B and B-C overlap with IoU 0.6, A-C with IoU 0.33: NMS keeps A and C.
  const std::vector<PlacedDetection> row = {box(0, 0, 100, 100, 0.9f), box(25, 0, 125, 100, 0.8f),
                                            box(50, 0, 150, 100, 0.7f)};
  const auto out = merge_detections(row, options(MergeMethod::kNms, MatchMetric::kIou));
  REQUIRE(out.size() == 2);
  CHECK(out[0].confidence == Approx(0.9f));
  CHECK(out[1].confidence == Approx(0.7f));
}

TEST_CASE("Merged boxes come most confident first, at most max_det", "[box_merge]") {
  std::vector<PlacedDetection> dets;
  for (int i = 0; i < 10; ++i) dets.push_back(box(200.0f * i, 0, 200.0f * i + 50, 50, 0.1f + 0.05f * i));
  MergeOptions o = options(MergeMethod::kNmm, MatchMetric::kIos);
  o.max_det = 4;
  const auto out = merge_detections(dets, o);
  REQUIRE(out.size() == 4);
  for (std::size_t i = 1; i < out.size(); ++i) CHECK(out[i - 1].confidence >= out[i].confidence);
  CHECK(out[0].confidence == Approx(0.55f));
  CHECK(merge_detections({}, o).empty());
}

TEST_CASE("The grid merge equals the reference merge on random tile boxes", "[box_merge]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  for (int round = 0; round < 40; ++round) {
    // Objects of 4-300 px over up to 3000 px, each seen 1-4 times with jitter,
    // some views marked cut; plus stray boxes and a few huge ones.
    const float extent = 200 + 2800 * unit(rng);
    std::vector<PlacedDetection> dets;
    const int objects = 1 + static_cast<int>(150 * unit(rng));
    for (int k = 0; k < objects; ++k) {
      const float size = 4 + 296 * unit(rng) * unit(rng);
      const float x = extent * unit(rng), y = extent * unit(rng);
      const int cls = static_cast<int>(3 * unit(rng));
      const int views = 1 + static_cast<int>(4 * unit(rng));
      for (int v = 0; v < views; ++v) {
        const float j = 0.3f * size;
        const float x1 = x + j * (unit(rng) - 0.5f), y1 = y + j * (unit(rng) - 0.5f);
        const float w = size * (0.3f + unit(rng)), h = size * (0.3f + unit(rng));
        const unsigned cut = unit(rng) < 0.3f ? 1u << static_cast<int>(4 * unit(rng)) : 0u;
        dets.push_back(box(x1, y1, x1 + w, y1 + h, unit(rng), cut, cls));
      }
    }
    if (round % 4 == 0) dets.push_back(box(0, 0, extent, extent, unit(rng)));
    for (MergeMethod method : {MergeMethod::kNmm, MergeMethod::kNms})
      for (MatchMetric match : {MatchMetric::kIos, MatchMetric::kIou})
        for (float threshold : {0.0f, 0.3f, 0.5f, 0.9f})
          for (bool agnostic : {false, true}) {
            MergeOptions o = options(method, match, threshold);
            o.agnostic = agnostic;
            o.max_det = round % 3 == 0 ? 10 : 100000;
            const auto fast = merge_detections(dets, o), reference = merge_detections_reference(dets, o);
            CAPTURE(round, threshold, agnostic);
            REQUIRE(fast.size() == reference.size());
            for (std::size_t i = 0; i < fast.size(); ++i) {
              CHECK(fast[i].x1 == reference[i].x1);
              CHECK(fast[i].y1 == reference[i].y1);
              CHECK(fast[i].x2 == reference[i].x2);
              CHECK(fast[i].y2 == reference[i].y2);
              CHECK(fast[i].confidence == reference[i].confidence);
              CHECK(fast[i].class_id == reference[i].class_id);
            }
          }
  }
}
