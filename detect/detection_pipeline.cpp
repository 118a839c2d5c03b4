// The plain and the sliced detection pass over one image (see detection_pipeline.h).
#include "detect/detection_pipeline.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <string>

#include "detect/slicing.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "image/preprocess.h"

namespace spdinfer {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Output 0 of a forward over `batch` images, checked to be (batch, boxes, 5 + classes).
const Tensor& checked_predictions(const std::vector<Tensor>& out, std::int64_t batch) {
  if (out.empty() || out[0].rank() != 3 || out[0].dim(0) != batch || out[0].dim(2) < 6)
    throw Error("detector output " + (out.empty() ? std::string("(none)") : shape_to_string(out[0].shape())) +
                ", expected (" + std::to_string(batch) + ", boxes, 5 + classes)");
  return out[0];
}

// One forward pass, counted and timed in the report.
std::vector<Tensor> timed_forward(const BatchForward& forward, const Tensor& x, DetectionReport& r) {
  const auto t = Clock::now();
  std::vector<Tensor> out = forward(x);
  r.infer_ms += ms_since(t);
  ++r.forwards;
  return out;
}

// NMS over image `b` of a batch's predictions, boxes back in the pixels of
// the image that `g` letterboxed.
std::vector<Detection> batch_item_detections(const Tensor& pred, std::int64_t b, const LetterboxGeometry& g,
                                             const NmsOptions& nms) {
  const std::int64_t rows = pred.dim(1);
  const int row_size = static_cast<int>(pred.dim(2));
  std::vector<Detection> dets = non_max_suppression(pred.data() + b * rows * row_size, rows, row_size, nms);
  scale_boxes_to_source(dets, g);
  return dets;
}

// The plain pass: the whole image letterboxed (YOLOv5's minimal rectangle), one forward.
std::vector<Detection> whole_image_pass(const Image& image, const Preprocess& p,
                                        const DetectionPipelineOptions& o, const BatchForward& forward,
                                        DetectionReport& r) {
  auto t0 = Clock::now();
  const LetterboxGeometry g = letterbox_geometry(image.width, image.height, o.img_size, o.img_size, o.stride);
  const Tensor x = image_to_tensor(letterbox(image, g), p);
  r.pre_ms += ms_since(t0);
  const std::vector<Tensor> out = timed_forward(forward, x, r);
  auto t2 = Clock::now();
  std::vector<Detection> dets = batch_item_detections(checked_predictions(out, 1), 0, g, o.nms);
  r.nms_ms += ms_since(t2);
  r.input_w = g.out_w;
  r.input_h = g.out_h;
  return dets;
}

// Tiles [begin, end) letterboxed by `g` into one (end - begin, 3, H, W) batch,
// prepared on `threads` threads.
Tensor tile_batch(const Image& image, const std::vector<TileRect>& tiles, std::size_t begin, std::size_t end,
                  const LetterboxGeometry& g, const Preprocess& p, int threads) {
  const std::size_t n = end - begin;
  const std::size_t per = std::size_t(3) * g.out_h * g.out_w;
  Tensor batch({static_cast<std::int64_t>(n), 3, g.out_h, g.out_w});
  std::vector<std::exception_ptr> errors(n);
  parallel_for(static_cast<std::int64_t>(n), threads, [&](std::int64_t k) {
    try {
      const Tensor x = image_to_tensor(letterbox(crop_tile(image, tiles[begin + k]), g), p);
      std::copy_n(x.data(), per, batch.data() + k * per);
    } catch (...) {  // parallel_for's bodies must not throw: rethrown below
      errors[k] = std::current_exception();
    }
  });
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  return batch;
}

// Every tile through the network, `tile_batch` tiles per forward; the
// detections in image pixels with the inner tile borders that cut them.
std::vector<PlacedDetection> tile_passes(const Image& image, const std::vector<TileRect>& tiles,
                                         const Preprocess& p, const DetectionPipelineOptions& o,
                                         const BatchForward& forward, DetectionReport& r) {
  // plan_tiles gives tiles of one size, so one geometry serves them all and a
  // batch is one tensor.
  const LetterboxGeometry g = letterbox_geometry(tiles[0].w, tiles[0].h, o.img_size, o.img_size, o.stride);
  const float margin = kCutMarginInputPixels / static_cast<float>(g.ratio);
  r.input_w = g.out_w;
  r.input_h = g.out_h;
  const std::size_t per_batch = static_cast<std::size_t>(std::max(o.slice.tile_batch, 1));
  std::vector<PlacedDetection> placed;
  for (std::size_t begin = 0; begin < tiles.size(); begin += per_batch) {
    const std::size_t end = std::min(tiles.size(), begin + per_batch);
    auto t0 = Clock::now();
    const Tensor batch = tile_batch(image, tiles, begin, end, g, p, o.threads);
    r.pre_ms += ms_since(t0);
    const std::vector<Tensor> out = timed_forward(forward, batch, r);
    auto t2 = Clock::now();
    const Tensor& pred = checked_predictions(out, static_cast<std::int64_t>(end - begin));
    for (std::size_t i = begin; i < end; ++i) {
      const TileRect& tile = tiles[i];
      std::vector<Detection> dets =
          batch_item_detections(pred, static_cast<std::int64_t>(i - begin), g, o.nms);
      const unsigned inner = inner_sides(tile, image.width, image.height);
      std::vector<unsigned> cuts;
      for (const Detection& d : dets) cuts.push_back(cut_sides(d, tile, inner, margin));
      offset_to_image(dets, tile);
      for (std::size_t k = 0; k < dets.size(); ++k) placed.push_back({dets[k], cuts[k]});
    }
    r.nms_ms += ms_since(t2);
    if (o.tile_progress) o.tile_progress(static_cast<int>(end), static_cast<int>(tiles.size()));
  }
  r.tiles += static_cast<int>(tiles.size());
  return placed;
}

// Images `members` of a batch (all letterboxed to one size) as one forward:
// detections into `results`, times into `reports`.
void same_shape_pass(const std::vector<const Image*>& images, const std::vector<std::size_t>& members,
                     const std::vector<LetterboxGeometry>& geometry, const Preprocess& p,
                     const DetectionPipelineOptions& o, const BatchForward& forward,
                     std::vector<std::vector<Detection>>& results, std::vector<DetectionReport>& reports) {
  const LetterboxGeometry& first = geometry[members[0]];
  const std::size_t per = std::size_t(3) * first.out_h * first.out_w;
  Tensor batch({static_cast<std::int64_t>(members.size()), 3, first.out_h, first.out_w});
  for (std::size_t k = 0; k < members.size(); ++k) {
    const std::size_t i = members[k];
    auto t = Clock::now();
    const Tensor x = image_to_tensor(letterbox(*images[i], geometry[i]), p);
    std::copy_n(x.data(), per, batch.data() + k * per);
    reports[i].pre_ms += ms_since(t);
    reports[i].input_w = geometry[i].out_w;
    reports[i].input_h = geometry[i].out_h;
  }
  DetectionReport shared;
  const std::vector<Tensor> out = timed_forward(forward, batch, shared);
  const Tensor& pred = checked_predictions(out, static_cast<std::int64_t>(members.size()));
  reports[members[0]].forwards += shared.forwards;
  for (std::size_t k = 0; k < members.size(); ++k) {
    const std::size_t i = members[k];
    reports[i].infer_ms += shared.infer_ms / static_cast<double>(members.size());
    auto t = Clock::now();
    results[i] = batch_item_detections(pred, static_cast<std::int64_t>(k), geometry[i], o.nms);
    reports[i].nms_ms += ms_since(t);
  }
}

}  // namespace

