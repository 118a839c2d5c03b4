// Tests of image/image: every PNG/BMP/JPEG layout comes back as 8-bit RGB
// (grey, grey+alpha, RGBA via stb_image_write; 16-bit grey and RGB via a
// small PNG writer here, as stb_image_write has no 16-bit output), the size
// limits checked from the header alone, and errors that name the file.
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/error.h"
#include "image/image.h"
#include "image/stb_codecs.h"

// The implementation is compiled into the library (image/image.cpp).
#include <stb/stb_image.h>  // declarations only: image/stb_codecs.cpp compiles stb
#include <stb/stb_image_write.h>

using namespace spdinfer;

namespace {

// A file removed when the test ends, in the current (build) directory.
struct TempFile {
  std::string path;
  explicit TempFile(std::string name) : path("spdinfer_test_" + std::move(name)) {}
  ~TempFile() { std::remove(path.c_str()); }
};

using Bytes = std::vector<std::uint8_t>;

void put_be32(Bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}

std::uint32_t crc32(const Bytes& data, std::size_t from) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = from; i < data.size(); ++i) {
    c ^= data[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

void put_chunk(Bytes& png, const char* type, const Bytes& data) {
  put_be32(png, static_cast<std::uint32_t>(data.size()));
  const std::size_t start = png.size();
  png.insert(png.end(), type, type + 4);
  png.insert(png.end(), data.begin(), data.end());
  put_be32(png, crc32(png, start));
}

// A PNG with `bit_depth`-bit samples (big-endian when 16), colour type 0 (grey)
// or 2 (RGB); `samples` row-major. IDAT is zlib with stored (uncompressed) blocks.
Bytes make_png(int w, int h, int bit_depth, int color_type, const std::vector<std::uint16_t>& samples,
               bool with_pixels = true) {
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  Bytes ihdr;
  put_be32(ihdr, w);
  put_be32(ihdr, h);
  ihdr.insert(ihdr.end(),
              {static_cast<std::uint8_t>(bit_depth), static_cast<std::uint8_t>(color_type), 0, 0, 0});
  put_chunk(png, "IHDR", ihdr);
  if (with_pixels) {
    const int channels = color_type == 2 ? 3 : 1;
    Bytes raw;
    for (int y = 0; y < h; ++y) {
      raw.push_back(0);  // filter: none
      for (int i = 0; i < w * channels; ++i) {
        const std::uint16_t v = samples[static_cast<std::size_t>(y) * w * channels + i];
        if (bit_depth == 16) raw.push_back(static_cast<std::uint8_t>(v >> 8));
        raw.push_back(static_cast<std::uint8_t>(v));
      }
    }
    Bytes z = {0x78, 0x01};
    for (std::size_t off = 0; off < raw.size() || off == 0; off += 65535) {
      const std::size_t n = std::min<std::size_t>(65535, raw.size() - off);
      z.push_back(off + n >= raw.size() ? 1 : 0);
      z.insert(z.end(), {static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8),
                         static_cast<std::uint8_t>(~n), static_cast<std::uint8_t>(~n >> 8)});
      z.insert(z.end(), raw.begin() + off, raw.begin() + off + n);
      if (raw.empty()) break;
    }
    std::uint32_t a = 1, b = 0;
    for (std::uint8_t v : raw) {
      a = (a + v) % 65521;
      b = (b + a) % 65521;
    }
    put_be32(z, (b << 16) | a);
    put_chunk(png, "IDAT", z);
  }
  put_chunk(png, "IEND", {});
  return png;
}

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// A valid 16x8 baseline JPEG from stb_image_write, in memory.
Bytes make_jpeg() {
  Image img(16, 8);
  for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>(i * 7);
  Bytes out;
  stbi_write_jpg_to_func(
      [](void* ctx, void* data, int size) {
        auto* b = static_cast<Bytes*>(ctx);
        b->insert(b->end(), static_cast<std::uint8_t*>(data), static_cast<std::uint8_t*>(data) + size);
      },
      &out, img.width, img.height, 3, img.pixels.data(), 90);
  return out;
}

// Offset of the first FF C0 (baseline start-of-frame): height at +5, width at +7, big-endian.
std::size_t sof_offset(const Bytes& jpeg) {
  for (std::size_t i = 0; i + 9 < jpeg.size(); ++i)
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0) return i;
  FAIL("no SOF0 marker");
  return 0;
}

