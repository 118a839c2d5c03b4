// The `images` argument of detect() and classify(): one image or a list of
// them, each a file path (str or os.PathLike) or an (H, W, 3) uint8 RGB array.
// Arrays are copied while the GIL is held; files are decoded later, by the
// engine's own loader (image/image.h) with the GIL released, so a file gives
// the same pixels as it does to the spdinfer command.
#pragma once

#include <pybind11/pybind11.h>
#include <string>
#include <vector>

#include "image/image.h"

namespace spdinfer::python {

struct ImageInput {
  std::string label;  // the path, or "images[i]" for an array: what error messages name
  std::string path;   // empty for an array
  Image pixels;       // an array's pixels; empty for a file

  // The pixels: an array's, or the file's decoded into `decoded` (so a list of
  // photos is held one at a time). Throws spdinfer::Error "PATH: ...". Needs no GIL.
  const Image& load(Image& decoded) const;
};

struct ImageInputs {
  std::vector<ImageInput> images;
  bool single = false;  // one image was given, not a list: one result goes back
};

// Throws spdinfer::Error naming the item that is neither a path nor a valid
// image array. Needs the GIL.
ImageInputs collect_image_inputs(const pybind11::handle& images);

}  // namespace spdinfer::python
