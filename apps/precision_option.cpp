#include "apps/precision_option.h"

namespace spdinfer::cli {

void add_precision_option(CLI::App* command, std::string& precision) {
  command
      ->add_option("--precision", precision,
                   "int8 (an int8 model file from `spdinfer calibrate`) or fp32 (an int8 file's weights run in "
                   "float) (default: the model file's)")
      ->check(CLI::IsMember({"int8", "fp32"}));
}

LoadOptions precision_load_options(const std::string& precision) {
  LoadOptions options;
  if (!precision.empty()) options.precision = parse_precision(precision);
  return options;
}

}  // namespace spdinfer::cli