void set_be16(Bytes& b, std::size_t at, int v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}

// load_image's error: one line, "PATH: ...", containing `what`.
void check_refused(const std::string& path, const std::string& what) {
  CAPTURE(path, what);
  try {
    load_image(path);
    FAIL("loaded");
  } catch (const Error& e) {
    const std::string message = e.what();
    CAPTURE(message);
    CHECK(message.rfind(path + ": ", 0) == 0);
    CHECK(message.find('\n') == std::string::npos);
    CHECK(message.find(what) != std::string::npos);
  }
}

std::vector<int> rgb(const Image& img, int x, int y) {
  const std::uint8_t* p = img.at(x, y);
  return {p[0], p[1], p[2]};
}

}  // namespace

TEST_CASE("grey, grey+alpha, RGB and RGBA PNGs load as RGB", "[image]") {
  SECTION("grey") {
    TempFile f("grey.png");
    const std::uint8_t px[] = {0, 128, 255, 7};
    REQUIRE(stbi_write_png(f.path.c_str(), 2, 2, 1, px, 2));
    const Image img = load_image(f.path);
    REQUIRE(img.width == 2);
    REQUIRE(img.height == 2);
    CHECK(rgb(img, 1, 0) == std::vector<int>{128, 128, 128});
    CHECK(rgb(img, 1, 1) == std::vector<int>{7, 7, 7});
  }
  SECTION("grey + alpha: alpha dropped") {
    TempFile f("grey_alpha.png");
    const std::uint8_t px[] = {10, 0, 200, 255, 30, 128};
    REQUIRE(stbi_write_png(f.path.c_str(), 3, 1, 2, px, 6));
    const Image img = load_image(f.path);
    REQUIRE(img.width == 3);
    CHECK(rgb(img, 0, 0) == std::vector<int>{10, 10, 10});
    CHECK(rgb(img, 2, 0) == std::vector<int>{30, 30, 30});
  }
  SECTION("RGBA: alpha dropped, colour kept") {
    TempFile f("rgba.png");
    const std::uint8_t px[] = {1, 2, 3, 0, 250, 100, 50, 255};
    REQUIRE(stbi_write_png(f.path.c_str(), 1, 2, 4, px, 4));
    const Image img = load_image(f.path);
    REQUIRE(img.height == 2);
    CHECK(rgb(img, 0, 0) == std::vector<int>{1, 2, 3});
    CHECK(rgb(img, 0, 1) == std::vector<int>{250, 100, 50});
  }
  SECTION("8-bit RGB through save_image and back, PNG and BMP exactly") {
    Image src(5, 3);
    for (std::size_t i = 0; i < src.pixels.size(); ++i) src.pixels[i] = static_cast<std::uint8_t>(i * 17);
    for (const char* name : {"rgb.png", "rgb.bmp"}) {
      TempFile f(name);
      save_image(f.path, src);
      CAPTURE(name);
      CHECK(load_image(f.path).pixels == src.pixels);
    }
  }
  SECTION("JPEG round trip is close") {
    TempFile f("flat.jpg");
    save_image(f.path, Image(16, 16, 90));
    const Image img = load_image(f.path);
    REQUIRE(img.width == 16);
    CHECK(std::abs(img.at(8, 8)[1] - 90) <= 2);
  }
}

TEST_CASE("16-bit PNGs are narrowed to 8 bits", "[image]") {
  SECTION("16-bit grey") {
    TempFile f("grey16.png");
    write_bytes(f.path, make_png(2, 1, 16, 0, {0xABCD, 0x0102}));
    const Image img = load_image(f.path);
    REQUIRE(img.width == 2);
    CHECK(rgb(img, 0, 0) == std::vector<int>{0xAB, 0xAB, 0xAB});
    CHECK(rgb(img, 1, 0) == std::vector<int>{0x01, 0x01, 0x01});
  }
  SECTION("16-bit RGB") {
    TempFile f("rgb16.png");
    write_bytes(f.path, make_png(1, 2, 16, 2, {0xFF00, 0x8000, 0x00FF, 0x1234, 0x5678, 0x9ABC}));
    const Image img = load_image(f.path);
    REQUIRE(img.height == 2);
    CHECK(rgb(img, 0, 0) == std::vector<int>{0xFF, 0x80, 0x00});
    CHECK(rgb(img, 0, 1) == std::vector<int>{0x12, 0x56, 0x9A});
  }
  SECTION("the hand-made writer is right for 8 bits too") {
    TempFile f("grey8.png");
    write_bytes(f.path, make_png(3, 1, 8, 0, {5, 6, 7}));
    CHECK(rgb(load_image(f.path), 2, 0) == std::vector<int>{7, 7, 7});
  }
}

