// Model-file reader (engine/model_file.h): files built byte by byte in memory. A valid file with F32
// and F16 tensors reads back exactly (the half conversion itself is tested in test_half.cpp); one
// crafted bad file per container rule is refused with a message naming the file and the problem;
// reading from disk (a temporary file, a missing path, a directory, /dev/null); and a byte-flip / truncation sweep in which every variant either parses or
// throws spdinfer::Error, never anything else.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/half.h"
#include "engine/model_file.h"

using namespace spdinfer;
using Catch::Matchers::Contains;

namespace {

using Bytes = std::vector<std::uint8_t>;

const std::string kPath = "crafted/model.spd";
const std::string kMeta = R"("__metadata__": {"format": "spdinfer", "format_version": "1"})";

// The container: 8-byte little-endian header length, the header, the data section.
Bytes make_file(const std::string& header, const Bytes& data = {}) {
  // Sized once: GCC 12 misreads the growth of an 8-byte vector by insert as an overrun
  // (-Warray-bounds).
  Bytes out;
  out.reserve(8 + header.size() + data.size());
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// A header object with the spdinfer metadata and `entries` ("name": {...}, ...).
std::string with_meta(const std::string& entries) {
  return "{" + kMeta + (entries.empty() ? "" : ", " + entries) + "}";
}

// One tensor entry of the header.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\": {\"dtype\": \"" + dtype + "\", \"shape\": " + shape +
         ", \"data_offsets\": " + offsets + "}";
}

// A file whose one tensor 'w' has the given header entry and `data_bytes` of zeros.
Bytes file_w(const std::string& dtype, const std::string& shape, const std::string& offsets,
             std::size_t data_bytes = 4) {
  return make_file(with_meta(entry("w", dtype, shape, offsets)), Bytes(data_bytes));
}

// A file with F32 tensors 'a' and `name`, and `data_bytes` of zeros.
Bytes file_a_and(const std::string& a_shape, const std::string& a_offsets, const std::string& name,
                 const std::string& shape, const std::string& offsets, std::size_t data_bytes) {
  return make_file(
      with_meta(entry("a", "F32", a_shape, a_offsets) + ", " + entry(name, "F32", shape, offsets)),
      Bytes(data_bytes));
}

ModelFile parse(const Bytes& b, bool require_spdinfer_metadata = true) {
  return parse_model_file(kPath, b.data(), b.size(), require_spdinfer_metadata);
}

Bytes f32_bytes(const std::vector<float>& v) {
  Bytes b(4 * v.size());
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

Bytes f16_bytes(const std::vector<std::uint16_t>& v) {
  Bytes b;
  for (std::uint16_t h : v) {
    b.push_back(static_cast<std::uint8_t>(h & 0xFF));
    b.push_back(static_cast<std::uint8_t>(h >> 8));
  }
  return b;
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Refused with spdinfer::Error naming the file and `problem`.
#define REQUIRE_REFUSED(bytes, problem)                                      \
  do {                                                                       \
    REQUIRE_THROWS_AS(parse(bytes), Error);                                  \
    REQUIRE_THROWS_WITH(parse(bytes), Contains(kPath) && Contains(problem)); \
  } while (false)

}  // namespace

TEST_CASE("I8 tensors are widened to float exactly, -128..127", "[model_file]") {
  const Bytes data = {0x00, 0x01, 0x7F, 0x80, 0x81, 0xFF};
  const ModelFile file = parse(make_file(with_meta(entry("q", "I8", "[2, 3]", "[0, 6]")), data));
  REQUIRE(file.tensors.size() == 1);
  CHECK(file.tensors[0].dtype == "I8");
  const Tensor& q = file.weights.at("q");
  REQUIRE(q.shape() == Shape{2, 3});
  const float expected[] = {0, 1, 127, -128, -127, -1};
  for (int i = 0; i < 6; ++i) CHECK(q[i] == expected[i]);
}

TEST_CASE("a valid file with F32 and F16 tensors reads back exactly", "[model_file]") {
  const std::vector<float> f32 = {1.5f,
                                  -0.0f,
                                  std::numeric_limits<float>::denorm_min(),
                                  std::numeric_limits<float>::infinity(),
                                  std::nanf(""),
                                  -3.25e38f};
  const std::vector<std::uint16_t> f16 = {0x3C00, 0xC000, 0x0001, 0x03FF, 0x7C00, 0xFC00, 0x7E00, 0x8000};
  const std::string header =
      "{" + entry("conv.weight", "F32", "[2, 3]", "[0, 24]") + ", " +
      entry("bn.bias", "F16", "[8]", "[24, 40]") + ", " + entry("scale", "F32", "[]", "[40, 44]") +
      R"(, "__metadata__": {"format": "spdinfer", "format_version": "1", "family": "resnet_spd",
          "architecture": "{\"spd\": true, \"stage_blocks\": [3, 4]}",
          "class_names": "[\"cat\", \"\u00e9t\u00e9\"]"}})";
  const ModelFile file =
      parse(make_file(header, concat(concat(f32_bytes(f32), f16_bytes(f16)), f32_bytes({7}))));

  CHECK(file.path == kPath);
  CHECK(file.meta("family") == "resnet_spd");
  CHECK(file.meta("architecture") == R"({"spd": true, "stage_blocks": [3, 4]})");
  CHECK(file.meta("class_names") == "[\"cat\", \"\xC3\xA9t\xC3\xA9\"]");
  CHECK(file.metadata.size() == 5);
  REQUIRE_THROWS_WITH(file.meta("preprocess"), Contains(kPath) && Contains("no 'preprocess'"));

  // File order is data order.
  REQUIRE(file.tensors.size() == 3);
  CHECK(file.tensors[0].name == "conv.weight");
  CHECK(file.tensors[0].dtype == "F32");
  CHECK(file.tensors[0].shape == Shape{2, 3});
  CHECK(file.tensors[1].name == "bn.bias");
  CHECK(file.tensors[1].dtype == "F16");
  CHECK(file.tensors[1].shape == Shape{8});
  CHECK(file.tensors[2].name == "scale");
  CHECK(file.tensors[2].shape == Shape{});
  REQUIRE(file.weights.size() == 3);

  const Tensor& w = file.weights.at("conv.weight");
  REQUIRE(w.shape() == Shape{2, 3});
  for (int i = 0; i < 6; ++i) {
    CAPTURE(i);
    CHECK(float_bits(w[i]) == float_bits(f32[i]));  // bit-exact, including -0 and NaN
  }
  const Tensor& b = file.weights.at("bn.bias");
  REQUIRE(b.shape() == Shape{8});
  CHECK(b[0] == 1.0f);
  CHECK(b[1] == -2.0f);
  CHECK(b[2] == std::ldexp(1.0f, -24));
  CHECK(b[3] == std::ldexp(1023.0f, -24));
  CHECK(b[4] == std::numeric_limits<float>::infinity());
  CHECK(b[5] == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(b[6]));
  CHECK(float_bits(b[7]) == 0x80000000u);
  for (int i = 0; i < 8; ++i) {
    CAPTURE(i);
    CHECK(float_bits(b[i]) == float_bits(half_to_float(f16[i])));
  }
  const Tensor& s = file.weights.at("scale");
  REQUIRE(s.numel() == 1);
  CHECK(s[0] == 7.0f);
}

