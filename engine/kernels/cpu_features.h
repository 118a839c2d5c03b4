// What the processor can do, read once from cpuid (and the OS's register-saving support from
// xgetbv), and which instruction family the engine's kernels use: the best one the CPU has, or
// the one SPDINFER_ISA names. Nothing here depends on the flags the engine was compiled with or
// on another library's guess, so one binary runs its best kernels on every x86-64 CPU.
#pragma once

#include <string>

namespace spdinfer {

// Kernel families, each a set of micro-kernels compiled for those instructions.
//   Generic: SSE2 only (every x86-64 CPU), a portable fallback and a reference for the others;
//   Avx2:    AVX2 + FMA (Haswell and later, AMD Zen);
//   Avx512:  AVX-512 F/BW/VL (Skylake-SP and later Xeons, AMD Zen 4).
enum class Isa { Generic, Avx2, Avx512 };

struct CpuFeatures {
  std::string model_name;  // the brand string, e.g. "Intel(R) Xeon(R) ..."; empty if unknown
  bool sse41 = false, f16c = false, fma = false, avx2 = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512_vnni = false, avx512_bf16 = false,
       avx512_fp16 = false, avx_vnni = false;
  bool amx_tile = false, amx_int8 = false, amx_bf16 = false;
};

// Read once, at first call. The AVX and AVX-512 bits are set only when the OS saves those
// registers (xgetbv), as a CPU flag alone does not make them usable.
const CpuFeatures& cpu_features();

// The features present, as cpuinfo spells them: "avx2 fma f16c avx512f ... amx_int8".
std::string cpu_feature_list(const CpuFeatures& f);

bool isa_supported(Isa isa);
const char* isa_name(Isa isa);  // "generic", "avx2", "avx512"

// The family the engine's kernels use in this process, fixed at first call: SPDINFER_ISA
// (generic | avx2 | avx512) when set, else the best the CPU supports. Throws spdinfer::Error
// when SPDINFER_ISA names an unknown family or one this CPU lacks.
Isa active_isa();

// One line for reports: "avx512 (the best this CPU has)" or "avx2 (SPDINFER_ISA)".
std::string active_isa_description();

// "generic" / "avx2" / "avx512" -> the family; throws spdinfer::Error naming the text otherwise.
Isa parse_isa(const std::string& name);

}  // namespace spdinfer
