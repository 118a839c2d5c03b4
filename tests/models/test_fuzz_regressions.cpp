// Replays the fuzz seed corpora (tests/fuzz/corpus/<target>/) and every input
// a fuzzer ever crashed on (tests/fuzz/regressions/<target>/) through the same
// harness the libFuzzer targets use (tests/fuzz/harness.h), in the ordinary
// test build: each input either works or throws spdinfer::Error, and the
// seeds get as deep as they were made to (so the fuzzers start from inputs
// that build and run a graph).
#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/error.h"
#include "fuzz/harness.h"
#include "image/image.h"

namespace fs = std::filesystem;
using spdinfer::fuzz::Stage;

namespace {

const fs::path kFuzzDir = fs::path(SPDINFER_SOURCE_DIR) / "tests" / "fuzz";

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::uint8_t> bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int stage_number(Stage s) { return static_cast<int>(s); }

fs::path image_regression(const char* file) { return kFuzzDir / "regressions" / "image" / file; }

// load_image refuses the input at `p` with an error matching `message` (a string or a Catch
// string matcher), and the image fuzz target rejects it.
template <typename Message>
void check_image_refused(const fs::path& p, const Message& message) {
  CAPTURE(p.string());
  REQUIRE(fs::exists(p));
  CHECK_THROWS_WITH(spdinfer::load_image(p.string()), message);
  const auto b = bytes_of(p);
  CHECK(stage_number(spdinfer::fuzz::image(b.data(), b.size())) == stage_number(Stage::kRejected));
}

}  // namespace

TEST_CASE("fuzz replay: model-file seeds parse, regressions parse or throw spdinfer::Error", "[fuzz]") {
  const auto seeds = files_in(kFuzzDir / "corpus" / "model_file");
  REQUIRE(seeds.size() >= 5);
  for (const auto& p : seeds) {
    CAPTURE(p.string());
    const auto b = bytes_of(p);
    CHECK(spdinfer::fuzz::model_file(b.data(), b.size()) == Stage::kParsed);
  }
  for (const auto& p : files_in(kFuzzDir / "regressions" / "model_file")) {
    CAPTURE(p.string());
    const auto b = bytes_of(p);
    CHECK_NOTHROW(spdinfer::fuzz::model_file(b.data(), b.size()));
  }
}

TEST_CASE("fuzz replay: architecture seeds build, plan and run; regressions never crash", "[fuzz]") {
  const auto seeds = files_in(kFuzzDir / "corpus" / "architecture");
  REQUIRE(seeds.size() >= 5);
  for (const auto& p : seeds) {
    CAPTURE(p.string());
    const auto b = bytes_of(p);
    const Stage s = spdinfer::fuzz::architecture(b.data(), b.size());
    // Seeds named *plan_error* are built models whose input shape the plan refuses;
    // *build_error* ones are refused by build_model.
    const std::string name = p.filename().string();
    const Stage expected = name.find("plan_error") != std::string::npos    ? Stage::kBuilt
                           : name.find("build_error") != std::string::npos ? Stage::kRejected
                                                                            : Stage::kRan;
    CHECK(stage_number(s) == stage_number(expected));
  }
  for (const auto& p : files_in(kFuzzDir / "regressions" / "architecture")) {
    CAPTURE(p.string());
    const auto b = bytes_of(p);
    CHECK_NOTHROW(spdinfer::fuzz::architecture(b.data(), b.size()));
  }
}

TEST_CASE("fuzz replay: image seeds decode and preprocess; regressions never crash", "[fuzz]") {
  const auto seeds = files_in(kFuzzDir / "corpus" / "image");
  REQUIRE(seeds.size() >= 5);
  for (const auto& p : seeds) {
    CAPTURE(p.string());
    const auto b = bytes_of(p);
    CHECK(spdinfer::fuzz::image(b.data(), b.size()) == Stage::kRan);
  }
  for (const auto& p : files_in(kFuzzDir / "regressions" / "image")) {
    CAPTURE(p.string());
    const auto b = bytes_of(p);
    CHECK_NOTHROW(spdinfer::fuzz::image(b.data(), b.size()));
  }
}

// Found by the image fuzzer: Debian's stb_image (v2.27) does not check that a JPEG DHT table's
// code-length counts sum to at most 256 and writes past stbi__huffman's arrays (heap corruption;
// upstream stb issues #1289 / #1291). load_image now walks the JPEG's segments first
// (image/stb_input_check.cpp) and refuses such a file with one line naming it.
TEST_CASE("fuzz regression: a JPEG with more than 256 Huffman codes is refused", "[fuzz][image]") {
  const fs::path p = image_regression("jpeg_dht_counts_over_256.jpg");
  check_image_refused(p, Catch::StartsWith(p.string() + ": JPEG Huffman table") &&
                             Catch::Contains("at most 256") && !Catch::Contains("\n"));
}

// Found by the image fuzzer (UBSan: an index of 1.7 billion into a Huffman table, only when the
// heap held the right garbage): stb_image (v2.27) does not clear its decoder state, and this
// progressive JPEG's scan uses an AC Huffman table that no DHT segment defines, so stb decoded
// with whatever the heap held. load_image now checks every scan's tables first.
TEST_CASE("fuzz regression: a JPEG scan that uses an undefined Huffman table is refused", "[fuzz][image]") {
  const fs::path p = image_regression("jpeg_scan_uses_undefined_huffman_table.jpg");
  check_image_refused(
      p, Catch::StartsWith(p.string() + ": JPEG scan (SOS at byte 322) uses AC Huffman table 1, which no "
                                        "segment before it defines") &&
             !Catch::Contains("\n"));
}