TEST_CASE("zero-size tensors and files without tensors are accepted", "[model_file]") {
  SECTION("shape [0] between and after other tensors") {
    const ModelFile file = parse(make_file(
        with_meta(entry("a", "F32", "[1]", "[0, 4]") + ", " + entry("empty", "F32", "[0]", "[4, 4]") + ", " +
                  entry("b", "F16", "[1]", "[4, 6]") + ", " + entry("tail", "F16", "[3, 0]", "[6, 6]")),
        concat(f32_bytes({2}), f16_bytes({0x3C00}))));
    REQUIRE(file.weights.size() == 4);
    CHECK(file.weights.at("empty").numel() == 0);
    CHECK(file.weights.at("empty").shape() == Shape{0});
    CHECK(file.weights.at("tail").shape() == Shape{3, 0});
    CHECK(file.weights.at("a")[0] == 2.0f);
    CHECK(file.weights.at("b")[0] == 1.0f);
  }
  SECTION("a huge dimension times zero allocates nothing") {
    const ModelFile file =
        parse(make_file(with_meta(entry("z", "F32", "[0, 4611686018427387904]", "[0, 0]"))));
    CHECK(file.weights.at("z").numel() == 0);
  }
  SECTION("no tensors, valid metadata") {
    const ModelFile file = parse(make_file(with_meta("")));
    CHECK(file.tensors.empty());
    CHECK(file.weights.empty());
    CHECK(file.meta("format") == "spdinfer");
  }
  SECTION("no tensors and no metadata, when spdinfer metadata is not required") {
    const ModelFile file = parse(make_file("{}"), false);
    CHECK(file.tensors.empty());
    CHECK(file.metadata.empty());
  }
  SECTION("a golden dump with its own format name, when spdinfer metadata is not required") {
    const ModelFile file = parse(
        make_file(R"({"__metadata__": {"format": "golden"}, )" + entry("x", "F32", "[1]", "[0, 4]") + "}",
                  f32_bytes({5})),
        false);
    CHECK(file.weights.at("x")[0] == 5.0f);
  }
  SECTION("JSON whitespace padding after the header object") {
    const ModelFile file = parse(make_file(with_meta("") + "    \n"));
    CHECK(file.tensors.empty());
  }
}

