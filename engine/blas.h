// The one place the engine talks to OpenBLAS.
#pragma once

namespace spdinfer {

// C (M x N) = A (M x K) * B (K x N) [+ C when accumulate], all row-major with
// the given leading dimensions. Runs on the calling thread only.
void sgemm(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
           bool accumulate = false);

// C (M x N) = A (M x K) * B^T where B is (N x K) row-major: the layout of a
// linear layer's weight.
void sgemm_bt(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);

}  // namespace spdinfer
