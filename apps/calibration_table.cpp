// Text I/O of the activation-scale table (see calibration_table.h).
#include "apps/calibration_table.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "engine/input_file.h"
#include "models/quantization.h"

namespace spdinfer::cli {

void write_calibration_table(const std::string& path, const std::vector<std::string>& header,
                             const std::vector<TableLine>& lines) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) throw Error(path + ": cannot write: " + std::strerror(errno));
  for (const std::string& h : header) out << "# " << h << "\n";
  char buf[64];
  for (const TableLine& line : lines) {
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(line.scale));
    out << line.node << " " << buf;
    if (!line.comment.empty()) out << "  # " << line.comment;
    out << "\n";
  }
  out.flush();
  if (!out) throw Error(path + ": cannot write: " + std::strerror(errno));
}

std::map<std::string, float> read_calibration_table(const std::string& path, const std::set<std::string>& known,
                                                    const std::string& model) {
  std::istringstream in(read_regular_file(path, "scale table", kMaxTextFileBytes));
  std::map<std::string, float> scales;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string where = path + ":" + std::to_string(number) + ": ";
    const std::size_t hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    std::istringstream fields(line);
    std::string node, scale_text, extra;
    if (!(fields >> node)) continue;  // blank or comment only
    if (!(fields >> scale_text) || (fields >> extra))
      throw Error(where + "expected `node scale`, got '" + line + "'");
    char* end = nullptr;
    errno = 0;
    const double scale = std::strtod(scale_text.c_str(), &end);
    if (end == scale_text.c_str() || *end != '\0' || !valid_input_scale(scale))
      throw Error(where + "scale '" + scale_text + "' of '" + node + "' is not a finite number > 0");
    if (!known.count(node))
      throw Error(where + "unknown node '" + node + "' (not a convolution of " + model +
                  " that can run in int8; see spdinfer info " + model + ")");
    if (!scales.emplace(node, static_cast<float>(scale)).second)
      throw Error(where + "node '" + node + "' appears twice");
  }
  return scales;
}

}  // namespace spdinfer::cli
