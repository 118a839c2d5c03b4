// The engine's BLAS entry points. sgemm and sgemm_bt run the engine's own GEMM
// (engine/kernels/sgemm.h), whose kernels are chosen from the CPU at run time; OpenBLAS's
// sgemm_openblas is their reference twin (its speed depends on whether the distribution's build
// recognises the CPU). OpenBLAS's own thread pool is switched off once, at first use: the engine
// splits work across threads itself, which keeps the thread count a per-run setting and makes
// concurrent runs safe.
//
// sgemm_narrow is for products with only a few columns (a convolution over a 2x2 map at batch
// 1): OpenBLAS's sgemm copies ("packs") both operands on every call, and with a handful of
// columns packing the weight matrix costs more than the multiplication, which is bound by
// reading the weights once. It computes dot products of each weight row with the columns,
// read straight from the weights.
#include "engine/blas.h"

#include <cblas.h>

#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/kernels/sgemm.h"
#include "engine/vec8.h"

namespace spdinfer {
namespace {

void ensure_single_threaded_blas() {
  static const bool done = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)done;
}

float sum8(Vec8 v) {
  float s = 0.0f;
  for (int l = 0; l < 8; ++l) s += v[l];
  return s;
}

constexpr int kPrefetchFloats = 512;

// C[:, 0..NC) (+)= A (M x K) * columns of Bt, where Bt holds the NC columns as rows (NC x K).
// Two accumulators per column (16 floats of k at a time) hide the latency of the
// multiply-adds; with NC = 4 all eight stay in registers.
template <int NC>
void dot_columns(int M, int K, const float* A, int lda, const float* Bt, float* C, int ldc, bool accumulate) {
  for (int m = 0; m < M; ++m) {
    const float* a = A + static_cast<std::ptrdiff_t>(m) * lda;
    Vec8 lo[NC] = {}, hi[NC] = {};
    int k = 0;
    for (; k + 16 <= K; k += 16) {
      // The weights are read once, from memory; the hardware prefetcher stops at each 4 KiB
      // page, so ask for the line 2 KiB ahead (past the end it is a no-op: prefetches never fault).
      __builtin_prefetch(a + k + kPrefetchFloats);
      const Vec8 a0 = load8(a + k), a1 = load8(a + k + 8);
      for (int n = 0; n < NC; ++n) {
        const float* b = Bt + static_cast<std::ptrdiff_t>(n) * K + k;
        lo[n] += a0 * load8(b);
        hi[n] += a1 * load8(b + 8);
      }
    }
    float* c = C + static_cast<std::ptrdiff_t>(m) * ldc;
    for (int n = 0; n < NC; ++n) {
      float sum = sum8(lo[n] + hi[n]);
      for (int kk = k; kk < K; ++kk) sum += a[kk] * Bt[static_cast<std::ptrdiff_t>(n) * K + kk];
      c[n] = accumulate ? c[n] + sum : sum;
    }
  }
}

}  // namespace

void sgemm_narrow(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
                  bool accumulate) {
  // B's columns as contiguous rows; per thread, so concurrent runs do not share it. It grows
  // to the largest K * N seen and is then reused: no allocation in the steady state.
  thread_local std::vector<float> columns;
  if (columns.size() < static_cast<std::size_t>(N) * K) columns.resize(static_cast<std::size_t>(N) * K);
  float* bt = columns.data();
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n) bt[static_cast<std::ptrdiff_t>(n) * K + k] = B[static_cast<std::ptrdiff_t>(k) * ldb + n];
  int n = 0;
  for (; n + 4 <= N; n += 4)
    dot_columns<4>(M, K, A, lda, bt + static_cast<std::ptrdiff_t>(n) * K, C + n, ldc, accumulate);
  for (; n < N; ++n) dot_columns<1>(M, K, A, lda, bt + static_cast<std::ptrdiff_t>(n) * K, C + n, ldc, accumulate);
}

void check_blas_int(int64_t value, const char* op, const char* what) {
  if (value > INT_MAX)
    throw Error(std::string(op) + ": " + what + " " + std::to_string(value) + " exceeds the BLAS int range");
}

void sgemm(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
           bool accumulate) {
  gemm(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

void sgemm_bt(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
  gemm(M, N, K, A, lda, B, ldb, C, ldc, false, GemmLayout::Transposed);
}

void sgemm_openblas(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
                    bool accumulate) {
  ensure_single_threaded_blas();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb,
              accumulate ? 1.0f : 0.0f, C, ldc);
}


}  // namespace spdinfer