TEST_CASE("the container framing is checked", "[model_file]") {
  SECTION("shorter than the 8-byte length") { REQUIRE_REFUSED((Bytes{1, 0, 0, 0, 0}), "5 bytes, too short"); }
  SECTION("empty") { REQUIRE_REFUSED(Bytes{}, "0 bytes, too short"); }
  SECTION("header length over the cap") {
    Bytes b = make_file(with_meta(""));
    const std::uint64_t n = kMaxHeaderBytes + 1;
    for (int i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(n >> (8 * i));
    REQUIRE_REFUSED(b, "header length " + std::to_string(n) + " exceeds");
    for (int i = 0; i < 8; ++i) b[i] = 0xFF;
    REQUIRE_REFUSED(b, "exceeds the " + std::to_string(kMaxHeaderBytes) + "-byte limit");
  }
  SECTION("a PyTorch checkpoint: how to convert it") {
    // torch.save since 1.6 (a zip archive) and before (a pickle starting with its magic number).
    const Bytes zip{'P', 'K', 3, 4, 20, 0, 0, 0, 8, 0}, legacy{0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9};
    for (const Bytes& b : {zip, legacy}) REQUIRE_REFUSED(b, "PyTorch checkpoint?), not a spdinfer model file");
    REQUIRE_REFUSED(zip, "python3 -m weights_tools.convert");
  }
  SECTION("header length past the end of the file") {
    Bytes b = make_file(with_meta(""));
    b[0] = static_cast<std::uint8_t>(b[0] + 1);
    REQUIRE_REFUSED(b, "runs past the end of the " + std::to_string(b.size()) + "-byte file");
  }
  SECTION("header not UTF-8") {
    // Stray continuation byte, truncated sequence, overlong '/', UTF-16 surrogate, above U+10FFFF, 0xFF.
    const std::string bad = GENERATE(as<std::string>{}, "\x80", "\xC3", "\xC0\xAF", "\xE0\x80\xAF",
                                     "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xF8\x88\x80\x80\x80", "\xFF");
    CAPTURE(bad);
    REQUIRE_REFUSED(make_file(with_meta(R"("name)" + bad + R"(": {})")), "header is not valid UTF-8");
  }
  SECTION("valid multi-byte UTF-8 is accepted") {
    const ModelFile file = parse(make_file(
        with_meta(entry("w\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", "F32", "[1]", "[0, 4]")), f32_bytes({1})));
    CHECK(file.weights.count("w\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80") == 1);
  }
  SECTION("header not JSON") { REQUIRE_REFUSED(make_file("{\"a\": [1, 2"), "header is not valid JSON"); }
  SECTION("header empty") { REQUIRE_REFUSED(make_file(""), "header is not valid JSON"); }
  SECTION("header JSON followed by garbage") {
    REQUIRE_REFUSED(make_file(with_meta("") + "x"), "header is not valid JSON");
  }
  SECTION("header JSON but an array") {
    REQUIRE_REFUSED(make_file(R"([{"format": "spdinfer"}])"), "header is not a JSON object");
  }
  SECTION("header JSON but a string") {
    REQUIRE_REFUSED(make_file(R"("spdinfer")"), "header is not a JSON object");
  }
}

TEST_CASE("tensor entries are checked", "[model_file]") {
  const Bytes four(4);
  SECTION("entry not an object") {
    REQUIRE_REFUSED(make_file(with_meta(R"("w": [0, 4])"), four),
                    "tensor 'w': header entry is not a JSON object");
  }
  SECTION("unknown dtype") {
    const std::string dtype = GENERATE(as<std::string>{}, "I64", "BF16", "F64", "f32", "");
    CAPTURE(dtype);
    REQUIRE_REFUSED(file_w(dtype, "[1]", "[0, 4]"), "tensor 'w': unsupported dtype '" + dtype + "'");
  }
  SECTION("dtype missing or not a string") {
    REQUIRE_REFUSED(make_file(with_meta(R"("w": {"shape": [1], "data_offsets": [0, 4]})"), four),
                    "tensor 'w': missing or non-string dtype");
    REQUIRE_REFUSED(make_file(with_meta(R"("w": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]})"), four),
                    "tensor 'w': missing or non-string dtype");
  }
  SECTION("shape not a list") {
    REQUIRE_REFUSED(file_w("F32", "1", "[0, 4]"), "tensor 'w': missing or non-list shape");
    REQUIRE_REFUSED(make_file(with_meta(R"("w": {"dtype": "F32", "data_offsets": [0, 4]})"), four),
                    "tensor 'w': missing or non-list shape");
  }
  SECTION("negative dimension") {
    REQUIRE_REFUSED(file_w("F32", "[-1]", "[0, 4]"),
                    "tensor 'w': shape dimension 0 is -1, not a non-negative integer");
  }
  SECTION("non-integer dimension") {
    // The dimension as written, as the message shows it.
    const auto [dim, shown] = GENERATE(table<std::string, std::string>({{"1.0", "1.0"},
                                                                        {"1e3", "1000.0"},
                                                                        {"\"1\"", "\"1\""},
                                                                        {"null", "null"},
                                                                        {"true", "true"},
                                                                        {"[1]", "a list"},
                                                                        {"{}", "an object"}}));
    CAPTURE(dim);
    REQUIRE_REFUSED(file_w("F32", "[1, " + dim + "]", "[0, 4]"),
                    "tensor 'w': shape dimension 1 is " + shown + ", not a non-negative integer");
  }
  SECTION("deeply nested dimension") {
    // Refused while parsing, by the header's depth limit (kHeaderJsonLimits), before any
    // recursive copy or message could see 200000 levels.
    const std::string dim = std::string(200000, '[') + std::string(200000, ']');
    REQUIRE_REFUSED(file_w("F32", "[" + dim + "]", "[0, 4]"), "header nests more than 8 levels deep");
    const std::string shallow = "[[[1]]]";
    REQUIRE_REFUSED(file_w("F32", "[" + shallow + "]", "[0, 4]"),
                    "tensor 'w': shape dimension 0 is a list, not a non-negative integer");
  }
  SECTION("too many dimensions") {
    REQUIRE_REFUSED(file_w("F32", "[1, 1, 1, 1, 1, 1, 1, 1, 1]", "[0, 4]"),
                    "tensor 'w': shape has 9 dimensions");
  }
  SECTION("dimension beyond int64") {
    REQUIRE_REFUSED(file_w("F32", "[9223372036854775808]", "[0, 4]"),
                    "tensor 'w': shape dimension 9223372036854775808 is too large");
  }
  SECTION("shape product overflows, refused without allocating") {
    REQUIRE_REFUSED(file_w("F32", "[4294967296, 4294967296, 16]", "[0, 4]"),
                    "tensor 'w': shape (4294967296, 4294967296, 16) overflows");
    // Fits int64 as elements, not as bytes.
    REQUIRE_REFUSED(file_w("F32", "[9223372036854775807]", "[0, 4]"),
                    "tensor 'w': shape (9223372036854775807) overflows");
  }
  SECTION("huge shape with matching offsets past the data, refused without allocating") {
    REQUIRE_REFUSED(
        file_w("F32", "[1099511627776]", "[0, 4398046511104]"),
        "tensor 'w': data_offsets [0, 4398046511104] run past the end of the 4-byte data section");
  }
  SECTION("shape and data_offsets disagree on the size") {
    REQUIRE_REFUSED(file_w("F32", "[2, 3]", "[0, 20]", 20),
                    "tensor 'w': shape (2, 3) of F32 needs 24 bytes, data_offsets span 20");
    REQUIRE_REFUSED(file_w("F16", "[3]", "[0, 12]", 12),
                    "tensor 'w': shape (3) of F16 needs 6 bytes, data_offsets span 12");
    REQUIRE_REFUSED(file_w("I8", "[2, 3]", "[0, 12]", 12),
                    "tensor 'w': shape (2, 3) of I8 needs 6 bytes, data_offsets span 12");
    REQUIRE_REFUSED(file_w("I8", "[5]", "[0, 4]", 4), "tensor 'w': shape (5) of I8 needs 5 bytes, data_offsets span 4");
  }
  SECTION("data_offsets malformed") {
    const std::string offsets = GENERATE(as<std::string>{}, "[0]", "[0, 4, 8]", "[-1, 4]", "[0, 4.0]",
                                         "\"0-4\"", "[0, 18446744073709551616]", "{}");
    CAPTURE(offsets);
    REQUIRE_REFUSED(file_w("F32", "[1]", offsets), "tensor 'w': data_offsets must be [begin, end]");
  }
  SECTION("data_offsets end before begin") {
    REQUIRE_REFUSED(file_w("F32", "[1]", "[8, 4]", 8),
                    "tensor 'w': data_offsets [8, 4] end before they begin");
  }
  SECTION("unknown field in a tensor entry") {
    REQUIRE_REFUSED(
        make_file(with_meta(R"("w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "strides": [1]})"),
                  four),
        "tensor 'w': unknown header field 'strides'");
  }
  SECTION("a field twice in a tensor entry") {
    REQUIRE_REFUSED(
        make_file(with_meta(R"("w": {"dtype": "F32", "shape": [1], "shape": [2], "data_offsets": [0, 4]})"),
                  four),
        "tensor 'w': field 'shape' appears twice");
  }
  SECTION("duplicate tensor names") {
    REQUIRE_REFUSED(
        make_file(with_meta(entry("w", "F32", "[1]", "[0, 4]") + ", " + entry("w", "F32", "[1]", "[4, 8]")),
                  Bytes(8)),
        "tensor 'w' appears twice in the header");
  }
}

