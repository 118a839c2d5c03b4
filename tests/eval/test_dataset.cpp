// The idx reader (plain and gzip, every malformed case says what is wrong),
// the grey -> network image rule shared with training, dataset discovery
// (idx pairs, class folders) and batching.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/error.h"
#include "eval/dataset.h"
#include "image/preprocess.h"

using namespace spdinfer;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("spdinfer-dataset-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::vector<std::uint8_t> idx_bytes(std::vector<std::uint32_t> dims, const std::vector<std::uint8_t>& data,
                                    std::uint8_t type = 0x08) {
  std::vector<std::uint8_t> b = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_gzip(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// n images of h x w whose pixel (i, y, x) is i*7 + y*3 + x (mod 256), labels i % classes.
void write_idx_pair(const TempDir& dir, const std::string& prefix, int n, int h, int w, int classes, bool gz) {
  std::vector<std::uint8_t> pixels, labels;
  for (int i = 0; i < n; ++i) {
    labels.push_back(static_cast<std::uint8_t>(i % classes));
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) pixels.push_back(static_cast<std::uint8_t>(i * 7 + y * 3 + x));
  }
  const std::string ext = gz ? ".gz" : "";
  auto write = gz ? write_gzip : write_file;
  write(dir / (prefix + "-images-idx3-ubyte" + ext),
        idx_bytes({std::uint32_t(n), std::uint32_t(h), std::uint32_t(w)}, pixels));
  write(dir / (prefix + "-labels-idx1-ubyte" + ext), idx_bytes({std::uint32_t(n)}, labels));
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const std::vector<std::string> kTen = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

}  // namespace

TEST_CASE("read_idx: plain and gzip files give the same array", "[dataset]") {
  TempDir dir;
  const auto gz = GENERATE(false, true);
  CAPTURE(gz);
  write_idx_pair(dir, "t", 5, 3, 4, 3, gz);
  const IdxArray images = read_idx(dir / (std::string("t-images-idx3-ubyte") + (gz ? ".gz" : "")));
  REQUIRE(images.dims == std::vector<int64_t>{5, 3, 4});
  REQUIRE(images.data.size() == 60);
  CHECK(images.data[0] == 0);
  CHECK(images.data[1 * 12 + 2 * 4 + 3] == 7 + 6 + 3);  // image 1, row 2, column 3
  const IdxArray labels = read_idx(dir / (std::string("t-labels-idx1-ubyte") + (gz ? ".gz" : "")));
  REQUIRE(labels.dims == std::vector<int64_t>{5});
  CHECK(labels.data == std::vector<std::uint8_t>{0, 1, 2, 0, 1});
}

TEST_CASE("read_idx: malformed files are refused with a reason", "[dataset]") {
  TempDir dir;
  const std::string f = dir / "x";
  SECTION("missing") { CHECK_THAT(error_of([&] { read_idx(dir / "nope"); }), Catch::Contains("cannot open")); }
  SECTION("a folder") { CHECK_THAT(error_of([&] { read_idx(dir.path.string()); }), Catch::Contains("not a regular file")); }
  SECTION("wrong magic") {
    write_file(f, {0x89, 'P', 'N', 'G', 0, 0, 0, 0});
    CHECK_THAT(error_of([&] { read_idx(f); }), Catch::Contains("not an idx file"));
  }
  SECTION("empty") {
    write_file(f, {});
    CHECK_THAT(error_of([&] { read_idx(f); }), Catch::Contains("not an idx file"));
  }
  SECTION("float element type") {
    write_file(f, idx_bytes({1}, {0, 0, 0, 0}, 0x0D));
    CHECK_THAT(error_of([&] { read_idx(f); }), Catch::Contains("only 0x08"));
  }
  SECTION("header cut short") {
    write_file(f, {0, 0, 8, 3, 0, 0, 0, 1});
    CHECK_THAT(error_of([&] { read_idx(f); }), Catch::Contains("header needs 16 bytes"));
  }
  SECTION("truncated data") {
    write_file(f, idx_bytes({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7}));
    CHECK_THAT(error_of([&] { read_idx(f); }), Catch::Contains("need 8 bytes") && Catch::Contains("truncated"));
  }
  SECTION("trailing data") {
    write_file(f, idx_bytes({2}, {1, 2, 3}));
    CHECK_THAT(error_of([&] { read_idx(f); }), Catch::Contains("trailing"));
  }
  SECTION("dimensions larger than the limit") {
    write_file(f, idx_bytes({65536, 65536, 65536}, {}));
    CHECK_THAT(error_of([&] { read_idx(f); }), Catch::Contains("more than"));
  }
  SECTION("truncated gzip stream") {
    write_gzip(f, idx_bytes({64, 64}, std::vector<std::uint8_t>(4096, 9)));
    std::vector<std::uint8_t> bytes = read_file(f);
    bytes.resize(bytes.size() / 2);
    write_file(f, bytes);
    CHECK_THAT(error_of([&] { read_idx(f); }), Catch::Contains("x: "));
    CHECK_FALSE(error_of([&] { read_idx(f); }).empty());
  }
}

TEST_CASE("grey_to_network_image centres on black and replicates to RGB", "[dataset]") {
  std::vector<std::uint8_t> grey(28 * 28);
  for (std::size_t i = 0; i < grey.size(); ++i) grey[i] = static_cast<std::uint8_t>(1 + i % 250);
  const Image img = grey_to_network_image(grey.data(), 28, 28, 32, 32);
  REQUIRE(img.width == 32);
  REQUIRE(img.height == 32);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x) {
      const bool inside = x >= 2 && x < 30 && y >= 2 && y < 30;
      const std::uint8_t expected = inside ? grey[(y - 2) * 28 + (x - 2)] : 0;
      CAPTURE(x, y);
      REQUIRE(img.at(x, y)[0] == expected);
      REQUIRE(img.at(x, y)[1] == expected);
      REQUIRE(img.at(x, y)[2] == expected);
    }
  // Odd margins: the extra pixel goes bottom/right.
  const std::uint8_t one = 200;
  const Image odd = grey_to_network_image(&one, 1, 1, 4, 4);
  CHECK(odd.at(1, 1)[0] == 200);
  CHECK(odd.at(2, 2)[0] == 0);
  CHECK_THROWS_AS(grey_to_network_image(grey.data(), 28, 28, 27, 32), Error);
}

