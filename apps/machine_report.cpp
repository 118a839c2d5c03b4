#include "apps/machine_report.h"

#include "engine/kernels/blas.h"
#include "engine/kernels/cpu_features.h"
#ifdef SPDINFER_HAVE_VIDEO
#include "image/video_reader.h"
#endif

namespace spdinfer::cli {

std::string video_support() {
#ifdef SPDINFER_HAVE_VIDEO
  return video_support_description();
#else
  return "not built (FFmpeg's libraries were not found when spdinfer was configured)";
#endif
}

std::vector<std::pair<std::string, std::string>> machine_lines() {
  const CpuFeatures& f = cpu_features();
  const std::string model = f.model_name.empty() ? "unknown x86-64 CPU" : f.model_name;
  return {{"cpu", model + " (" + cpu_feature_list(f) + ")"},
          {"kernels", active_isa_description()},
          {"openblas", openblas_core_name() + " (reference only)"},
          {"video", video_support()}};
}

nlohmann::json machine_json() {
  const CpuFeatures& f = cpu_features();
  return {{"cpu", f.model_name},
          {"cpu_features", cpu_feature_list(f)},
          {"kernels", isa_name(active_isa())},
          {"openblas_core", openblas_core_name()}};
}

}  // namespace spdinfer::cli