TEST_CASE("the data layout is checked", "[model_file]") {
  SECTION("offsets not starting at 0") {
    REQUIRE_REFUSED(file_w("F32", "[1]", "[4, 8]", 8), "tensor 'w': data starts at 4, expected 0");
  }
  SECTION("a gap between tensors") {
    REQUIRE_REFUSED(file_a_and("[1]", "[0, 4]", "b", "[1]", "[8, 12]", 12),
                    "tensor 'b': data starts at 8, expected 4");
  }
  SECTION("overlapping tensors") {
    REQUIRE_REFUSED(file_a_and("[2]", "[0, 8]", "b", "[2]", "[4, 12]", 12),
                    "tensor 'b': data overlaps tensor 'a'");
  }
  SECTION("two tensors on the same bytes") {
    REQUIRE_REFUSED(file_a_and("[1]", "[0, 4]", "b", "[1]", "[0, 4]", 4), "data overlaps tensor '");
  }
  SECTION("a zero-size tensor inside another") {
    REQUIRE_REFUSED(file_a_and("[2]", "[0, 8]", "e", "[0]", "[4, 4]", 8), "data overlaps tensor '");
  }
  SECTION("offsets out of bounds") {
    REQUIRE_REFUSED(file_w("F32", "[2]", "[0, 8]", 4),
                    "tensor 'w': data_offsets [0, 8] run past the end of the 4-byte data section");
    REQUIRE_REFUSED(file_w("F32", "[0]", "[8, 8]", 4),
                    "tensor 'w': data_offsets [8, 8] run past the end of the 4-byte data section");
  }
  SECTION("trailing bytes after the last tensor") {
    REQUIRE_REFUSED(file_w("F32", "[1]", "[0, 4]", 7), "3 trailing bytes after the last tensor");
    REQUIRE_REFUSED(make_file(with_meta(""), Bytes(2)), "2 trailing bytes after the last tensor");
  }
}

