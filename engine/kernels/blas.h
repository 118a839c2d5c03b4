// The engine's matrix products: its own GEMM (engine/kernels/sgemm.h) behind the BLAS-style
// signatures the ops call, and OpenBLAS as the reference twin. The one place the engine talks
// to OpenBLAS.
#pragma once

#include <cstdint>
#include <string>

namespace spdinfer {

// BLAS takes sizes and strides as int. Throws spdinfer::Error ("OP: WHAT VALUE exceeds the
// BLAS int range") for a value beyond INT_MAX, so a layer too large for it is refused when it
// is planned instead of wrapping around inside a product.
void check_blas_int(int64_t value, const char* op, const char* what);

// C (M x N) = A (M x K) * B (K x N) [+ C when accumulate], all row-major with
// the given leading dimensions. Runs on the calling thread only.
void sgemm(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
           bool accumulate = false);

// The kernels OpenBLAS picked for this CPU ("Haswell", "SkylakeX", or "Prescott" where a
// distribution's build does not know the CPU): for reports only, nothing here depends on it.
std::string openblas_core_name();

// The same product by OpenBLAS: the reference twin of sgemm, for tests and benchmarks.
void sgemm_openblas(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
                    bool accumulate = false);

// The same product for few columns (N up to kNarrowGemmColumns) as dot products of A's rows with
// B's columns, A read once where it lies (no packing). Measured against sgemm on one core of a
// Zen 5 EPYC, A from memory: 1.3-1.6x faster at 4 and 8 columns (2048 x 2048 A at 4 columns:
// 25 GB/s of A against 12), 0.7-0.95x at 16 and slower beyond. Each element is summed in an order
// that depends only on K, so results do not depend on which other rows or columns are computed in
// the same call; they may differ from sgemm's in the last bits.
void sgemm_narrow(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
                  bool accumulate = false);
inline constexpr int kNarrowGemmColumns = 8;

// C (M x N) = A (M x K) * Bt^T [+ C], Bt (N x K) contiguous: sgemm_narrow's dot products without
// its transposition of B, for operands that already hold B's columns as rows. For products with
// few rows or few columns, bound by reading the larger operand once (a linear layer's few inputs
// against its weight's rows).
void sgemm_dot_bt(int M, int N, int K, const float* A, int lda, const float* Bt, float* C, int ldc,
                  bool accumulate = false);

// C (M x N) = A (M x K) * B^T where B is (N x K) row-major: the layout of a
// linear layer's weight.
void sgemm_bt(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);

}  // namespace spdinfer
