// libFuzzer target: architecture + weights -> graph (models/), then a plan and,
// within a work budget, one forward pass. See harness.h for the input format.
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  spdinfer::fuzz::architecture(data, size);
  return 0;
}
