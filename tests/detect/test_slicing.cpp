// Tests of detect/slicing: tile plans cover every pixel with the requested
// overlap, edge tiles are shifted back inside the image (SAHI's convention),
// an image smaller than the slice is one tile, bad sizes and ratios are
// refused; inner borders, cut sides, cropping and offsets.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "detect/slicing.h"
#include "engine/error.h"

using namespace spdinfer;

namespace {

// How many tiles cover each pixel (row-major).
std::vector<int> coverage(const std::vector<TileRect>& tiles, int w, int h) {
  std::vector<int> count(std::size_t(w) * h, 0);
  for (const TileRect& t : tiles)
    for (int y = t.y; y < t.y + t.h; ++y)
      for (int x = t.x; x < t.x + t.w; ++x) ++count[std::size_t(y) * w + x];
  return count;
}

}  // namespace

TEST_CASE("Tiles cover every pixel, lie inside the image and overlap as asked", "[slicing]") {
  const int sizes[][4] = {{1000, 700, 320, 320}, {1920, 1080, 640, 640}, {641, 641, 640, 640},
                          {333, 1500, 128, 256}, {2560, 1280, 512, 384}, {80, 100, 7, 13}};  // 80x100: within kMaxTilesPerImage at 0.9
  for (double overlap : {0.0, 0.2, 0.5, 0.9}) {
    for (const auto& s : sizes) {
      const int w = s[0], h = s[1], sw = s[2], sh = s[3];
      CAPTURE(w, h, sw, sh, overlap);
      const std::vector<TileRect> tiles = plan_tiles(w, h, sw, sh, overlap);
      REQUIRE(!tiles.empty());
      for (const TileRect& t : tiles) {
        CHECK(t.w == sw);  // every tile has the slice's size (all sizes here fit)
        CHECK(t.h == sh);
        CHECK(t.x >= 0);
        CHECK(t.y >= 0);
        CHECK(t.x + t.w <= w);
        CHECK(t.y + t.h <= h);
      }
      const std::vector<int> count = coverage(tiles, w, h);
      CHECK(*std::min_element(count.begin(), count.end()) >= 1);
      // Neighbours in a row share at least int(overlap * slice) columns; only
      // the last one (shifted back) may share more.
      const int min_shared = static_cast<int>(overlap * sw);
      for (std::size_t i = 1; i < tiles.size(); ++i) {
        if (tiles[i].y != tiles[i - 1].y) continue;
        const int shared = tiles[i - 1].x + tiles[i - 1].w - tiles[i].x;
        CHECK(shared >= min_shared);
        if (i + 1 < tiles.size() && tiles[i + 1].y == tiles[i].y) CHECK(shared == min_shared);
      }
    }
  }
}

TEST_CASE("Tile starts follow SAHI's get_slice_bboxes", "[slicing]") {
  // 1000 px, slice 512, overlap 0.2: int(102.4) = 102 px shared, step 410;
  // the tile at 820 would end at 1332, so it is moved back to 488.
  const std::vector<TileRect> tiles = plan_tiles(1000, 512, 512, 512, 0.2);
  REQUIRE(tiles.size() == 3);
  CHECK(tiles[0] == TileRect{0, 0, 512, 512});
  CHECK(tiles[1] == TileRect{410, 0, 512, 512});
  CHECK(tiles[2] == TileRect{488, 0, 512, 512});
  // An exact fit: 1024 = 512 + 512 with no overlap is two tiles, not three.
  CHECK(plan_tiles(1024, 512, 512, 512, 0.0).size() == 2);
  // Row-major order; 560 = 256 + 320 - 16: the second tile is moved back to 240.
  const std::vector<TileRect> grid = plan_tiles(560, 560, 320, 320, 0.2);
  REQUIRE(grid.size() == 4);
  CHECK(grid[1] == TileRect{240, 0, 320, 320});
  CHECK(grid[2] == TileRect{0, 240, 320, 320});
  // 600 needs a third: the tile at 256 ends at 576, short of the edge.
  CHECK(plan_tiles(600, 600, 320, 320, 0.2).size() == 9);
}

