// YOLOv5's Detect decoding as a graph op ("yolo_decode"): one detection
// level's raw 1x1-conv output (N, na*no, H, W) becomes boxes
// (N, na*H*W, no) in the reference's (anchor, y, x) order:
//   s = sigmoid(raw); xy = (2*s - 0.5 + grid) * stride; wh = (2*s)^2 * anchor;
//   objectness and class scores = s.
// Lives in models/ because the engine knows no model family; YOLO graphs use
// yolov5_ops(), the builtin table plus this op.
#pragma once

#include "engine/op_registry.h"

namespace spdinfer {

struct YoloDecodeParams {
  int num_anchors = 3;
  int num_outputs = 85;  // nc + 5
  float stride = 8;
  std::vector<float> anchors;  // (na, 2) in input pixels: w, h per anchor
};

Shape yolo_decode_output_shape(const Shape& input, const YoloDecodeParams& p);
void yolo_decode_reference(const Tensor& input, const YoloDecodeParams& p, Tensor& out);
void yolo_decode(const Tensor& input, const YoloDecodeParams& p, Tensor& out, int threads);

// The graph op "yolo_decode": input the level's raw output; attributes
// num_anchors, num_outputs, stride, anchors.
OpDef yolo_decode_op();
// The builtin table plus yolo_decode.
const OpRegistry& yolov5_ops();

}  // namespace spdinfer
