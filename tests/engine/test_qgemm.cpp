// The int8 GEMM (engine/kernels/qgemm.h), every family this CPU has, against the reference, bit
// for bit: sizes around each kernel's panels (partial row panels, column tails, K not a multiple
// of 4, K = 1, one and several blocks of k), leading dimensions wider than the product (nothing
// written outside it), accumulation, the extreme values (-127 * 255 everywhere), products split
// by rows between calls, and which family the engine picks. A family the CPU lacks is skipped with
// a line naming what it lacks.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "engine/error.h"
#include "engine/kernels/cpu_features.h"
#include "engine/kernels/qgemm.h"

using namespace spdinfer;

namespace {

// n values uniform in [lo, hi], reproducible from the seed.
template <typename T>
std::vector<T> random_values(int64_t n, std::uint32_t seed, int32_t lo, int32_t hi) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(lo, hi);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (T& x : v) x = static_cast<T>(dist(rng));
  return v;
}
// A's weights in [-127, 127]; B's activations q + 128 for q in [-127, 127].
std::vector<int8_t> random_weights(int64_t n, std::uint32_t seed) { return random_values<int8_t>(n, seed, -127, 127); }
std::vector<uint8_t> random_activations(int64_t n, std::uint32_t seed) {
  return random_values<uint8_t>(n, seed, 1, 255);
}

// The family's kernel, or null (after a line saying why) when this CPU lacks it.
const QgemmKernel* kernel_if_supported(QgemmFamily family) {
  const char* missing = nullptr;
  if (qgemm_supported(family, &missing)) return &qgemm_kernel(family);
  WARN("skipped: this CPU lacks " << missing << " for the " << qgemm_kernel(family).name
                                  << " int8 kernel (it has: " << cpu_feature_list(cpu_features()) << ")");
  return nullptr;
}

// Elements of C (M x ldc) that differ from `want`, with the first few named.
int count_wrong(const std::vector<int32_t>& got, const std::vector<int32_t>& want, int64_t M, int64_t ldc) {
  int wrong = 0;
  for (int64_t r = 0; r < M; ++r)
    for (int64_t n = 0; n < ldc; ++n)
      if (got[r * ldc + n] != want[r * ldc + n] && ++wrong <= 5)
        FAIL_CHECK("C[" << r << "][" << n << "] = " << got[r * ldc + n] << ", want " << want[r * ldc + n]);
  return wrong;
}

// qgemm against the reference for one product of random operands.
void check_product(const QgemmKernel& kernel, int64_t M, int64_t N, int64_t K, int64_t pad, bool accumulate,
                   std::uint32_t seed) {
  const int64_t lda = K + pad, ldb = N + 2 * pad, ldc = N + pad;
  const auto a = random_weights(M * lda, seed);
  const auto b = random_activations(K * ldb, seed + 1);
  std::vector<int32_t> got = random_values<int32_t>(M * ldc, seed + 2, -1000000, 1000000), want = got;
  qgemm(kernel, M, N, K, a.data(), lda, b.data(), ldb, got.data(), ldc, accumulate);
  qgemm_reference(M, N, K, a.data(), lda, b.data(), ldb, want.data(), ldc, accumulate);
  CHECK(count_wrong(got, want, M, ldc) == 0);
}

}  // namespace

TEST_CASE("qgemm matches the reference bit for bit in every family", "[qgemm]") {
  const QgemmFamily family = GENERATE(QgemmFamily::Generic, QgemmFamily::Avx2, QgemmFamily::AvxVnni,
                                      QgemmFamily::Avx512Vnni);
  const int64_t M = GENERATE(1, 3, 8, 13, 37);
  const int64_t N = GENERATE(1, 5, 16, 47, 49, 100);
  const int64_t K = GENERATE(1, 3, 4, 7, 515, 1030);
  const bool accumulate = GENERATE(false, true);
  const QgemmKernel* kernel = kernel_if_supported(family);
  if (!kernel) return;
  CAPTURE(kernel->name, M, N, K, accumulate);
  check_product(*kernel, M, N, K, 3, accumulate, 1);
}

TEST_CASE("qgemm with few columns: every width up to a panel and past it", "[qgemm]") {
  // A deep layer's small plane gives 1..16 columns, which the wide kernels run with fewer vectors.
  const QgemmFamily family = GENERATE(QgemmFamily::Generic, QgemmFamily::Avx2, QgemmFamily::AvxVnni,
                                      QgemmFamily::Avx512Vnni);
  const QgemmKernel* kernel = kernel_if_supported(family);
  if (!kernel) return;
  for (int64_t N = 1; N <= 50; ++N) {
    CAPTURE(kernel->name, N);
    check_product(*kernel, 19, N, 1030, 2, N % 2 == 0, 9);
  }
}

TEST_CASE("qgemm over large products: many panels and blocks of k", "[qgemm]") {
  const QgemmFamily family = GENERATE(QgemmFamily::Generic, QgemmFamily::Avx2, QgemmFamily::AvxVnni,
                                      QgemmFamily::Avx512Vnni);
  const QgemmKernel* kernel = kernel_if_supported(family);
  if (!kernel) return;
  CAPTURE(kernel->name);
  check_product(*kernel, 70, 333, 2311, 0, false, 4);
}

