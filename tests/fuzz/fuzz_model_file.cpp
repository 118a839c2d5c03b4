// libFuzzer target: the model-file reader (engine/model_file.cpp) on arbitrary
// bytes. See harness.h for what is checked.
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  spdinfer::fuzz::model_file(data, size);
  return 0;
}
