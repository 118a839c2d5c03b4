// cpuid leaves and bits as the Intel SDM (vol. 2A, CPUID) and AMD's APM document them.
#include "engine/kernels/cpu_features.h"

#include <cpuid.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "engine/error.h"

namespace spdinfer {
namespace {

struct Regs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(unsigned leaf, unsigned subleaf = 0) {
  Regs r;
  if (!__get_cpuid_count(leaf, subleaf, &r.a, &r.b, &r.c, &r.d)) return Regs{};
  return r;
}

bool bit(unsigned reg, int n) { return (reg >> n) & 1u; }

// Which register files the OS saves on a context switch (XCR0).
uint64_t xcr0() {
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t{hi} << 32) | lo;
}

std::string brand_string() {
  if (cpuid(0x80000000).a < 0x80000004) return "";
  char text[49] = {};
  for (unsigned i = 0; i < 3; ++i) {
    const Regs r = cpuid(0x80000002 + i);
    std::memcpy(text + 16 * i, &r, 16);
  }
  std::string s(text);
  const auto first = s.find_first_not_of(' ');
  return first == std::string::npos ? "" : s.substr(first);
}

CpuFeatures detect() {
  CpuFeatures f;
  f.model_name = brand_string();
  const unsigned max_leaf = cpuid(0).a;
  const Regs l1 = cpuid(1);
  f.sse41 = bit(l1.c, 19);
  const bool osxsave = bit(l1.c, 27);
  const uint64_t xcr = osxsave ? xcr0() : 0;
  const bool os_avx = (xcr & 0x6) == 0x6;           // XMM and YMM state
  const bool os_avx512 = os_avx && (xcr & 0xe0) == 0xe0;  // opmask, ZMM0-15 upper halves, ZMM16-31
  const bool os_amx = (xcr & 0x60000) == 0x60000;   // XTILECFG and XTILEDATA
  f.fma = os_avx && bit(l1.c, 12);
  f.f16c = os_avx && bit(l1.c, 29);
  if (max_leaf >= 7) {
    const Regs l7 = cpuid(7, 0);
    f.avx2 = os_avx && bit(l7.b, 5);
    f.avx512f = os_avx512 && bit(l7.b, 16);
    f.avx512bw = os_avx512 && bit(l7.b, 30);
    f.avx512vl = os_avx512 && bit(l7.b, 31);
    f.avx512_vnni = os_avx512 && bit(l7.c, 11);
    f.avx512_fp16 = os_avx512 && bit(l7.d, 23);
    f.amx_bf16 = os_amx && bit(l7.d, 22);
    f.amx_tile = os_amx && bit(l7.d, 24);
    f.amx_int8 = os_amx && bit(l7.d, 25);
    const Regs l7_1 = cpuid(7, 1);
    f.avx_vnni = os_avx && bit(l7_1.a, 4);
    f.avx512_bf16 = os_avx512 && bit(l7_1.a, 5);
  }
  return f;
}

Isa best_isa(const CpuFeatures& f) {
  if (f.avx512f && f.avx512bw && f.avx512vl && f.fma) return Isa::Avx512;
  if (f.avx2 && f.fma) return Isa::Avx2;
  return Isa::Generic;
}

Isa choose_isa() {
  const char* forced = std::getenv("SPDINFER_ISA");
  if (!forced || !*forced) return best_isa(cpu_features());
  Isa isa;
  try {
    isa = parse_isa(forced);
  } catch (const Error& e) {
    throw Error(std::string("SPDINFER_ISA=") + forced + ": " + e.what());
  }
  if (!isa_supported(isa))
    throw Error(std::string("SPDINFER_ISA=") + forced + ": this CPU lacks " + isa_name(isa) +
                " (it has: " + cpu_feature_list(cpu_features()) + ")");
  return isa;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

std::string cpu_feature_list(const CpuFeatures& f) {
  const std::pair<bool, const char*> flags[] = {
      {f.sse41, "sse4_1"},        {f.f16c, "f16c"},           {f.fma, "fma"},
      {f.avx2, "avx2"},           {f.avx_vnni, "avx_vnni"},   {f.avx512f, "avx512f"},
      {f.avx512bw, "avx512bw"},   {f.avx512vl, "avx512vl"},   {f.avx512_vnni, "avx512_vnni"},
      {f.avx512_bf16, "avx512_bf16"}, {f.avx512_fp16, "avx512_fp16"}, {f.amx_tile, "amx_tile"},
      {f.amx_int8, "amx_int8"},   {f.amx_bf16, "amx_bf16"}};
  std::string list;
  for (const auto& [present, name] : flags)
    if (present) list += (list.empty() ? "" : " ") + std::string(name);
  return list.empty() ? "sse2" : list;
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::Generic: return true;
    case Isa::Avx2: return f.avx2 && f.fma;
    case Isa::Avx512: return f.avx512f && f.avx512bw && f.avx512vl && f.fma;
  }
  return false;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Generic: return "generic";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

Isa parse_isa(const std::string& name) {
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512})
    if (name == isa_name(isa)) return isa;
  throw Error("unknown instruction family '" + name + "' (expected generic, avx2 or avx512)");
}

std::string active_isa_description() {
  const char* forced = std::getenv("SPDINFER_ISA");
  return std::string(isa_name(active_isa())) +
         (forced && *forced ? " (SPDINFER_ISA)" : " (the best this CPU has; SPDINFER_ISA forces another)");
}

Isa active_isa() {
  static const Isa isa = choose_isa();
  return isa;
}

}  // namespace spdinfer
