// Layer-by-layer comparison of a graph run against golden activations
// (dumped from PyTorch by weights_tools/reference/dump_golden.py): the proof that a
// converted model computes what PyTorch computes. The file format is in
// docs/golden-format.md.
//
// Two rules judge a layer. Against PyTorch's fp32 output: the engine must be
// within a tolerance of it. Against the float64 truth (files dumped with
// --float64 hold every layer of the same model run in float64): the engine
// must be no further from the truth than twice PyTorch fp32 is (or than a
// small absolute floor), which tells float rounding, where PyTorch errs as
// much, from a bug, which PyTorch does not share.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/model_file.h"

namespace spdinfer {

constexpr const char* kGoldenFormatName = "spdinfer-golden";
// Version 2 adds the optional float64 truth (`f64.hi/LAYER` + `f64.lo/LAYER`).
constexpr int kGoldenFormatVersion = 2;
constexpr const char* kTruthHiPrefix = "f64.hi/";
constexpr const char* kTruthLoPrefix = "f64.lo/";

struct GoldenRule {
  enum class Against { Float32, Float64 };
  Against against = Against::Float32;
  // Float32: pass when max |engine - PyTorch fp32| <= atol + rtol * max |PyTorch fp32|.
  double atol = 1e-5, rtol = 1e-4;
  // Float64: pass when max |engine - truth| <= max(ratio * max |PyTorch fp32 - truth|, floor).
  double ratio = 2.0, floor = 1e-6;
};

struct LayerComparison {
  std::string layer;  // the golden file's name (a PyTorch module)
  Shape shape;
  // Against PyTorch's fp32 output.
  double max_abs_error = 0;
  double max_magnitude = 0;       // of the golden tensor
  double max_relative_error = 0;  // max_abs_error / max_magnitude
  // Against the float64 truth, when the golden file has it.
  bool has_truth = false;
  double truth_magnitude = 0;      // max |truth|
  double engine_truth_error = 0;   // max |engine - truth|
  double pytorch_truth_error = 0;  // max |PyTorch fp32 - truth|
  bool pass = false;               // by the rule compare_golden was given
  std::string problem;             // set when the layer could not be compared
};

struct GoldenReport {
  std::vector<LayerComparison> layers;  // in the golden file's order
  bool pass() const;
};

// Whether the golden file holds the float64 truth. Throws when its metadata
// names another format, a version this reader does not know, or an unknown
// float64 encoding.
bool golden_has_float64(const ModelFile& golden);

// Runs `graph` on the golden file's `input` and compares every layer the
// golden file lists (metadata "layers", else every tensor but `input` and
// the truth) by `rule`; a Float64 rule on a file without the truth throws.
// `node_for_layer` maps a golden layer name to the graph node computing it
// ("" when none, which fails that layer).
GoldenReport compare_golden(const Graph& graph, const ModelFile& golden,
                            const std::function<std::string(const std::string&)>& node_for_layer,
                            const GoldenRule& rule, int threads);
// The Float32 rule with these tolerances.
GoldenReport compare_golden(const Graph& graph, const ModelFile& golden,
                            const std::function<std::string(const std::string&)>& node_for_layer, double atol,
                            double rtol, int threads);

}  // namespace spdinfer