TEST_CASE("An image smaller than the slice is one tile: the whole image", "[slicing]") {
  CHECK(plan_tiles(300, 200, 640, 640, 0.2) == std::vector<TileRect>{{0, 0, 300, 200}});
  // Smaller in one direction only: full height, sliced across.
  const std::vector<TileRect> tiles = plan_tiles(1500, 200, 640, 640, 0.2);
  REQUIRE(tiles.size() == 3);
  for (const TileRect& t : tiles) {
    CHECK(t.h == 200);
    CHECK(t.y == 0);
    CHECK(t.w == 640);
  }
  CHECK(tiles.back().x == 1500 - 640);
}

TEST_CASE("Tile planning refuses sizes and overlaps it cannot use", "[slicing]") {
  CHECK_THROWS_AS(plan_tiles(100, 100, 0, 5, 0.2), Error);
  CHECK_THROWS_AS(plan_tiles(100, 100, 5, -1, 0.2), Error);
  CHECK_THROWS_AS(plan_tiles(0, 100, 5, 5, 0.2), Error);
  CHECK_THROWS_AS(plan_tiles(100, 100, 5, 5, 1.0), Error);
  CHECK_THROWS_AS(plan_tiles(100, 100, 5, 5, -0.1), Error);
  CHECK_THROWS_AS(plan_tiles(100, 100, 5, 5, std::numeric_limits<double>::quiet_NaN()), Error);
  // The largest accepted overlap still advances by at least a pixel.
  CHECK(plan_tiles(60, 60, 10, 10, kMaxOverlapRatio).size() == 51u * 51u);
  // More than kMaxTilesPerImage tiles (91 x 91 here) is refused.
  CHECK_THROWS_WITH(plan_tiles(100, 100, 10, 10, kMaxOverlapRatio), Catch::Contains("8281 tiles; at most 4096"));
}

TEST_CASE("Inner borders and the sides that cut a box", "[slicing]") {
  const std::vector<TileRect> tiles = plan_tiles(560, 560, 320, 320, 0.2);
  CHECK(inner_sides(tiles[0], 560, 560) == (kSideRight | kSideBottom));
  CHECK(inner_sides(tiles[3], 560, 560) == (kSideLeft | kSideTop));
  CHECK(inner_sides(TileRect{0, 0, 560, 560}, 560, 560) == 0u);
  CHECK(inner_sides(plan_tiles(600, 600, 320, 320, 0.2)[4], 600, 600) == 15u);  // the middle one

  const unsigned inner = inner_sides(tiles[0], 560, 560);
  Detection d;
  d.x1 = 100, d.y1 = 100, d.x2 = 319, d.y2 = 200;  // 1 px from the right border
  CHECK(cut_sides(d, tiles[0], inner, 2.0f) == kSideRight);
  d.x2 = 300;
  CHECK(cut_sides(d, tiles[0], inner, 2.0f) == 0u);
  d.x1 = 0, d.y1 = 0;  // on the image's own edge: nothing is cut there
  CHECK(cut_sides(d, tiles[0], inner, 2.0f) == 0u);
  d.x2 = 320, d.y2 = 320;
  CHECK(cut_sides(d, tiles[0], inner, 2.0f) == (kSideRight | kSideBottom));
}

TEST_CASE("Cropping a tile and moving its boxes into the image", "[slicing]") {
  Image img(5, 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 5; ++x) img.at(x, y)[0] = static_cast<std::uint8_t>(10 * y + x);
  const Image tile = crop_tile(img, TileRect{2, 1, 3, 2});
  REQUIRE(tile.width == 3);
  REQUIRE(tile.height == 2);
  CHECK(tile.at(0, 0)[0] == 12);
  CHECK(tile.at(2, 1)[0] == 24);
  CHECK_THROWS_AS(crop_tile(img, TileRect{3, 0, 3, 2}), Error);

  std::vector<Detection> dets(1);
  dets[0].x1 = 1, dets[0].y1 = 2, dets[0].x2 = 3, dets[0].y2 = 4;
  offset_to_image(dets, TileRect{100, 50, 10, 10});
  CHECK(dets[0].x1 == 101);
  CHECK(dets[0].y1 == 52);
  CHECK(dets[0].x2 == 103);
  CHECK(dets[0].y2 == 54);
}