// Found by the image fuzzer (an out-of-memory report): stb_image (v2.27) grows its buffer to the
// length an IDAT chunk declares before reading the chunk, so this 194-byte PNG, whose last chunk
// declares 1.29 GB, made it allocate 2 GB. load_image now reads the chunk headers first
// (image/stb_input_check.cpp) and refuses a chunk that runs past the end of the file.
TEST_CASE("fuzz regression: a PNG chunk that runs past the end of the file is refused", "[fuzz][image]") {
  const fs::path p = image_regression("png_idat_declares_1gb.png");
  check_image_refused(
      p, Catch::StartsWith(p.string() + ": PNG chunk IDAT at byte 181 declares 1291845632 bytes") &&
             !Catch::Contains("\n"));
}

// Crafted after the out-of-memory report above: a 1x1 PNG of 16 KB whose zlib stream inflates to
// 16 MB. stb_image inflates all of it (growing its buffer as it goes) and then decodes the first
// pixel; a few MB of such a file would have it allocate gigabytes. stb's allocations are now
// bounded by what the image's header says it needs (StbAllocationLimit, image/stb_codecs.h).
TEST_CASE("fuzz regression: a PNG whose data inflates far past its size is refused", "[fuzz][image]") {
  const fs::path p = image_regression("png_1x1_inflates_to_16mb.png");
  check_image_refused(
      p,
      p.string() + ": cannot decode image: its data decodes to more than a 1x1 image holds (a corrupt file)");
}

// Corrupt JPEGs that Debian's stb_image (v2.27) decodes with behaviour the standard leaves
// undefined (v2.28 refuses them), each crafted to do it on its first blocks:
// - found by fuzz.smoke in CI: a marker inside the entropy-coded data leaves the decoder short of
//   bits; it reads them as zeros, and its bit-buffer refill then shifts a (zero) byte by 32 or
//   more (an 8x8 grey image, 4 bytes of data, then EOI);
// - found by reading stb after that: the DC coefficient times a 16-bit quantiser overflows int
//   (two 8x8 blocks, each adding the largest DC difference, quantiser 65535).
// Each must decode to the image stb makes of it, under the sanitizers too (CMakeLists.txt says how
// image/stb_codecs.cpp is compiled for them, and why that is sound).
TEST_CASE("fuzz regression: corrupt JPEGs that stb 2.27 decodes with undefined behaviour decode cleanly",
          "[fuzz][image]") {
  const struct {
    const char* file;
    int width, height;
  } cases[] = {{"jpeg_marker_cuts_entropy_data.jpg", 8, 8}, {"jpeg_dc_times_quantiser_overflows_int.jpg", 16, 8}};
  for (const auto& c : cases) {
    const fs::path p = image_regression(c.file);
    CAPTURE(p.string());
    REQUIRE(fs::exists(p));
    const spdinfer::Image img = spdinfer::load_image(p.string());
    CHECK(img.width == c.width);
    CHECK(img.height == c.height);
    CHECK(img.pixels.size() == std::size_t(c.width) * c.height * 3);
  }
}

// Found by review while writing the architecture target, confirmed with
// tests/fuzz/regressions/architecture/deep_nested_expansion.json (ASan: stack-overflow in
// nlohmann's serializer): an error message about a wrong-typed architecture value serialised the
// value, recursively; a list nested 200000 deep (a 400 KB header, far below the reader's 64 MB
// limit) overflowed the stack of `spdinfer info`. Now lists and objects are described by kind.
TEST_CASE("fuzz regression: a deeply nested architecture value is an error, not a stack overflow", "[fuzz]") {
  const std::size_t depth = 1000000;
  for (const char* key : {"block", "expansion", "stage_widths"}) {
    CAPTURE(key);
    nlohmann::json arch = {{"block", "basic"}, {"expansion", 1}, {"stem_channels", 2},
                           {"stage_blocks", nlohmann::json::array({1})}, {"stage_widths", nlohmann::json::array({2})},
                           {"stage_strides", nlohmann::json::array({1})},
                           {"num_classes", 3}};
    arch.erase(key);
    const std::string deep = std::string(depth, '[') + std::string(depth, ']');
    std::string text = arch.dump();
    text.insert(1, "\"" + std::string(key) + "\": " + deep + ", ");
    // Through the real path: a model file's bytes, read, then built.
    const std::string header = nlohmann::json{{"__metadata__",
                                               {{"format", "spdinfer"},
                                                {"format_version", "1"},
                                                {"family", "resnet_spd"},
                                                {"architecture", text},
                                                {"preprocess", R"({"input_size": [32, 32]})"}}}}
                                   .dump();
    std::vector<std::uint8_t> bytes(8);
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(std::uint64_t{header.size()} >> (8 * i));
    bytes.insert(bytes.end(), header.begin(), header.end());
    spdinfer::ModelFile file = spdinfer::parse_model_file("deep.safetensors", bytes.data(), bytes.size());
    CHECK_THROWS_AS(spdinfer::build_model(std::move(file)), spdinfer::Error);
    file = spdinfer::parse_model_file("deep.safetensors", bytes.data(), bytes.size());
    // Refused while parsing, by the metadata's depth limit (kMetadataJsonLimits).
    CHECK_THROWS_WITH(spdinfer::build_model(std::move(file)),
                      Catch::Contains("deep.safetensors: metadata 'architecture' nests more than 64 levels deep"));
  }
}