TEST_CASE("qgemm is exact at the extremes of int8 and of its depth", "[qgemm]") {
  const QgemmFamily family = GENERATE(QgemmFamily::Generic, QgemmFamily::Avx2, QgemmFamily::AvxVnni,
                                      QgemmFamily::Avx512Vnni);
  const QgemmKernel* kernel = kernel_if_supported(family);
  if (!kernel) return;
  // Every product -127 * (255 - 128) or 127 * (1 - 128): with vpmaddubsw these pairs would
  // saturate int16; over K = 130000 the unsigned partial sums pass 2^31 while the result fits.
  const int64_t M = 9, N = 17, K = 130000;
  for (const auto& [w, x] : {std::pair<int8_t, uint8_t>{-127, 255}, {127, 1}, {127, 255}, {-127, 1}}) {
    CAPTURE(kernel->name, int{w}, int{x});
    const std::vector<int8_t> a(M * K, w);
    const std::vector<uint8_t> b(K * N, x);
    std::vector<int32_t> got(M * N), want(M * N);
    qgemm(*kernel, M, N, K, a.data(), K, b.data(), N, got.data(), N);
    qgemm_reference(M, N, K, a.data(), K, b.data(), N, want.data(), N);
    CHECK(want[0] == int64_t{w} * (int64_t{x} - 128) * K);
    CHECK(count_wrong(got, want, M, N) == 0);
  }
}

TEST_CASE("qgemm_packed gives the same bits however the rows are split", "[qgemm]") {
  const QgemmKernel& kernel = qgemm_kernel();
  const int64_t M = 45, N = 61, K = 77;
  const auto a = random_weights(M * K, 6);
  const auto b = random_activations(K * N, 7);
  const QgemmPackedA packed(kernel, a.data(), M, K, K);
  std::vector<uint8_t> pb(qgemm_packed_b_bytes(kernel, K, N));
  qgemm_pack_b(kernel, K, N, b.data(), N, pb.data());
  std::vector<int32_t> whole(M * N), parts(M * N), want(M * N);
  qgemm_packed(packed, 0, M, N, pb.data(), whole.data(), N);
  for (int64_t r0 = 0; r0 < M; r0 += kernel.mr)
    qgemm_packed(packed, r0, std::min<int64_t>(kernel.mr, M - r0), N, pb.data(), parts.data() + r0 * N, N);
  qgemm_reference(M, N, K, a.data(), K, b.data(), N, want.data(), N);
  CHECK(count_wrong(whole, want, M, N) == 0);
  CHECK(count_wrong(parts, want, M, N) == 0);
  CHECK_THROWS_AS(qgemm_packed(packed, 1, 2, N, pb.data(), parts.data(), N), Error);
}

TEST_CASE("every family quantises as the rule, near half-integers too", "[qgemm]") {
  // The generic family's loop is the rule value by value; the others may take shortcuts that
  // must give the same bytes: values at, just off and far from every half-integer, the clamp's
  // bounds, NaN and infinities, over scales with inexact reciprocals and a subnormal one.
  std::vector<float> x;
  std::mt19937 rng(12);
  std::uniform_real_distribution<float> jitter(-4e-5f, 4e-5f), wide(-300.0f, 300.0f);
  for (float scale : {0.1f, 0.0123f, 3.0f / 127.0f, 7.77f, 1e-39f}) {
    x.clear();
    for (int k = -130; k <= 130; ++k)
      for (int rep = 0; rep < 8; ++rep) {
        const float h = static_cast<float>(k) + 0.5f;
        x.push_back(h * scale);
        x.push_back(std::nextafter(h, 1e9f) * scale);
        x.push_back(std::nextafter(h, -1e9f) * scale);
        x.push_back((h + jitter(rng)) * scale);
        x.push_back(wide(rng) * scale);
      }
    x.push_back(std::nanf(""));
    x.push_back(INFINITY);
    x.push_back(-INFINITY);
    x.push_back(0.0f);
    std::vector<uint8_t> want(x.size()), got(x.size());
    qgemm_kernel(QgemmFamily::Generic).quantize(x.data(), static_cast<int64_t>(x.size()), scale, want.data());
    for (QgemmFamily family : {QgemmFamily::Avx2, QgemmFamily::AvxVnni, QgemmFamily::Avx512Vnni}) {
      const QgemmKernel* kernel = kernel_if_supported(family);
      if (!kernel) continue;
      CAPTURE(kernel->name, scale);
      kernel->quantize(x.data(), static_cast<int64_t>(x.size()), scale, got.data());
      int wrong = 0;
      for (std::size_t i = 0; i < x.size(); ++i)
        if (got[i] != want[i] && ++wrong <= 5) FAIL_CHECK("x = " << x[i] << ": " << int{got[i]} << ", want " << int{want[i]});
      CHECK(wrong == 0);
    }
  }
}

TEST_CASE("the int8 family follows the instruction family", "[qgemm]") {
  const CpuFeatures& f = cpu_features();
  CHECK(qgemm_family_for(Isa::Generic) == QgemmFamily::Generic);
  // avx2 forced (SPDINFER_ISA) is always the AVX2 kernel; chosen as the best, AVX-VNNI where the
  // CPU has it.
  CHECK(qgemm_family_for(Isa::Avx2, true) == QgemmFamily::Avx2);
  CHECK(qgemm_family_for(Isa::Avx2, false) == (f.avx_vnni ? QgemmFamily::AvxVnni : QgemmFamily::Avx2));
  CHECK(qgemm_family_for(Isa::Avx512) == (f.avx512_vnni ? QgemmFamily::Avx512Vnni
                                          : f.avx_vnni  ? QgemmFamily::AvxVnni
                                                        : QgemmFamily::Avx2));
  const char* forced = std::getenv("SPDINFER_ISA");
  CHECK(qgemm_kernel().family == qgemm_family_for(active_isa(), forced && *forced));
  INFO("active: " << active_isa_description() << ", int8: " << qgemm_kernel().name);
  CHECK(qgemm_supported(QgemmFamily::Generic));
}
