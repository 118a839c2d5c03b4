// Layer-by-layer comparison of a graph run against golden activations
// (dumped from PyTorch by weights_tools/dump_golden.py): the proof that a
// converted model computes what PyTorch computes.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/model_file.h"

namespace spdinfer {

struct LayerComparison {
  std::string layer;  // the golden file's name (a PyTorch module)
  Shape shape;
  double max_abs_error = 0;
  double max_magnitude = 0;       // of the golden tensor
  double max_relative_error = 0;  // max_abs_error / max_magnitude
  bool pass = false;
  std::string problem;  // set when the layer could not be compared
};

struct GoldenReport {
  std::vector<LayerComparison> layers;  // in the golden file's order
  bool pass() const;
};

// Runs `graph` on the golden file's `input` and compares every layer the
// golden file lists (metadata "layers", else every tensor but `input`).
// A layer passes when max |engine - golden| <= atol + rtol * max |golden|.
// `node_for_layer` maps a golden layer name to the graph node computing it
// ("" when none, which fails that layer).
GoldenReport compare_golden(const Graph& graph, const ModelFile& golden,
                            const std::function<std::string(const std::string&)>& node_for_layer, double atol,
                            double rtol, int threads);

}  // namespace spdinfer
