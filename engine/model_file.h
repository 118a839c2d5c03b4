// Reader of spdinfer model files: the safetensors container (8-byte
// little-endian header length, a JSON header, tensor bytes) with spdinfer's
// `__metadata__` (format name and version, family, architecture, ...; see
// docs/design.md). Every rule of the container is checked and a violation is
// refused with a message naming the file and the tensor.
//
// Not here: whether the tensors fit an architecture; the model builders in
// models/ check that (missing, extra and wrongly shaped weights).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/json_checked.h"

namespace spdinfer {

constexpr const char* kModelFormatName = "spdinfer";
constexpr int kModelFormatVersion = 1;
// A file with int8 convolutions (`spdinfer calibrate`): metadata `quantization`, I8 tensors.
// Readers of version 1 refuse it by its version rather than by a tensor's dtype.
constexpr int kQuantizedModelFormatVersion = 2;
// A header larger than this is refused before anything is allocated for it.
constexpr std::uint64_t kMaxHeaderBytes = 64ull << 20;
// The header's JSON (tensor entries are 3 deep), and the most tensors a file may hold.
constexpr JsonLimits kHeaderJsonLimits{8, 4'000'000};
constexpr std::size_t kMaxTensors = 100'000;
// Each JSON metadata value (architecture, preprocess, class names).
constexpr JsonLimits kMetadataJsonLimits{64, 1'000'000};

struct TensorInfo {
  std::string name;
  std::string dtype;  // as stored: "F32", "F16" or "I8"
  Shape shape;
};

struct ModelFile {
  std::string path;
  std::map<std::string, std::string> metadata;
  std::vector<TensorInfo> tensors;  // in file order
  WeightStore weights;              // every tensor, widened to float32

  const std::string& meta(const std::string& key) const;  // throws naming the file when absent
};

// Reads and validates a model file; throws spdinfer::Error("PATH: what is wrong").
ModelFile read_model_file(const std::string& path);
// The same for bytes already in memory; `path` is used in messages only.
// `require_spdinfer_metadata` false accepts any safetensors file (golden dumps).
ModelFile parse_model_file(const std::string& path, const std::uint8_t* bytes, std::size_t size,
                           bool require_spdinfer_metadata = true);
// Reads any safetensors file of F32/F16/I8 tensors with the same checks, without
// requiring spdinfer metadata (golden files use their own format name).
ModelFile read_safetensors(const std::string& path);

}  // namespace spdinfer
