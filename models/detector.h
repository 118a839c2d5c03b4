// A YOLOv5-family detector as one object: image in, boxes in image pixels out.
// It owns the whole chain `spdinfer detect` and `spdinfer val` run: the input
// size rounded up to the model's stride, letterbox, forward pass (in batches
// of tiles for sliced inference), NMS and boxes back in image pixels; the
// numerics are detect/detection_pipeline.h's. What it is not: decoding files,
// drawing or printing.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "detect/detection.h"
#include "detect/detection_pipeline.h"
#include "image/image.h"
#include "models/model.h"

namespace spdinfer {

// How to run one image. The defaults are YOLOv5's detect.py.
struct DetectOptions {
  int img_size = 640;  // network input's longest side; rounded up to the model's stride
  NmsOptions nms;
  SliceOptions slice;  // sliced inference when slice.enabled()
  int threads = 1;     // for the forward pass and for preparing tiles
  // Sliced inference: called after each batch of tiles with tiles done and total; may be empty.
  std::function<void(int done, int total)> tile_progress;
};

class Detector {
 public:
  // Throws spdinfer::Error("PATH: ...") when the model is not a YOLOv5-family detector.
  explicit Detector(std::shared_ptr<const Model> model);
  explicit Detector(Model model);
  // load_model, then the above.
  static Detector load(const std::string& path, const LoadOptions& options = {});

  const Model& model() const { return *model_; }
  const std::vector<std::string>& class_names() const { return model_->class_names; }
  // The model's largest detection stride (32 when the file names none).
  int stride() const { return stride_; }
  // img_size rounded up to a multiple of stride(), as YOLOv5's check_img_size.
  int input_size(int img_size) const;

  // Detections in `image`'s pixels, highest confidence first. Adds the stage
  // times, tiles and forward passes to `report` unless it is null. Throws
  // spdinfer::Error; a failing forward pass names the input shape ("at input
  // (1, 3, 384, 640): ..."), not the image, which the caller knows.
  // Thread-safe: one Detector may serve many threads at once.
  std::vector<Detection> detect(const Image& image, const DetectOptions& options,
                                DetectionReport* report = nullptr) const;
  // The same for several images at once (`--batch`): images whose letterboxed
  // input has one size share a forward pass, and each gets exactly the
  // detections detect() would give it. One report per image in `reports`
  // unless it is null (see detect_objects_batch). Throws spdinfer::Error when
  // options.slice is enabled: sliced inference batches its tiles instead.
  std::vector<std::vector<Detection>> detect_batch(const std::vector<const Image*>& images,
                                                   const DetectOptions& options,
                                                   std::vector<DetectionReport>* reports = nullptr) const;
  // What a caller holding a batch of decoded images (files, video frames) wants: detect() on
  // each when there is one or when slicing (which batches tiles instead), else detect_batch().
  // `reports` (one per image) as detect_batch's.
  std::vector<std::vector<Detection>> detect_images(const std::vector<const Image*>& images,
                                                    const DetectOptions& options,
                                                    std::vector<DetectionReport>* reports = nullptr) const;

 private:
  DetectionPipelineOptions pipeline_options(const DetectOptions& options) const;
  BatchForward forward(int threads) const;

  std::shared_ptr<const Model> model_;
  int stride_ = 32;
};

}  // namespace spdinfer