std::vector<std::vector<Detection>> detect_objects_batch(const std::vector<const Image*>& images,
                                                         const Preprocess& p, const DetectionPipelineOptions& o,
                                                         const BatchForward& forward,
                                                         std::vector<DetectionReport>* reports) {
  if (o.slice.enabled())
    throw Error("batched detection runs whole images; sliced inference batches its tiles (tile_batch)");
  std::vector<LetterboxGeometry> geometry;
  for (const Image* image : images)
    geometry.push_back(letterbox_geometry(image->width, image->height, o.img_size, o.img_size, o.stride));
  // Groups of equal input size, each in the order of first appearance.
  std::vector<std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < images.size(); ++i) {
    auto same = std::find_if(groups.begin(), groups.end(), [&](const std::vector<std::size_t>& g) {
      return geometry[g[0]].out_w == geometry[i].out_w && geometry[g[0]].out_h == geometry[i].out_h;
    });
    if (same == groups.end())
      groups.push_back({i});
    else
      same->push_back(i);
  }
  std::vector<std::vector<Detection>> results(images.size());
  std::vector<DetectionReport> local(images.size());
  for (const std::vector<std::size_t>& members : groups)
    same_shape_pass(images, members, geometry, p, o, forward, results, local);
  if (reports) *reports = std::move(local);
  return results;
}

std::vector<Detection> detect_objects(const Image& image, const Preprocess& p,
                                      const DetectionPipelineOptions& o, const BatchForward& forward,
                                      DetectionReport* report) {
  DetectionReport local;
  DetectionReport& r = report ? *report : local;
  if (!o.slice.enabled()) return whole_image_pass(image, p, o, forward, r);

  const std::vector<TileRect> tiles =
      plan_tiles(image.width, image.height, o.slice.width, o.slice.height, o.slice.overlap);
  std::vector<PlacedDetection> placed = tile_passes(image, tiles, p, o, forward, r);
  // One tile that is the whole image is already the plain pass.
  const bool whole_image_tiled = tiles.size() == 1 && tiles[0].w == image.width && tiles[0].h == image.height;
  if (o.slice.full_pass && !whole_image_tiled) {
    DetectionReport whole;  // its input size is not the one reported
    for (const Detection& d : whole_image_pass(image, p, o, forward, whole)) placed.push_back({d, 0});
    r.add(whole);
  }
  auto t = Clock::now();
  MergeOptions merge = o.slice.merge;
  merge.agnostic = o.nms.agnostic;
  merge.max_det = o.nms.max_det;
  std::vector<Detection> merged = merge_detections(std::move(placed), merge);
  r.merge_ms += ms_since(t);
  return merged;
}

}  // namespace spdinfer
