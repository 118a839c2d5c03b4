// The editable text table of activation scales that `spdinfer calibrate` writes
// beside the int8 model and reads back with --from-table (as ncnn's
// ncnn2table / ncnn2int8 pair): one line per int8 convolution, `node scale`,
// where x_int8 = clamp(round(x / scale), -127, 127) for the node's input;
// `#` starts a comment; a node without a line stays fp32.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace spdinfer::cli {

struct TableLine {
  std::string node;
  float scale = 0;
  std::string comment;  // written after the scale as "# ..." (may be empty)
};

// Writes the table; throws spdinfer::Error("PATH: cannot write ...").
void write_calibration_table(const std::string& path, const std::vector<std::string>& header,
                             const std::vector<TableLine>& lines);
// Reads a table; every node must be in `known` (the model's quantisable convolutions).
// Throws spdinfer::Error("PATH:LINE: what is wrong") for a malformed line, a scale that is
// not a finite number > 0, an unknown or repeated node.
std::map<std::string, float> read_calibration_table(const std::string& path, const std::set<std::string>& known,
                                                    const std::string& model);

}  // namespace spdinfer::cli