TEST_CASE("image size limits are checked before decoding", "[image]") {
  SECTION("a side over 20000 pixels") {
    TempFile f("wide.png");
    write_bytes(f.path, make_png(30000, 2, 8, 0, {}, false));  // header only: never decoded
    CHECK_THROWS_WITH(load_image(f.path), Catch::Contains(f.path) && Catch::Contains("30000x2"));
  }
  SECTION("more than 100 M pixels in total") {
    TempFile f("huge.png");
    write_bytes(f.path, make_png(15000, 15000, 8, 0, {}, false));
    CHECK_THROWS_WITH(load_image(f.path), Catch::Contains("15000x15000") && Catch::Contains("100 M"));
  }
}

TEST_CASE("unreadable images are errors naming the file", "[image]") {
  SECTION("missing") {
    CHECK_THROWS_WITH(load_image("no/such/dir/photo.jpg"),
                      Catch::StartsWith("no/such/dir/photo.jpg: cannot open image"));
  }
  SECTION("a text file named .jpg") {
    TempFile f("text.jpg");
    { std::ofstream(f.path) << "this is not a picture\n"; }
    CHECK_THROWS_WITH(load_image(f.path), Catch::Contains(f.path) && Catch::Contains("not a readable"));
  }
  SECTION("a truncated PNG") {
    TempFile f("truncated.png");
    Bytes png = make_png(4, 4, 8, 0, std::vector<std::uint16_t>(16, 9));
    png.resize(png.size() - 30);
    write_bytes(f.path, png);
    CHECK_THROWS_AS(load_image(f.path), Error);
  }
  SECTION("an empty file") {
    TempFile f("empty.png");
    { std::ofstream(f.path); }
    CHECK_THROWS_AS(load_image(f.path), Error);
  }
}