TEST_CASE("open_dataset: an idx images file finds its labels; a folder prefers t10k", "[dataset]") {
  TempDir dir;
  write_idx_pair(dir, "train", 6, 4, 4, 10, true);
  write_idx_pair(dir, "t10k", 4, 4, 4, 10, false);
  const LabelledDataset a = open_dataset(dir / "train-images-idx3-ubyte.gz", kTen);
  CHECK(a.kind == LabelledDataset::Kind::Idx);
  CHECK(a.size() == 6);
  CHECK(a.labels_path == dir / "train-labels-idx1-ubyte.gz");
  CHECK(a.labels == std::vector<int>{0, 1, 2, 3, 4, 5});
  const LabelledDataset b = open_dataset(dir.path.string(), kTen);
  CHECK(b.size() == 4);
  CHECK(b.images_path == dir / "t10k-images-idx3-ubyte");
  CHECK(b.sample_name(3) == dir / "t10k-images-idx3-ubyte" + "[3]");
}

TEST_CASE("open_dataset: idx mismatches are refused", "[dataset]") {
  TempDir dir;
  SECTION("label beyond the model's classes") {
    write_idx_pair(dir, "t10k", 12, 2, 2, 12, false);
    CHECK_THAT(error_of([&] { open_dataset(dir / "t10k-images-idx3-ubyte", kTen); }),
               Catch::Contains("label 10 of image 10") && Catch::Contains("10-class model"));
  }
  SECTION("counts differ") {
    write_idx_pair(dir, "t10k", 3, 2, 2, 3, false);
    write_file(dir / "t10k-labels-idx1-ubyte", idx_bytes({2}, {0, 1}));
    CHECK_THAT(error_of([&] { open_dataset(dir / "t10k-images-idx3-ubyte", kTen); }),
               Catch::Contains("2 labels for 3 images"));
  }
  SECTION("no labels file") {
    write_idx_pair(dir, "t10k", 3, 2, 2, 3, false);
    fs::remove(dir / "t10k-labels-idx1-ubyte");
    CHECK_THAT(error_of([&] { open_dataset(dir / "t10k-images-idx3-ubyte", kTen); }),
               Catch::Contains("no labels file"));
  }
  SECTION("nothing there") {
    CHECK_THAT(error_of([&] { open_dataset(dir / "absent", kTen); }), Catch::Contains("no such file"));
    CHECK_THAT(error_of([&] { open_dataset(dir.path.string(), kTen); }), Catch::Contains("nothing to validate"));
  }
}

