#include "apps/figures.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/image_batch.h"
#include "apps/python_script.h"
#include "engine/error.h"
#include "eval/confidence_curves.h"

namespace spdinfer::cli {
namespace {

namespace fs = std::filesystem;

void write_json(const std::string& path, const nlohmann::json& data) {
  std::ofstream out(path);
  if (!out) throw Error(path + ": cannot write");
  out << json_text(data) << '\n';
  out.close();
  if (!out) throw Error(path + ": write failed");
}

nlohmann::json rounded(const std::vector<double>& values) {
  nlohmann::json list = nlohmann::json::array();
  for (double v : values) list.push_back(round_significant(v, 6));
  return list;
}

void draw(const std::vector<std::string>& args, const std::string& blame) {
  run_python_script(kPlotsScript, args, blame, "matplotlib", "python3-matplotlib");
}

void make_directory(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw Error(dir + ": cannot create output directory: " + ec.message());
}

}  // namespace

const std::vector<std::string> kValFigureNames = {"PR_curve.png", "F1_curve.png", "P_curve.png", "R_curve.png",
                                                  "confusion_matrix.png"};

void check_plotting(const std::string& blame) { draw({"check"}, blame); }

void prepare_val_figures(const std::string& out_dir) {
  make_directory(out_dir);
  check_plotting(out_dir);
}

std::vector<std::string> write_val_figures(const std::string& out_dir, const std::vector<std::string>& class_names,
                                           const DetectionEvaluator& evaluator, const DetectionMetrics& metrics,
                                           const ConfusionMatrix& confusion) {
  make_directory(out_dir);
  const int nc = evaluator.num_classes();
  std::vector<double> recall(kRecallThresholds), confidence(kConfidencePoints);
  for (int r = 0; r < kRecallThresholds; ++r) recall[r] = recall_threshold(r);
  for (int i = 0; i < kConfidencePoints; ++i) confidence[i] = confidence_threshold(i);
  nlohmann::json objects = nlohmann::json::array(), ap50 = nlohmann::json::array(),
                 precision = nlohmann::json::array(), p = nlohmann::json::array(), r = nlohmann::json::array(),
                 f1 = nlohmann::json::array();
  for (int c = 0; c < nc; ++c) {
    const ClassAp& a = metrics.per_class[c];
    const int64_t n = a.objects[kAreaAll];
    objects.push_back(n);
    ap50.push_back(n ? nlohmann::json(a.ap50()) : nlohmann::json(nullptr));
    precision.push_back(rounded({a.precision50.begin(), a.precision50.end()}));
    const ConfidenceCurves curves = confidence_curves(evaluator.ranked_at_iou50(c), n);
    p.push_back(rounded(curves.precision));
    r.push_back(rounded(curves.recall));
    f1.push_back(rounded(curves.f1));
  }
  const nlohmann::json data = {
      {"classes", class_names},
      {"objects", objects},
      {"map50", metrics.map50},
      {"ap50", ap50},
      {"recall", rounded(recall)},
      {"precision", precision},
      {"confidence", rounded(confidence)},
      {"p", p},
      {"r", r},
      {"f1", f1},
      {"confusion",
       {{"conf", confusion.conf_threshold()}, {"iou", confusion.iou_threshold()}, {"counts", confusion.counts()}}}};
  const std::string data_path = (fs::path(out_dir) / kValCurvesFile).string();
  write_json(data_path, data);
  draw({"val", data_path, out_dir}, out_dir);
  std::vector<std::string> written;
  for (const std::string& name : kValFigureNames) written.push_back((fs::path(out_dir) / name).string());
  return written;
}

void write_layer_figure(const std::string& png, const std::string& title, const std::vector<TimedNode>& slowest_first,
                        std::size_t top) {
  nlohmann::json nodes = nlohmann::json::array();
  for (std::size_t i = 0; i < slowest_first.size() && i < top; ++i) {
    const TimedNode& n = slowest_first[i];
    nodes.push_back({{"name", n.name}, {"op", n.op}, {"method", n.method}, {"ms", n.ms}, {"share", n.share}});
  }
  // The data goes to a temporary file that is removed whatever happens.
  std::string data_path = (fs::temp_directory_path() / "spdinfer-layers-XXXXXX").string();
  const int fd = mkstemp(data_path.data());
  if (fd < 0) throw Error(data_path + ": cannot create a temporary file");
  ::close(fd);
  struct Remove {
    std::string path;
    ~Remove() { std::remove(path.c_str()); }
  } remove{data_path};
  write_json(data_path, {{"title", title}, {"nodes", nodes}});
  draw({"layers", data_path, png}, png);
}

}  // namespace spdinfer::cli
