// Output files and JSON shared by `spdinfer detect`'s images and video frames (apps/detection_output.h).
#include "apps/detection_output.h"

#include <cstdio>

#include "apps/commands.h"
#include "apps/image_batch.h"
#include "engine/error.h"

namespace spdinfer::cli {

std::string class_name(const std::vector<std::string>& names, int id) {
  return id >= 0 && static_cast<std::size_t>(id) < names.size() ? names[id] : "class" + std::to_string(id);
}

void write_labels(const std::string& path, const std::vector<Detection>& dets, int w, int h, bool with_conf) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw Error(path + ": cannot write labels");
  for (const Detection& d : dets) std::fprintf(f, "%s\n", yolo_label_line(d, w, h, with_conf).c_str());
  if (std::fclose(f) != 0) throw Error(path + ": cannot write labels");
}

nlohmann::json detections_json(const std::vector<std::string>& names, const std::string& path, const Image& img,
                               const std::vector<Detection>& dets, const DetectionReport& r,
                               const StageTimes& times, bool sliced) {
  nlohmann::json list = nlohmann::json::array();
  for (const Detection& d : dets)
    list.push_back({{"class_id", d.class_id},
                    {"class_name", class_name(names, d.class_id)},
                    {"confidence", round_significant(d.confidence, 6)},
                    {"box",
                     {round_decimals(d.x1, 2), round_decimals(d.y1, 2), round_decimals(d.x2, 2),
                      round_decimals(d.y2, 2)}}});
  nlohmann::json out = {{"image", path},
                        {"width", img.width},
                        {"height", img.height},
                        {"detections", list},
                        {"ms", stage_times_json(times, "nms")}};
  if (sliced) {
    out["tiles"] = r.tiles;
    out["forwards"] = r.forwards;
    out["ms"]["merge"] = round_decimals(r.merge_ms, 3);
  }
  return out;
}

}  // namespace spdinfer::cli
