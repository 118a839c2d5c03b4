// Sliced inference geometry: which native-resolution tiles cover an image
// (SAHI's get_slice_bboxes convention), which of a tile's sides are inner
// borders, and tile detections back in image coordinates.
// What it is not: running a model (detection_pipeline.h) or merging the
// detections of overlapping tiles (box_merge.h).
#pragma once

#include <cstddef>
#include <vector>

#include "detect/detection.h"
#include "image/image.h"

namespace spdinfer {

// A tile in image pixels: columns [x, x + w), rows [y, y + h).
struct TileRect {
  int x = 0, y = 0, w = 0, h = 0;
  bool operator==(const TileRect& o) const { return x == o.x && y == o.y && w == o.w && h == o.h; }
};

// Sides of a box or tile, as bits (a box cut by the tile's right border has kSideRight).
enum TileSide : unsigned { kSideLeft = 1, kSideTop = 2, kSideRight = 4, kSideBottom = 8 };

// The largest overlap ratio accepted: at 1 the step between tiles would be 0.
constexpr double kMaxOverlapRatio = 0.95;
// The most tiles one image may be cut into (each is a forward pass).
constexpr std::size_t kMaxTilesPerImage = 4096;

// Tiles of slice_w x slice_h (at most the image's size) in row-major order.
// Consecutive tiles overlap by int(overlap * slice) pixels (SAHI's
// int(overlap_ratio * slice)); the last tile of each row and column is shifted
// back to end at the image's edge instead of running past it, so every tile
// lies inside the image, all tiles have the same size, and every pixel is
// covered. An image no larger than the slice is one tile: the whole image.
// Throws spdinfer::Error for non-positive sizes, overlap outside
// [0, kMaxOverlapRatio] (NaN included) and more than kMaxTilesPerImage tiles.
std::vector<TileRect> plan_tiles(int image_w, int image_h, int slice_w, int slice_h, double overlap);

// The sides of `tile` that are inner borders, i.e. not on the image's edge:
// an object can be cut only there.
unsigned inner_sides(const TileRect& tile, int image_w, int image_h);

// The sides of `tile`'s inner borders (`inner` from inner_sides) that box `d`
// (tile coordinates, offset not yet added) reaches within `margin` pixels:
// the detector saw only part of that object.
unsigned cut_sides(const Detection& d, const TileRect& tile, unsigned inner, float margin);

// The tile's pixels as an image of its own.
Image crop_tile(const Image& image, const TileRect& tile);

// Tile pixels -> image pixels (adds the tile's offset).
void offset_to_image(std::vector<Detection>& dets, const TileRect& tile);

}  // namespace spdinfer
