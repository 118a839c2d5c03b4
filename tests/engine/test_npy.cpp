// .npy I/O: round trips for several ranks, and malformed files refused with
// a message naming the file.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "engine/error.h"
#include "engine/npy.h"
#include "test_util.h"

using namespace spdinfer;

namespace {

std::string temp_path(const std::string& name) { return "/tmp/spdinfer_test_npy_" + name + ".npy"; }

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string npy_header(const std::string& dict) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  return std::string("\x93NUMPY\x01\x00", 8) + char(h.size() & 0xFF) + char(h.size() >> 8) + h;
}

}  // namespace

TEST_CASE("npy: write then read gives the same tensor", "[npy]") {
  const Shape shape = GENERATE(Shape{7}, Shape{2, 3}, Shape{1, 3, 5, 4}, Shape{2, 1, 1, 1, 3});
  CAPTURE(shape_to_string(shape));
  Tensor t = spdinfer::testing::random_tensor(shape, 3);
  const std::string path = temp_path("roundtrip");
  write_npy(path, t);
  Tensor back = read_npy(path);
  CHECK(back.shape() == shape);
  CHECK(spdinfer::testing::compare_tensors(back, t, 0, 0).empty());
  std::remove(path.c_str());
}

TEST_CASE("npy: float64 input is narrowed", "[npy]") {
  const std::string path = temp_path("f8");
  double values[2] = {1.5, -2.25};
  write_bytes(path, npy_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }") +
                        std::string(reinterpret_cast<const char*>(values), sizeof values));
  Tensor t = read_npy(path);
  CHECK(t.shape() == Shape{2});
  CHECK(t[0] == 1.5f);
  CHECK(t[1] == -2.25f);
  std::remove(path.c_str());
}

TEST_CASE("npy: malformed files are refused naming the file", "[npy]") {
  const std::string path = temp_path("bad");
  auto refused = [&](const std::string& bytes, const std::string& what) {
    write_bytes(path, bytes);
    CHECK_THROWS_WITH(read_npy(path), Catch::Contains(path) && Catch::Contains(what));
  };
  refused("not numpy at all", "bad magic");
  refused(npy_header("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }") + "abcd", "not supported");
  refused(npy_header("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }") + "abcd", "Fortran");
  refused(npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }") + "abcd", "needs 12");
  refused(npy_header("{'descr': '<f4', 'fortran_order': False, }") + "abcd", "no 'shape'");
  refused(std::string("\x93NUMPY\x01\x00\xff", 9), "truncated");
  std::remove(path.c_str());
  CHECK_THROWS_WITH(read_npy("/nonexistent/x.npy"), Catch::Contains("/nonexistent/x.npy"));
}
