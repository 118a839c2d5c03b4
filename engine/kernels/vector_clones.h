// SPDINFER_VECTOR_CLONES, written before a function whose loops the compiler vectorises on its own
// (activations, Winograd's transforms, space_to_depth, YOLO's decode): GCC compiles the function
// once per instruction family (AVX-512, AVX2 with FMA, and the build's baseline) and the loader
// picks the copy for the CPU from cpuid (GCC's target_clones, an ifunc). So a portable build
// (no -march=native, the default) still runs these loops 16 or 8 floats at a time where the CPU
// can. SPDINFER_ISA does not reach these copies: it chooses among the engine's own GEMM kernels.
// The lambdas a parallel loop runs are functions of their own, so such a loop calls a function
// marked here rather than holding the marked loop itself.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SPDINFER_VECTOR_CLONES __attribute__((target_clones("avx512f", "arch=x86-64-v3", "default")))
#else
#define SPDINFER_VECTOR_CLONES
#endif
