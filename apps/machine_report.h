// What `info` and `bench` say about the machine: the CPU, its instruction-set features, the
// kernel family the engine runs and which kernels OpenBLAS (the reference twin) picked.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace spdinfer::cli {

// ("cpu", "Intel(R) Xeon(R) ... (avx2 fma avx512f ...)"), ("kernels", "avx512 (...)"),
// ("openblas", "Prescott (reference only)"), ("video", "FFmpeg (libavformat 59.27.100, ...); writes
// H.264 (libx264)" or "not built (...)"), in that order.
std::vector<std::pair<std::string, std::string>> machine_lines();

// The same as JSON fields: cpu, cpu_features, kernels, openblas_core.
nlohmann::json machine_json();

// Whether this binary reads and writes video (`spdinfer detect VIDEO`), and through what.
std::string video_support();

}  // namespace spdinfer::cli
