// The figures the CLI draws: the data each needs, computed here in C++, written as JSON, then
// drawn by eval/plots.py (matplotlib, run through apps/python_script.h).
// - val --plots: YOLOv5 val.py's PR_curve.png, F1_curve.png, P_curve.png, R_curve.png and
//   confusion_matrix.png, from val_curves.json (kept beside them: the numbers behind every line);
// - bench --per-layer --plot FILE: where the time goes, the slowest nodes as horizontal bars.
#pragma once

#include <string>
#include <vector>

#include "eval/confusion_matrix.h"
#include "eval/detection_metrics.h"

namespace spdinfer::cli {

// The figure files val writes into its output directory, in this order.
extern const std::vector<std::string> kValFigureNames;
constexpr const char* kValCurvesFile = "val_curves.json";

// Before a long run: that Python and matplotlib are there. Throws spdinfer::Error("<blame>: ...")
// saying what to install.
void check_plotting(const std::string& blame);
// The same, after creating out_dir.
void prepare_val_figures(const std::string& out_dir);

// Writes out_dir/val_curves.json and the figures; returns the figures' paths. Throws
// spdinfer::Error naming the file that could not be written or what Python lacks.
std::vector<std::string> write_val_figures(const std::string& out_dir, const std::vector<std::string>& class_names,
                                           const DetectionEvaluator& evaluator, const DetectionMetrics& metrics,
                                           const ConfusionMatrix& confusion);

struct TimedNode {
  std::string name, op, method;
  double ms = 0;     // per run
  double share = 0;  // of all nodes' time, 0-1
};

// The first `top` of `slowest_first` as a bar chart in `png`.
void write_layer_figure(const std::string& png, const std::string& title, const std::vector<TimedNode>& slowest_first,
                        std::size_t top);

}  // namespace spdinfer::cli