TEST_CASE("open_dataset: class folders by name, '/' as '_', or number", "[dataset]") {
  TempDir dir;
  for (const std::string sub : {"T-shirt_top", "Trouser", "9"}) fs::create_directories(dir.path / sub);
  save_image(dir / "T-shirt_top/b.png", Image(3, 3, 10));
  save_image(dir / "T-shirt_top/a.png", Image(3, 3, 20));
  save_image(dir / "Trouser/c.png", Image(3, 3, 30));
  save_image(dir / "9/d.png", Image(3, 3, 40));
  write_file(dir / "Trouser/notes.txt", {'h', 'i'});
  write_file(dir / "readme.txt", {'h', 'i'});
  const LabelledDataset d = open_dataset(dir.path.string(), kTen);
  CHECK(d.kind == LabelledDataset::Kind::Folders);
  REQUIRE(d.size() == 4);
  // Folders sorted by name ("9" < "T-shirt_top" < "Trouser"), files sorted within.
  CHECK(d.labels == std::vector<int>{9, 0, 0, 1});
  CHECK(fs::path(d.files[1]).filename() == "a.png");

  Preprocess p;
  p.height = p.width = 3;
  p.scale = 1.0f;
  const Tensor x = dataset_batch(d, 0, 4, p, 2);
  REQUIRE(x.shape() == Shape{4, 3, 3, 3});
  CHECK(x[0] == 40.0f);
  CHECK(x[27] == 20.0f);
  CHECK(x[2 * 27] == 10.0f);
  CHECK(x[3 * 27 + 26] == 30.0f);

  fs::create_directories(dir.path / "Hat");
  CHECK_THAT(error_of([&] { open_dataset(dir.path.string(), kTen); }),
             Catch::Contains("Hat") && Catch::Contains("matches no class"));
}

TEST_CASE("dataset_batch: idx images padded and normalised as in training", "[dataset]") {
  TempDir dir;
  write_idx_pair(dir, "t10k", 3, 28, 28, 10, true);
  const LabelledDataset d = open_dataset(dir.path.string(), kTen);
  Preprocess p;
  p.height = p.width = 32;
  p.scale = 1.0f / 255.0f;
  p.mean = {0.5f, 0.25f, 0.0f};
  p.std = {0.5f, 0.25f, 1.0f};
  const Tensor x = dataset_batch(d, 1, 3, p);
  REQUIRE(x.shape() == Shape{2, 3, 32, 32});
  for (int k = 0; k < 2; ++k) {
    const int i = k + 1;
    const Image img = grey_to_network_image(d.pixels.data() + i * 784, 28, 28, 32, 32);
    const Tensor ref = image_to_tensor(img, p);
    for (int64_t j = 0; j < ref.numel(); ++j) REQUIRE(x[k * ref.numel() + j] == ref[j]);
  }
  // Corner pixel: black -> (0 - mean) / std.
  CHECK(x[0] == Approx(-1.0f));
  CHECK(x[32 * 32] == Approx(-1.0f));
  CHECK(x[2 * 32 * 32] == 0.0f);
  // Pixel (2, 2) of image 1 is the grey image's (0, 0) = 7.
  CHECK(x[2 * 32 + 2] == Approx((7 / 255.0f - 0.5f) / 0.5f));
  CHECK_THROWS_AS(dataset_batch(d, 2, 4, p), Error);
}

TEST_CASE("the Debian Fashion-MNIST test split reads as 10000 labelled 28x28 images", "[dataset][debian]") {
  const std::string path = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  if (!fs::exists(path)) {
    WARN("skipped: " << path << " is absent (apt-get install dataset-fashion-mnist; scripts/bootstrap does)");
    return;
  }
  const LabelledDataset d = open_dataset(path, kTen);
  CHECK(d.size() == 10000);
  CHECK(d.height == 28);
  CHECK(d.width == 28);
  std::vector<int> per_class(10, 0);
  for (int l : d.labels) ++per_class[l];
  CHECK(per_class == std::vector<int>(10, 1000));
  CHECK(d.labels[0] == 9);  // the first test image is an ankle boot
}

TEST_CASE("read_idx: a gzip file that inflates far past its declared size stops at that size",
          "[dataset][bad_input]") {
  TempDir dir;
  const std::string f = dir / "bomb-labels-idx1-ubyte.gz";
  // Declares 10 labels, then 256 MiB of zeros (about 250 KB compressed): refused after the 10th byte
  // and a probe, not after inflating it all.
  std::vector<std::uint8_t> head = idx_bytes({10}, std::vector<std::uint8_t>(10, 1));
  gzFile out = gzopen(f.c_str(), "wb9");
  REQUIRE(out != nullptr);
  REQUIRE(gzwrite(out, head.data(), static_cast<unsigned>(head.size())) == static_cast<int>(head.size()));
  const std::vector<std::uint8_t> zeros(1 << 20, 0);
  for (int i = 0; i < 256; ++i) REQUIRE(gzwrite(out, zeros.data(), static_cast<unsigned>(zeros.size())) > 0);
  REQUIRE(gzclose(out) == Z_OK);
  const auto start = std::chrono::steady_clock::now();
  CHECK_THAT(error_of([&] { read_idx(f); }), Catch::Contains(f + ": idx dimensions 10 need 10 bytes of data, the file has more"));
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 1.0);
}
