// Bad input, by class (issue 22): each class of input that used to crash, hang or take unbounded
// time ends in one spdinfer::Error naming the file and what is wrong, quickly.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <sys/stat.h>

#include "temp_dir.h"
#include "detect/slicing.h"
#include "engine/error.h"
#include "engine/input_file.h"
#include "engine/json_checked.h"
#include "engine/model_file.h"
#include "engine/npy.h"
#include "eval/dataset.h"
#include "eval/detection_dataset.h"
#include "image/image.h"
#include "models/classification.h"
#include "models/model.h"
#include "models/tiny_models.h"

using namespace spdinfer;
using Catch::Matchers::Contains;
using json = nlohmann::json;
namespace fs = std::filesystem;
using spdinfer::testing::TempDir;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("NOT a spdinfer::Error: ") + e.what();
  }
  return "";
}

// A model file whose header is `header` and whose data section is empty.
std::string model_bytes(const std::string& header) {
  std::string out(8, '\0');
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header;
}

ModelFile parse_bytes(const std::string& bytes) {
  return parse_model_file("m.safetensors", reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), false);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("bad input: JSON nested 200,000 deep is refused by depth, not a stack overflow", "[bad_input]") {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  CHECK_THAT(error_of([&] { parse_json_checked("f.json", "architecture", deep, kMetadataJsonLimits); }),
             Contains("f.json: architecture nests more than 64 levels deep"));
  // In a model header and in the architecture metadata of a model.
  CHECK_THAT(error_of([&] { parse_bytes(model_bytes("{\"a\":" + deep + "}")); }),
             Contains("m.safetensors: header nests more than"));
  ModelFile file;
  file.path = "m.safetensors";
  file.metadata = spdinfer::testing::metadata("resnet_spd", json::object());
  file.metadata["architecture"] = "{\"a\":" + deep + "}";
  CHECK_THAT(error_of([&] { build_model(std::move(file)); }),
             Contains("m.safetensors: metadata 'architecture' nests more than 64 levels deep"));
  CHECK_THAT(error_of([&] { parse_json_checked("f.json", "x", "[1,2", kMetadataJsonLimits); }),
             Contains("f.json: x is not valid JSON"));
  CHECK_THAT(error_of([&] { parse_json_checked("f.json", "x", "{\"a\":{\"b\":1,\"b\":2}}", kMetadataJsonLimits); }),
             Contains("f.json: x: key 'a/b' appears twice"));
  CHECK_THAT(error_of([&] { parse_json_checked("f.json", "x", "[1,2,3]", JsonLimits{4, 3}); }),
             Contains("f.json: x has more than 3 values"));
}

TEST_CASE("bad input: a header with 200,000 entries is checked for duplicates in linear time", "[bad_input]") {
  std::string header = "{";
  for (int i = 0; i < 200000; ++i) header += (i ? ",\"t" : "\"t") + std::to_string(i) + "\":{}";
  header += "}";
  const auto start = std::chrono::steady_clock::now();
  CHECK_THAT(error_of([&] { parse_bytes(model_bytes(header)); }), Contains("more than 100000 tensors"));
  CHECK(seconds_since(start) < 20);
}

TEST_CASE("bad input: a named pipe is refused, never waited on", "[bad_input]") {
  TempDir dir;
  const std::string fifo = (dir.path / "pipe.jpg").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THAT(error_of([&] { load_image(fifo); }), Contains(fifo + ": not a regular file"));
  CHECK_THAT(error_of([&] { read_label_file(fifo); }), Contains(fifo + ": not a regular file"));
  CHECK_THAT(error_of([&] { read_npy(fifo); }), Contains(fifo + ": not a regular file"));
  CHECK_THAT(error_of([&] { read_yolo_labels(fifo, 10, 10, 2); }), Contains(fifo + ": not a regular file"));
  CHECK_THAT(error_of([&] { read_model_file(fifo); }), Contains(fifo + ": not a regular file"));
  const fs::path split = dir.path / "split";
  fs::create_directories(split);
  REQUIRE(::mkfifo((split / "dataset.json").c_str(), 0600) == 0);
  CHECK_THAT(error_of([&] { open_detection_dataset(split.string(), "val"); }), Contains("not a regular file"));
}

