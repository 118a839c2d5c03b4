// Labelled image datasets for measuring a classifier's accuracy (`spdinfer
// val`): idx files (the MNIST / Fashion-MNIST format, gzip-compressed or not)
// and folder-per-class trees of image files, each turned into network inputs
// the way the model was trained and the way `spdinfer classify` preprocesses.
// What it is not: accuracy arithmetic (accuracy.h) or printing (the CLI).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "image/image.h"
#include "image/preprocess.h"

namespace spdinfer {

// ---- idx files ---------------------------------------------------------------------------------
// Layout (big-endian): bytes 0, 0, type, ndim; ndim uint32 dimensions; the
// data, row-major. Only type 0x08 (unsigned byte) is read, as images
// (idx3-ubyte: N, rows, cols) and labels (idx1-ubyte: N) use.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<std::uint8_t> data;  // product of dims bytes
};

// Reads an idx file, gzip-compressed (detected by its magic bytes, not its
// name) or plain. At most kMaxIdxBytes of data; reading stops at the size
// the header declares (a gzip bomb is not inflated past it). Throws
// spdinfer::Error "PATH: ..." for a missing or unreadable file, a corrupt
// gzip stream, a wrong magic or type, or a data size that does not match the
// dimensions (truncated or trailing bytes).
constexpr std::uint64_t kMaxIdxBytes = std::uint64_t(1) << 31;
IdxArray read_idx(const std::string& path);

// The rule that makes an idx image a network input, shared with training
// (weights_tools/train/classifier.py, to_network_pixels): a grey h x w image
// is centred on a black out_w x out_h canvas (top/left margin (out - in) / 2
// rounded down, the rest bottom/right) and replicated to R, G and B. Fashion-
// MNIST's 28x28 on a 32x32 input: 2 black pixels on every side. No resampling.
// Requires w <= out_w and h <= out_h.
Image grey_to_network_image(const std::uint8_t* grey, int w, int h, int out_w, int out_h);

// ---- datasets ------------------------------------------------------------------------------------
struct LabelledDataset {
  enum class Kind { Idx, Folders };
  Kind kind = Kind::Idx;
  std::string description;  // what was opened, for people: the files or the folder
  std::vector<int> labels;  // class id per sample

  // Idx: all images in memory, N x height x width grey bytes.
  int height = 0, width = 0;
  std::vector<std::uint8_t> pixels;
  std::string images_path, labels_path;

  // Folders: one image file per sample.
  std::vector<std::string> files;

  std::size_t size() const { return labels.size(); }
  // A name for sample i in messages: the file, or "IMAGES[i]" for idx.
  std::string sample_name(std::size_t i) const;
};

// Opens PATH as a labelled dataset for a model with these class names:
// - an idx images file (name containing "images-idx3-ubyte"): its labels are
//   the file of the same name with "labels-idx1-ubyte" (with or without .gz);
// - a folder holding idx image files: the pair whose name starts "t10k" (the
//   test split) when there are several, else the only one;
// - a folder of class folders: each sub-folder is one class, named as the
//   class (a "/" in a class name written as "_", e.g. "T-shirt_top") or by
//   its class number ("0", "1", ...); its .jpg/.jpeg/.png/.bmp files, sorted,
//   are that class's samples. Files beside the class folders are ignored.
// Throws spdinfer::Error naming the path for anything that does not fit:
// counts that differ, a label >= the number of classes, a folder matching no
// class, no samples.
LabelledDataset open_dataset(const std::string& path, const std::vector<std::string>& class_names);

// Network inputs of samples [begin, end) as one (end - begin, 3, H, W) tensor
// for the model's preprocessing `p`:
// - idx: grey_to_network_image to p's input size, then normalised
//   (image_to_tensor); an image larger than the input is instead resized as
//   classify would (resize_for_classifier);
// - folders: load_image, resize_for_classifier, image_to_tensor: exactly
//   what `spdinfer classify` does.
// Images are decoded on up to `threads` threads. Throws spdinfer::Error
// naming the sample that cannot be read.
Tensor dataset_batch(const LabelledDataset& d, std::size_t begin, std::size_t end, const Preprocess& p,
                     int threads = 1);

}  // namespace spdinfer