TEST_CASE("the metadata is checked", "[model_file]") {
  SECTION("non-string metadata value") {
    REQUIRE_REFUSED(make_file(R"({"__metadata__": {"format": "spdinfer", "format_version": 1}})"),
                    "metadata 'format_version' is 1, not a string");
  }
  SECTION("__metadata__ not an object") {
    REQUIRE_REFUSED(make_file(R"({"__metadata__": "spdinfer"})"), "__metadata__ is not a JSON object");
  }
  SECTION("__metadata__ twice") {
    REQUIRE_REFUSED(make_file("{" + kMeta + ", " + kMeta + "}"),
                    "'__metadata__' appears twice in the header");
  }
  SECTION("a metadata key twice") {
    REQUIRE_REFUSED(
        make_file(R"({"__metadata__": {"format": "spdinfer", "format_version": "1", "format": "x"}})"),
        "metadata 'format' appears twice");
  }
  SECTION("missing format") {
    REQUIRE_REFUSED(make_file(R"({"__metadata__": {"format_version": "1"}})"),
                    "not a spdinfer model file (metadata has no 'format')");
    REQUIRE_REFUSED(make_file("{}"), "not a spdinfer model file (metadata has no 'format')");
  }
  SECTION("wrong format name") {
    REQUIRE_REFUSED(make_file(R"({"__metadata__": {"format": "pt", "format_version": "1"}})"),
                    "not a spdinfer model file (metadata 'format' is 'pt', expected 'spdinfer')");
  }
  SECTION("unknown format_version") {
    REQUIRE_REFUSED(make_file(R"({"__metadata__": {"format": "spdinfer", "format_version": "3"}})"),
                    "unknown model format version '3' (this spdinfer reads versions 1 and 2)");
    // A newer file is refused by its version before any tensor of an unknown dtype is judged.
    REQUIRE_REFUSED(make_file(R"({"__metadata__": {"format": "spdinfer", "format_version": "3"}, )" +
                              entry("w", "Q4", "[2]", "[0, 1]") + "}", Bytes(1)),
                    "unknown model format version '3'");
    REQUIRE_REFUSED(make_file(R"({"__metadata__": {"format": "spdinfer"}})"),
                    "unknown model format version '(none)'");
  }
  SECTION("version 2 is the int8 format: with metadata 'quantization', and only then") {
    REQUIRE_REFUSED(make_file(R"({"__metadata__": {"format": "spdinfer", "format_version": "2"}})"),
                    "format version 2 (an int8 model) without metadata 'quantization'");
    REQUIRE_REFUSED(
        make_file(R"({"__metadata__": {"format": "spdinfer", "format_version": "1", "quantization": "{}"}})"),
        "metadata 'quantization' in a format version 1 file (an int8 model is version 2)");
    CHECK(parse(make_file(R"({"__metadata__": {"format": "spdinfer", "format_version": "2", "quantization": "{}"}})"))
              .tensors.empty());
  }
}

