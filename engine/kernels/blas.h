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

// The same product for few columns (N up to kNarrowGemmColumns), without OpenBLAS's packing
// of A: measured 1.4-1.7x faster at 4 columns (2048 x 1024 and 256 x 2304 A), about even at
// 6-8 and slower beyond, where OpenBLAS's blocking wins. Each
// element is summed in an order that depends only on K, so results do not depend on which
// other columns are computed in the same call; they may differ from sgemm's in the last bits.
void sgemm_narrow(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
                  bool accumulate = false);
inline constexpr int kNarrowGemmColumns = 4;

// C (M x N) = A (M x K) * B^T where B is (N x K) row-major: the layout of a
// linear layer's weight.
void sgemm_bt(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);

}  // namespace spdinfer