TEST_CASE("bad input: symbolic-link loops in datasets are skipped or named, never a filesystem_error",
          "[bad_input]") {
  TempDir dir;
  const fs::path root = dir.path / "root";
  fs::create_directories(root / "cat");
  fs::create_symlink(root / "loop", root / "loop");  // a link to itself
  fs::create_symlink(root / "cat" / "a.png", root / "cat" / "a.png.lnk");
  fs::create_symlink(root / "cat" / "x.png", root / "cat" / "x.png");
  CHECK(list_folder(root.string(), true) == std::vector<std::string>{(root / "cat").string()});
  CHECK(list_folder((root / "cat").string()).empty());
  const std::string e = error_of([&] { open_dataset(root.string(), {"cat", "dog"}); });
  CHECK_THAT(e, !Contains("NOT a spdinfer::Error"));
  CHECK_THAT(e, Contains(root.string()));
  CHECK_THAT(error_of([&] { open_dataset((root / "loop").string(), {"cat"}); }), !Contains("NOT a spdinfer::Error"));
}

TEST_CASE("bad input: a ResNet 'spd' that is not a boolean is refused", "[bad_input]") {
  json arch = {{"block", "basic"},           {"expansion", 1},           {"stem_channels", 2},
               {"stage_blocks", {1, 1, 1, 1}}, {"stage_widths", {2, 4, 8, 16}}, {"stage_strides", {1, 2, 2, 2}},
               {"num_classes", 3}};
  for (const json& bad : {json(0), json("no"), json("yes"), json(1)}) {
    arch["spd"] = bad;
    CHECK_THAT(error_of([&] { spdinfer::testing::build("resnet_spd", arch); }),
               Contains("architecture 'spd' must be true or false"));
  }
}

TEST_CASE("bad input: a model of more layers than kMaxGraphNodes is refused while building", "[bad_input]") {
  json arch = spdinfer::testing::tiny_spd_yolo();
  const int n = static_cast<int>(kMaxGraphNodes) + 10;
  json backbone = json::array();
  for (int i = 0; i < n; ++i) backbone.push_back({-1, 1, "nn.Upsample", {"None", 1, "nearest"}});
  for (const auto& layer : arch["backbone"]) backbone.push_back(layer);
  arch["backbone"] = backbone;
  arch["head"][2][0] = {-1, 3 + n};
  arch["head"][4][0] = {10 + n, 7 + n};
  const auto start = std::chrono::steady_clock::now();
  CHECK_THAT(error_of([&] { spdinfer::testing::build("yolov5", arch); }),
             Contains("builds more than " + std::to_string(kMaxGraphNodes) + " layers"));
  CHECK(seconds_since(start) < 20);
}

TEST_CASE("bad input: slicing into more than kMaxTilesPerImage tiles is refused", "[bad_input]") {
  CHECK_THAT(error_of([] { plan_tiles(4000, 3000, 32, 32, 0.95); }),
             Contains("tiles; at most 4096 are allowed"));
  CHECK(plan_tiles(4000, 3000, 640, 640, 0.2).size() < 100);
}

TEST_CASE("bad input: layers after Detect that no output reads are dropped, not run", "[bad_input]") {
  json arch = spdinfer::testing::tiny_spd_yolo();
  // Three upsamplings by 16 of Detect's output: 4096 x the size of a 64 x 64 input's boxes, thrice.
  for (int i = 0; i < 3; ++i) arch["head"].push_back({-1, 1, "nn.Upsample", {"None", 16, "nearest"}});
  const Model m = spdinfer::testing::build("yolov5", arch);
  for (const Node& n : m.graph->nodes()) CHECK((n.op != "upsample_nearest" || n.name.rfind("model.8", 0) == 0));
  Tensor x({1, 3, 64, 64});
  CHECK(m.graph->plan({x.shape()})->activation_bytes(1) < (std::size_t{64} << 20));
  CHECK_NOTHROW(forward_input(m, x, 1));
}

TEST_CASE("bad input: a Detect stride that contradicts the feature maps is refused at load", "[bad_input]") {
  json arch = spdinfer::testing::tiny_spd_yolo();
  CHECK_NOTHROW(spdinfer::testing::build("yolov5", arch));
  arch["stride"] = {8, 16};  // the network makes 16 x 16 and 8 x 8 maps of its 64 x 64 input: 4 and 8
  CHECK_THAT(error_of([&] { spdinfer::testing::build("yolov5", arch); }),
             Contains("Detect level 0 ('model.11.decode.0') has stride 8, but the network turns its 64x64 input "
                      "into a 16x16 feature map (stride 4)"));
}

TEST_CASE("bad input: a model that cannot run is blamed, not the image", "[bad_input]") {
  const Model m = spdinfer::testing::build("yolov5", spdinfer::testing::tiny_spd_yolo());
  Tensor odd({1, 3, 30, 30});  // space_to_depth needs even sides
  try {
    forward_input(m, odd, 1);
    FAIL("ran");
  } catch (const ModelError& e) {
    CHECK_THAT(e.what(), Catch::StartsWith(m.path + ": at input (1, 3, 30, 30): "));
  }
}
