// bench/instruction_rates: multiply-accumulates per nanosecond of the instructions the engine's
// kernel families could be built on, one core, measured here rather than taken from tables: what a
// float32, bfloat16 or int8 kernel can reach at best on this CPU, and so whether a reduced-precision
// path can pay. Instructions the CPU lacks are reported as such, not run.
//
//   g++ -O2 -std=c++17 bench/instruction_rates.cpp -o /tmp/instruction_rates && /tmp/instruction_rates
//
// Each measurement runs 12 independent accumulator chains (more than any of these instructions'
// latency x throughput on current cores, so the figure is throughput) for 2e8 instructions.
#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace {

constexpr long kInstructions = 200'000'000;
constexpr int kChains = 12;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The empty asm keeps the compiler from hoisting the loop-invariant operands' arithmetic out.
#define SPDINFER_CHAINS(STEP) STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7) STEP(8) STEP(9) STEP(10) STEP(11)

__attribute__((target("avx2,fma"))) double fma256() {
  __m256 acc[kChains];
  for (auto& a : acc) a = _mm256_setzero_ps();
  __m256 x = _mm256_set1_ps(1.0001f), y = _mm256_set1_ps(0.9999f);
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < kInstructions / kChains; ++i) {
#define STEP(j) acc[j] = _mm256_fmadd_ps(x, y, acc[j]);
    SPDINFER_CHAINS(STEP)
#undef STEP
    __asm__ volatile("" : "+x"(x));
  }
  double t = seconds_since(start);
  for (int j = 1; j < kChains; ++j) acc[0] = _mm256_add_ps(acc[0], acc[j]);  // every chain is used
  volatile float sink = _mm256_cvtss_f32(acc[0]);
  (void)sink;
  return 8.0 * kInstructions / t / 1e9;
}

__attribute__((target("avx2"))) double maddubs256() {
  // u8 x s8 pairs -> s16 (vpmaddubsw), pairs of s16 -> s32 (vpmaddwd against ones), added (vpaddd):
  // 32 multiply-accumulates in three instructions. Each chain has its own u8 operand, so that no
  // product is shared between chains.
  __m256i acc[kChains], u[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm256_setzero_si256(), u[j] = _mm256_set1_epi8(static_cast<char>(j));
  __m256i s = _mm256_set1_epi8(2), ones = _mm256_set1_epi16(1);
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < kInstructions / kChains; ++i) {
#define STEP(j) acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(_mm256_maddubs_epi16(u[j], s), ones));
    SPDINFER_CHAINS(STEP)
#undef STEP
    __asm__ volatile("" : "+x"(s));
  }
  double t = seconds_since(start);
  for (int j = 1; j < kChains; ++j) acc[0] = _mm256_add_epi32(acc[0], acc[j]);
  volatile int sink = _mm256_extract_epi32(acc[0], 0);
  (void)sink;
  return 32.0 * kInstructions / t / 1e9;
}

__attribute__((target("avx512f"))) double fma512() {
  __m512 acc[kChains];
  for (auto& a : acc) a = _mm512_setzero_ps();
  __m512 x = _mm512_set1_ps(1.0001f), y = _mm512_set1_ps(0.9999f);
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < kInstructions / kChains; ++i) {
#define STEP(j) acc[j] = _mm512_fmadd_ps(x, y, acc[j]);
    SPDINFER_CHAINS(STEP)
#undef STEP
    __asm__ volatile("" : "+v"(x));
  }
  double t = seconds_since(start);
  for (int j = 1; j < kChains; ++j) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  volatile float sink = _mm512_cvtss_f32(acc[0]);
  (void)sink;
  return 16.0 * kInstructions / t / 1e9;
}

__attribute__((target("avx512f,avx512bf16"))) double dpbf16_512() {
  __m512 acc[kChains];
  for (auto& a : acc) a = _mm512_setzero_ps();
  __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80), y = x;
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < kInstructions / kChains; ++i) {
#define STEP(j) acc[j] = _mm512_dpbf16_ps(acc[j], x, y);
    SPDINFER_CHAINS(STEP)
#undef STEP
    __asm__ volatile("" : "+v"(x));
  }
  double t = seconds_since(start);
  for (int j = 1; j < kChains; ++j) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  volatile float sink = _mm512_cvtss_f32(acc[0]);
  (void)sink;
  return 32.0 * kInstructions / t / 1e9;
}

__attribute__((target("avx512f,avx512vnni"))) double dpbusd512() {
  __m512i acc[kChains];
  for (auto& a : acc) a = _mm512_setzero_si512();
  __m512i u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(2);
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < kInstructions / kChains; ++i) {
#define STEP(j) acc[j] = _mm512_dpbusd_epi32(acc[j], u, s);
    SPDINFER_CHAINS(STEP)
#undef STEP
    __asm__ volatile("" : "+v"(u));
  }
  double t = seconds_since(start);
  for (int j = 1; j < kChains; ++j) acc[0] = _mm512_add_epi32(acc[0], acc[j]);
  volatile int sink = _mm512_cvtsi512_si32(acc[0]);
  (void)sink;
  return 64.0 * kInstructions / t / 1e9;
}

struct Measurement {
  const char* name;
  const char* feature;  // what the CPU must have, as cpuinfo spells it
  bool present;
  double (*run)();
};

}  // namespace

int main() {
  __builtin_cpu_init();
  const Measurement measurements[] = {
      {"float32  vfmadd231ps ymm (AVX2+FMA)", "fma", __builtin_cpu_supports("fma") > 0, fma256},
      {"int8     vpmaddubsw+vpmaddwd+vpaddd ymm (AVX2)", "avx2", __builtin_cpu_supports("avx2") > 0, maddubs256},
      {"float32  vfmadd231ps zmm (AVX-512F)", "avx512f", __builtin_cpu_supports("avx512f") > 0, fma512},
      {"bfloat16 vdpbf16ps zmm (AVX512-BF16)", "avx512_bf16", __builtin_cpu_supports("avx512bf16") > 0,
       dpbf16_512},
      {"int8     vpdpbusd zmm (AVX512-VNNI)", "avx512_vnni", __builtin_cpu_supports("avx512vnni") > 0, dpbusd512},
  };
  std::printf("%-50s %s\n", "instruction", "multiply-accumulates per ns, one core");
  for (const Measurement& m : measurements) {
    if (m.present)
      std::printf("%-50s %6.1f\n", m.name, m.run());
    else
      std::printf("%-50s not run: the CPU lacks %s\n", m.name, m.feature);
  }
  return 0;
}
