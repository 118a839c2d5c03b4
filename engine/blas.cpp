// OpenBLAS wrapper. OpenBLAS's own thread pool is switched off once, at first
// use: the engine splits work across threads itself, which keeps the thread
// count a per-run setting and makes concurrent runs safe.
#include "engine/blas.h"

#include <cblas.h>

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

void sgemm(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
           bool accumulate) {
  ensure_single_threaded_blas();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb,
              accumulate ? 1.0f : 0.0f, C, ldc);
}

void sgemm_bt(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
  ensure_single_threaded_blas();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
}

}  // namespace spdinfer
