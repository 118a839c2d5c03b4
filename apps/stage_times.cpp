#include "apps/stage_times.h"

#include <cstdio>

#include "apps/image_batch.h"

namespace spdinfer::cli {

StageTimes::StageTimes(const DetectionReport& r, double decode_ms)
    : decode(decode_ms), preprocess(r.pre_ms), inference(r.infer_ms), post(r.nms_ms) {}

StageTimes::StageTimes(const ClassifyReport& r, double decode_ms)
    : decode(decode_ms), preprocess(r.pre_ms), inference(r.infer_ms), post(r.post_ms) {}

void StageTimes::add(const StageTimes& other) {
  decode += other.decode;
  preprocess += other.preprocess;
  inference += other.inference;
  post += other.post;
}

nlohmann::json stage_times_json(const StageTimes& t, const char* post_key) {
  return {{"decode", round_decimals(t.decode, 3)},
          {"preprocess", round_decimals(t.preprocess, 3)},
          {"inference", round_decimals(t.inference, 3)},
          {post_key, round_decimals(t.post, 3)}};
}

std::string speed_text(const StageTimes& total, double images, const char* post_label, const char* unit) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "Speed: %.1fms decode, %.1fms pre-process, %.1fms inference, %.1fms %s per %s",
                total.decode / images, total.preprocess / images, total.inference / images, total.post / images,
                post_label, unit);
  return buf;
}

}  // namespace spdinfer::cli
