// Image -> network input: bilinear resizing, YOLOv5's letterbox geometry, the
// classifiers' resize / resize-and-centre-crop, and normalisation into an
// NCHW tensor. What it is not: file decoding (image.h) or anything done to
// the network's output (detection.h, classification.h).
#pragma once

#include <array>
#include <string>

#include "engine/tensor.h"
#include "image/image.h"

namespace spdinfer {

// How a model wants its input prepared (stored in the model file).
struct Preprocess {
  int height = 0, width = 0;
  float scale = 1.0f;                  // multiplies 0-255 pixel values first
  std::array<float, 3> mean{0, 0, 0};  // then (x - mean) / std, per RGB channel
  std::array<float, 3> std{1, 1, 1};
  std::string resize = "resize";       // "letterbox", "resize_crop" or "resize"
};

// Half-pixel-centre resampling with a triangle filter, rounded back to 8 bits.
// antialias = false: plain bilinear from the 2x2 nearest source pixels at any
//   scale, edges clamped: cv2.resize INTER_LINEAR and torch's
//   interpolate(mode="bilinear", align_corners=False). What YOLOv5 uses.
// antialias = true: when shrinking, the filter widens with the scale factor
//   (PIL's BILINEAR, hence torchvision's Resize on PIL images), so a large
//   photo going to 32x32 is averaged rather than sampled. Same as false when
//   enlarging.
Image resize_bilinear(const Image& src, int out_w, int out_h, bool antialias);

// YOLOv5's letterbox (utils/augmentations.py, as detect.py calls it):
//   r = min(target_h / h, target_w / w) (not above 1 unless scaleup),
//   resized = (round(w * r), round(h * r)) with Python's round-half-even,
//   padding dw = target_w - resized_w (modulo stride when minimal: detect.py's
//   auto=True, the smallest stride-multiple rectangle), split
//   left = round(dw / 2 - 0.1), right = round(dw / 2 + 0.1); same for height.
struct LetterboxGeometry {
  int src_w = 0, src_h = 0;
  int resized_w = 0, resized_h = 0;
  int out_w = 0, out_h = 0;  // the network input
  int pad_left = 0, pad_top = 0;
  double ratio = 1.0;
};
LetterboxGeometry letterbox_geometry(int src_w, int src_h, int target_w, int target_h, int stride,
                                     bool minimal = true, bool scaleup = true);
// Resized (bilinear; no antialias as cv2.INTER_LINEAR, unless asked) and
// padded with `fill`.
Image letterbox(const Image& src, const LetterboxGeometry& g, std::uint8_t fill = 114,
                bool antialias = false);

// The smallest multiple of `stride` that is >= size (YOLOv5's check_img_size).
int round_up_to_multiple(int size, int stride);

// Classifier input geometry: "resize" straight to (p.width, p.height);
// "resize_crop" scales so the image covers the input (torchvision's
// Resize(shorter side) with int() for the longer side) then crops the centre
// (torchvision CenterCrop's round((h - crop) / 2)); "letterbox" pads to the
// input size with grey 114 without the stride minimisation. Resizing is
// antialiased, as torchvision on PIL images.
Image resize_for_classifier(const Image& src, const Preprocess& p);

// (1, 3, H, W) float: (pixel * p.scale - p.mean[c]) / p.std[c], RGB order.
Tensor image_to_tensor(const Image& img, const Preprocess& p);

}  // namespace spdinfer
