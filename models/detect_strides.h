// A YOLO Detect layer decodes boxes as (grid + offset) * stride: a stride that
// contradicts how far the network actually shrank the input would place every
// box at the wrong scale, silently. Checked once, when the model is loaded.
#pragma once

#include "models/model.h"

namespace spdinfer {

// For each yolo_decode node of a detector, at its own input size (preprocess input_size):
// the feature map it decodes must be ceil(input / stride) on both sides (not checked when the
// model cannot be planned at that size at all: running it says why). Throws spdinfer::Error
// "MODEL: Detect level 1 ('model.24.decode.1') has stride 8, but the network turns its
// 640x640 input into a 40x40 feature map (stride 16)".
void check_detect_strides(const Model& model);

}  // namespace spdinfer
