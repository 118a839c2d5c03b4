// Model-file writer (engine/model_file_writer.h): what it writes, the reader reads back exactly
// (F32, F16, I8 and metadata), atomically under the destination's name, and its refusals.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "engine/error.h"
#include "engine/model_file.h"
#include "engine/model_file_writer.h"
#include "tests/temp_dir.h"

using namespace spdinfer;
using Catch::Matchers::Contains;

namespace {

Tensor values(Shape shape, std::initializer_list<float> v) {
  Tensor t(std::move(shape));
  int64_t i = 0;
  for (float x : v) t[i++] = x;
  return t;
}

}  // namespace

TEST_CASE("the writer's F32, F16 and I8 tensors and metadata read back exactly", "[model_file]") {
  testing::TempDir dir;
  const std::string path = (dir.path / "m.safetensors").string();
  const Tensor a = values({2, 2}, {1.5f, -0.0f, 3.0e-39f, std::numeric_limits<float>::max()});
  // Halves: exact values, the smallest subnormal, the largest finite, an infinity.
  const Tensor h = values({5}, {0.333251953125f, -2.0f, 5.9604644775390625e-08f, 65504.0f, -INFINITY});
  const std::vector<std::int8_t> q = {-127, -1, 0, 1, 127, 42};
  write_safetensors(path, {{"format", "spdinfer"}, {"format_version", "1"}, {"note", "caf\xc3\xa9"}},
                    {f32_tensor("a", a), f16_tensor("h", h), i8_tensor("q", {3, 2}, q), f32_tensor("e", Tensor({0}))});
  const ModelFile file = read_model_file(path);
  CHECK(file.metadata.at("note") == "caf\xc3\xa9");
  REQUIRE(file.tensors.size() == 4);
  CHECK(file.tensors[0].name == "a");
  CHECK(file.tensors[1].dtype == "F16");
  CHECK(file.tensors[2].dtype == "I8");
  for (int i = 0; i < 4; ++i) CHECK(std::memcmp(file.weights.at("a").data() + i, a.data() + i, 4) == 0);
  for (int i = 0; i < 5; ++i) CHECK(file.weights.at("h")[i] == h[i]);
  REQUIRE(file.weights.at("q").shape() == Shape{3, 2});
  for (int i = 0; i < 6; ++i) CHECK(file.weights.at("q")[i] == q[static_cast<std::size_t>(i)]);
  CHECK(file.weights.at("e").numel() == 0);
  // Nothing but the file itself is left in the folder.
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) entries += e.is_regular_file();
  CHECK(entries == 1);
}

TEST_CASE("F16 writing rounds to nearest even", "[model_file]") {
  testing::TempDir dir;
  const std::string path = (dir.path / "h.safetensors").string();
  // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: even is 1. 1 + 3 * 2^-11: up to 1 + 2^-9.
  // 65520 rounds past the largest half: infinity. 2^-25 is half the smallest subnormal: 0.
  const Tensor t = values({5}, {1.00048828125f, 1.00146484375f, 65520.0f, 2.98023223876953125e-08f, 1e-30f});
  write_safetensors(path, {}, {f16_tensor("t", t)});
  const ModelFile file = read_safetensors(path);
  const Tensor& r = file.weights.at("t");
  CHECK(r[0] == 1.0f);
  CHECK(r[1] == 1.001953125f);
  CHECK(std::isinf(r[2]));
  CHECK(r[3] == 0.0f);
  CHECK(r[4] == 0.0f);
}

TEST_CASE("the writer refuses what it cannot write, naming the file", "[model_file]") {
  testing::TempDir dir;
  const std::string path = (dir.path / "bad.safetensors").string();
  const Tensor t = values({1}, {1.0f});
  REQUIRE_THROWS_WITH(write_safetensors(path, {}, {f32_tensor("x", t), f32_tensor("x", t)}),
                      Contains(path) && Contains("tensor 'x' written twice"));
  REQUIRE_THROWS_WITH(write_safetensors(path, {}, {TensorToWrite{"x", "I4", {1}, {0}}}),
                      Contains(path) && Contains("cannot write dtype 'I4'"));
  REQUIRE_THROWS_WITH(write_safetensors(path, {}, {TensorToWrite{"x", "F32", {2}, {0, 0, 0, 0}}}),
                      Contains(path) && Contains("4 bytes for shape (2) of F32"));
  REQUIRE_THROWS_WITH(i8_tensor("x", {2, 2}, {1, 2, 3}), Contains("3 values for shape (2, 2)"));
  const std::string missing = (dir.path / "no" / "such" / "m.safetensors").string();
  REQUIRE_THROWS_WITH(write_safetensors(missing, {}, {f32_tensor("x", t)}),
                      Contains(missing) && Contains("cannot write"));
  CHECK_FALSE(std::filesystem::exists(path));
}
