// Replays the video fuzz target's seeds (tests/fuzz/corpus/video/: 32x32 clips in Matroska with
// PNG frames, MP4 with H.264, AVI with MPEG-4 part 2, raw YUV4MPEG) through its harness
// (tests/fuzz/video_harness.h) in the ordinary test build: each must decode, so the fuzzer starts
// from inputs that reach the decoders; and cut short, each must decode or be refused, never crash.
#ifdef SPDINFER_HAVE_VIDEO
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "fuzz/video_harness.h"

namespace fs = std::filesystem;
using spdinfer::fuzz::VideoStage;

TEST_CASE("fuzz replay: video seeds decode; cut anywhere, they decode or are refused", "[fuzz][video]") {
  const fs::path dir = fs::path(SPDINFER_SOURCE_DIR) / "tests" / "fuzz" / "corpus" / "video";
  std::vector<fs::path> seeds;
  for (const auto& e : fs::directory_iterator(dir)) seeds.push_back(e.path());
  std::sort(seeds.begin(), seeds.end());
  REQUIRE(seeds.size() >= 4);
  for (const fs::path& p : seeds) {
    INFO(p.string());
    std::ifstream in(p, std::ios::binary);
    const std::vector<std::uint8_t> b{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    CHECK(spdinfer::fuzz::video(b.data(), b.size()) == VideoStage::kDecoded);
    for (std::size_t cut : {b.size() / 4, b.size() / 2, b.size() - 1}) CHECK_NOTHROW(spdinfer::fuzz::video(b.data(), cut));
  }
}
#endif
