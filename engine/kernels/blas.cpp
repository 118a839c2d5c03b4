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
// read straight from the weights, by the active family's dot-product kernel
// (engine/kernels/gemm_kernels.h).
#include "engine/kernels/blas.h"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/kernels/sgemm.h"

namespace spdinfer {
namespace {

void ensure_single_threaded_blas() {
  static const bool done = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)done;
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
  sgemm_dot_bt(M, N, K, A, lda, bt, C, ldc, accumulate);
}

void sgemm_dot_bt(int M, int N, int K, const float* A, int lda, const float* Bt, float* C, int ldc,
                  bool accumulate) {
  static const GemmMicroKernel& kernel = gemm_micro_kernel(active_isa());
  kernel.dot(M, K, A, lda, Bt, N, C, ldc, accumulate);
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

std::string openblas_core_name() {
  const char* name = openblas_get_corename();
  return name ? name : "unknown";
}

void sgemm_openblas(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
                    bool accumulate) {
  ensure_single_threaded_blas();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb,
              accumulate ? 1.0f : 0.0f, C, ldc);
}


}  // namespace spdinfer