TEST_CASE("model files are read from disk", "[model_file]") {
  namespace fs = std::filesystem;
  SECTION("a temporary file") {
    struct TempFile {
      fs::path path = fs::temp_directory_path() /
                      ("spdinfer_test_model_file_" + std::to_string(std::random_device{}()) + ".spd");
      ~TempFile() {
        std::error_code ec;
        fs::remove(path, ec);
      }
    } temp;
    const std::string path = temp.path.string();
    const Bytes bytes = make_file(with_meta(entry("w", "F16", "[2]", "[0, 4]")), f16_bytes({0x3C00, 0xBC00}));
    {
      std::ofstream out(path, std::ios::binary);
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
    ModelFile file, golden;
    REQUIRE_NOTHROW(file = read_model_file(path));
    REQUIRE_NOTHROW(golden = read_safetensors(path));
    CHECK(file.path == path);
    REQUIRE(file.weights.count("w") == 1);
    CHECK(file.weights.at("w")[0] == 1.0f);
    CHECK(file.weights.at("w")[1] == -1.0f);
    CHECK(golden.weights.at("w")[1] == -1.0f);
  }
  SECTION("a nonexistent path") {
    const std::string path = "/nonexistent/spdinfer/model.spd";
    REQUIRE_THROWS_AS(read_model_file(path), Error);
    REQUIRE_THROWS_WITH(read_model_file(path),
                        Contains(path) && Contains("cannot open") && Contains("No such file"));
  }
  SECTION("a directory") {
    const std::string path = fs::temp_directory_path().string();
    REQUIRE_THROWS_AS(read_model_file(path), Error);
    REQUIRE_THROWS_WITH(read_model_file(path), Contains(path) && Contains("not a regular file"));
  }
  SECTION("/dev/null") {
    REQUIRE_THROWS_AS(read_model_file("/dev/null"), Error);
    REQUIRE_THROWS_WITH(read_model_file("/dev/null"),
                        Contains("/dev/null") && Contains("not a regular file"));
  }
}

TEST_CASE("every flipped byte and every truncation parses or throws spdinfer::Error", "[model_file]") {
  const Bytes valid =
      make_file(with_meta(entry("a", "F32", "[2]", "[0, 8]") + ", " + entry("b", "F16", "[1, 3]", "[8, 14]") +
                          ", " + entry("e", "F16", "[0]", "[14, 14]")),
                concat(f32_bytes({1, -2}), f16_bytes({0x3C00, 0x0001, 0x7E00})));
  REQUIRE_NOTHROW(parse(valid));

  int parsed = 0, refused = 0, other = 0;
  auto attempt = [&](const Bytes& b, const std::string& variant) {
    try {
      const ModelFile file = parse(b);
      CHECK(file.weights.size() == file.tensors.size());
      ++parsed;
    } catch (const Error& e) {
      if (std::string(e.what()).find(kPath + ": ") != 0)
        FAIL_CHECK(variant << ": message without the path: " << e.what());
      ++refused;
    } catch (const std::exception& e) {
      if (++other <= 5) FAIL_CHECK(variant << ": non-spdinfer exception: " << e.what());
    }
  };
  for (int mask : {0xFF, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80})
    for (std::size_t i = 0; i < valid.size(); ++i) {
      Bytes b = valid;
      b[i] ^= static_cast<std::uint8_t>(mask);
      attempt(b, "byte " + std::to_string(i) + " ^ " + std::to_string(mask));
    }
  for (std::size_t n = 0; n < valid.size(); ++n) {
    Bytes b(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(n));
    attempt(b, "truncated to " + std::to_string(n));
  }
  CHECK(other == 0);
  CHECK(refused > 0);
  CHECK(parsed > 0);  // flips in the tensor data still parse
  // Every truncation is refused.
  for (std::size_t n = 0; n < valid.size(); ++n)
    REQUIRE_THROWS_AS(parse(Bytes(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(n))), Error);
}