TEST_CASE("malformed images of every kind the issue lists are one-line errors naming the file", "[image]") {
  const Bytes jpeg = make_jpeg();
  {
    TempFile ok("valid.jpg");
    write_bytes(ok.path, jpeg);
    REQUIRE(load_image(ok.path).width == 16);
  }
  SECTION("an empty file") {
    TempFile f("empty.jpg");
    write_bytes(f.path, {});
    check_refused(f.path, "empty file");
  }
  SECTION("a directory, even one named .jpg") {
    const std::string dir = "spdinfer_test_dir.jpg";
    std::remove(dir.c_str());
    REQUIRE(std::system(("mkdir -p " + dir).c_str()) == 0);
    check_refused(dir, "is a directory");
    std::remove(dir.c_str());
  }
  SECTION("/dev/null") { check_refused("/dev/null", "not a regular file"); }
  SECTION("a text file named .jpg") {
    TempFile f("words.jpg");
    write_bytes(f.path, Bytes{'h', 'e', 'l', 'l', 'o', '\n'});
    check_refused(f.path, "not a readable JPEG, PNG or BMP image");
  }
  SECTION("a JPEG header without scan data, and a PNG header without pixels") {
    TempFile f("header_only.jpg");
    write_bytes(f.path, Bytes(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(sof_offset(jpeg) + 19)));
    check_refused(f.path, "before its end-of-image marker (a truncated file)");
    TempFile g("header_only.png");
    write_bytes(g.path, make_png(4, 4, 8, 0, {}, false));
    check_refused(g.path, "cannot decode image");
  }
  SECTION("width or height 0") {
    for (int side : {5, 7}) {  // SOF: height at +5, width at +7
      Bytes b = jpeg;
      set_be16(b, sof_offset(b) + side, 0);
      TempFile f("zero_side.jpg");
      write_bytes(f.path, b);
      CHECK_THROWS_AS(load_image(f.path), Error);
    }
    for (auto wh : {std::pair{0, 4}, std::pair{4, 0}}) {
      TempFile f("zero_side.png");
      write_bytes(f.path, make_png(wh.first, wh.second, 8, 0, {}, false));
      CHECK_THROWS_AS(load_image(f.path), Error);
    }
  }
  SECTION("a small file declaring 100000x100000 (PNG) or 65535x65535 (JPEG's largest)") {
    TempFile f("vast.png");
    write_bytes(f.path, make_png(100000, 100000, 8, 2, {}, false));
    // stb's header scan itself refuses PNGs over 2^30 bytes of pixels, before our size check.
    check_refused(f.path, "not a readable JPEG, PNG or BMP image (unknown image type)");
    Bytes b = jpeg;
    set_be16(b, sof_offset(b) + 5, 65535);
    set_be16(b, sof_offset(b) + 7, 65535);
    TempFile g("vast.jpg");
    write_bytes(g.path, b);
    check_refused(g.path, "65535x65535");
  }
  SECTION("a JPEG scan that uses a table no segment defines (stb would decode with heap garbage)") {
    std::size_t sos = 0;
    while (sos + 1 < jpeg.size() && !(jpeg[sos] == 0xFF && jpeg[sos + 1] == 0xDA)) ++sos;
    REQUIRE(sos + 6 < jpeg.size());
    Bytes ac = jpeg;
    ac[sos + 6] = 0x02;  // first scan component: DC table 0 (defined), AC table 2 (stb defines 0 and 1)
    TempFile f("undefined_ac.jpg");
    write_bytes(f.path, ac);
    check_refused(f.path, "JPEG scan (SOS at byte " + std::to_string(sos) + ") uses AC Huffman table 2, which no "
                          "segment before it defines");
    Bytes quant = jpeg;
    quant[sof_offset(quant) + 12] = 3;  // first frame component's quantisation table
    TempFile g("undefined_quant.jpg");
    write_bytes(g.path, quant);
    check_refused(g.path, "uses quantisation table 3, which no segment before it defines");
  }
  SECTION("a JPEG and a PNG truncated at every length: refused or decoded, never a crash") {
    // Run under -DSPDINFER_SANITIZE=ON (scripts/test does): an out-of-bounds read is a report.
    const Bytes png = make_png(5, 3, 8, 2, std::vector<std::uint16_t>(45, 200));
    for (const Bytes* whole : {&jpeg, &png}) {
      TempFile f("cut.img");
      for (std::size_t n = 1; n < whole->size(); ++n) {
        CAPTURE(n);
        write_bytes(f.path, Bytes(whole->begin(), whole->begin() + static_cast<std::ptrdiff_t>(n)));
        try {
          const Image img = load_image(f.path);
          CHECK(img.pixels.size() == std::size_t(img.width) * img.height * 3);
        } catch (const Error& e) {
          CHECK(std::string(e.what()).rfind(f.path + ": ", 0) == 0);
        }
      }
    }
  }
}

TEST_CASE("StbAllocationLimit refuses larger stb allocations while alive, on its thread only", "[image]") {
  const Bytes png = make_png(64, 64, 8, 2, std::vector<std::uint16_t>(64 * 64 * 3, 7));
  const auto decode = [&png] {
    int w = 0, h = 0, c = 0;
    stbi_uc* pixels = stbi_load_from_memory(png.data(), static_cast<int>(png.size()), &w, &h, &c, 3);
    const bool ok = pixels != nullptr;
    stbi_image_free(pixels);
    return ok;
  };
  {
    const spdinfer::StbAllocationLimit limit(1000);  // below the 64x64x3 output alone
    CHECK_FALSE(limit.exceeded());
    CHECK_FALSE(decode());
    CHECK(limit.exceeded());
    bool other_thread = false;
    std::thread([&] { other_thread = decode(); }).join();
    CHECK(other_thread);
  }
  CHECK(decode());  // no limit once it is gone
  {
    const spdinfer::StbAllocationLimit limit(1 << 20);
    CHECK(decode());
    CHECK_FALSE(limit.exceeded());
  }
}

TEST_CASE("image extensions", "[image]") {
  for (const char* yes : {"a.jpg", "b.JPEG", "dir.x/c.Png", "d.bmp"}) CHECK(has_image_extension(yes));
  for (const char* no : {"a.txt", "jpg", "dir.jpg/readme", "e.gif", "f.webp", ".hidden"}) {
    CAPTURE(no);
    CHECK_FALSE(has_image_extension(no));
  }
}
