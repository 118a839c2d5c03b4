// Tile planning and tile -> image coordinates (see slicing.h).
#include "detect/slicing.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/error.h"

namespace spdinfer {
namespace {

// Tile starts along one axis: every `step` pixels, the last one pulled back so
// the tile ends at the image's edge. `slice` is already at most `length`.
std::vector<int> tile_starts(int length, int slice, int step) {
  std::vector<int> starts;
  for (int start = 0;; start += step) {
    if (start + slice >= length) {
      starts.push_back(length - slice);
      return starts;
    }
    starts.push_back(start);
  }
}

}  // namespace

std::vector<TileRect> plan_tiles(int image_w, int image_h, int slice_w, int slice_h, double overlap) {
  if (image_w <= 0 || image_h <= 0)
    throw Error("image of " + std::to_string(image_w) + "x" + std::to_string(image_h) +
                " pixels has nothing to slice");
  if (slice_w <= 0 || slice_h <= 0)
    throw Error("slice " + std::to_string(slice_w) + "x" + std::to_string(slice_h) +
                ": both sides must be positive");
  if (!(overlap >= 0 && overlap <= kMaxOverlapRatio))
    throw Error("overlap " + std::to_string(overlap) + ": must be in [0, " +
                std::to_string(kMaxOverlapRatio) + "]");
  const int tile_w = std::min(slice_w, image_w), tile_h = std::min(slice_h, image_h);
  // As SAHI: the overlap is in pixels of the requested slice, rounded down;
  // overlap < 1 keeps the step at least 1 pixel.
  const int step_x = std::max(1, tile_w - static_cast<int>(overlap * slice_w));
  const int step_y = std::max(1, tile_h - static_cast<int>(overlap * slice_h));
  const std::vector<int> xs = tile_starts(image_w, tile_w, step_x), ys = tile_starts(image_h, tile_h, step_y);
  const std::size_t count = xs.size() * ys.size();
  if (count > kMaxTilesPerImage)
    throw Error("slice " + std::to_string(slice_w) + "x" + std::to_string(slice_h) + " with overlap " +
                std::to_string(overlap) + " cuts the " + std::to_string(image_w) + "x" + std::to_string(image_h) +
                " image into " + std::to_string(count) + " tiles; at most " + std::to_string(kMaxTilesPerImage) +
                " are allowed (use a larger --slice or a smaller --overlap)");
  std::vector<TileRect> tiles;
  for (int y : ys)
    for (int x : xs) tiles.push_back({x, y, tile_w, tile_h});
  return tiles;
}

unsigned inner_sides(const TileRect& tile, int image_w, int image_h) {
  unsigned sides = 0;
  if (tile.x > 0) sides |= kSideLeft;
  if (tile.y > 0) sides |= kSideTop;
  if (tile.x + tile.w < image_w) sides |= kSideRight;
  if (tile.y + tile.h < image_h) sides |= kSideBottom;
  return sides;
}

unsigned cut_sides(const Detection& d, const TileRect& tile, unsigned inner, float margin) {
  unsigned cut = 0;
  if ((inner & kSideLeft) && d.x1 <= margin) cut |= kSideLeft;
  if ((inner & kSideTop) && d.y1 <= margin) cut |= kSideTop;
  if ((inner & kSideRight) && d.x2 >= tile.w - margin) cut |= kSideRight;
  if ((inner & kSideBottom) && d.y2 >= tile.h - margin) cut |= kSideBottom;
  return cut;
}

Image crop_tile(const Image& image, const TileRect& tile) {
  if (tile.x < 0 || tile.y < 0 || tile.w <= 0 || tile.h <= 0 || tile.x + tile.w > image.width ||
      tile.y + tile.h > image.height)
    throw Error("tile " + std::to_string(tile.w) + "x" + std::to_string(tile.h) + " at (" +
                std::to_string(tile.x) + ", " + std::to_string(tile.y) + ") is not inside the " +
                std::to_string(image.width) + "x" + std::to_string(image.height) + " image");
  Image out(tile.w, tile.h);
  for (int y = 0; y < tile.h; ++y)
    std::copy_n(image.at(tile.x, tile.y + y), std::size_t(tile.w) * 3, out.at(0, y));
  return out;
}

void offset_to_image(std::vector<Detection>& dets, const TileRect& tile) {
  const float dx = static_cast<float>(tile.x), dy = static_cast<float>(tile.y);
  for (Detection& d : dets) {
    d.x1 += dx;
    d.x2 += dx;
    d.y1 += dy;
    d.y2 += dy;
  }
}

}  // namespace spdinfer
