// What each libFuzzer target does with one input, shared by the fuzz targets
// (tests/fuzz/fuzz_*.cpp, built with clang -fsanitize=fuzzer) and the Catch2
// replay of the seed corpora and the crash regressions
// (tests/models/test_fuzz_regressions.cpp, built by every compiler).
//
// The contract under test: any input either works or throws spdinfer::Error.
// Only spdinfer::Error is caught here; any other exception escapes and is a
// crash (libFuzzer reports it as a deadly signal, the Catch2 replay as a
// failure), as is every sanitizer report.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/error.h"
#include "engine/graph.h"
#include "engine/model_file.h"
#include "image/image.h"
#include "image/preprocess.h"
#include "image/stb_input_check.h"
#include "models/model.h"

#include <stb/stb_image.h>  // declarations only: image/stb_codecs.cpp compiles stb_image
#include <sys/mman.h>       // memfd_create
#include <unistd.h>

namespace spdinfer::fuzz {

// How far one input got, for the replay test to check that seeds reach deep.
enum class Stage { kRejected, kParsed, kBuilt, kPlanned, kRan };

// A broken invariant that is not an exception: abort so the fuzzer keeps the input.
inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

// ---------------------------------------------------------------- model file
// The input is a model file's bytes. Parsed as a spdinfer model file and as a
// plain safetensors file (no metadata required); what parses must be
// consistent.
inline Stage model_file(const std::uint8_t* data, std::size_t size) {
  Stage stage = Stage::kRejected;
  for (bool require_metadata : {true, false}) {
    try {
      ModelFile f = parse_model_file("fuzz.safetensors", data, size, require_metadata);
      check(f.tensors.size() == f.weights.size(), "one weight per tensor entry");
      for (const TensorInfo& t : f.tensors) {
        auto it = f.weights.find(t.name);
        check(it != f.weights.end(), "every tensor entry has its weight");
        check(it->second.shape() == t.shape, "weight shape is the entry's shape");
        check(t.dtype == "F32" || t.dtype == "F16", "dtype is F32 or F16");
      }
      if (require_metadata) check(f.meta("format") == kModelFormatName, "format checked");
      stage = Stage::kParsed;
    } catch (const Error&) {
    }
  }
  return stage;
}

// -------------------------------------------------------------- architecture
// Bounds on the work one input may cause, so a valid but huge architecture is
// skipped rather than timing out the fuzzer.
constexpr double kMaxMacs = 50e6;                       // per forward pass
constexpr std::size_t kMaxRunBytes = 64u << 20;         // arena + workspace + input
constexpr int64_t kMaxTensorFloats = 1 << 20;           // one synthesized weight
constexpr int64_t kMaxWeightFloats = 2 << 20;           // all weights together
constexpr int kMaxBuildRounds = 400;                    // builds while adding missing weights
constexpr int64_t kMaxBuildWorkFloats = 64 << 20;       // weight floats built, summed over the rounds
constexpr std::size_t kMaxBuildWorkTensors = 4000;      // tensors bound, summed over the rounds
constexpr int64_t kMaxInputSide = 256;

// FNV-1a: a hash that is the same for every compiler, so a regression input
// replays identically in the gcc test build and the clang fuzz build.
inline std::uint32_t fnv1a(const std::string& s) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

// Weight and input values: from the raw bytes after the spec when there are
// any (so NaN, Inf, huge and denormal values are reachable), else small
// deterministic values. BatchNorm variances are made positive and finite
// (|v|, 1 for NaN or Inf) unless `raw_variance`: a single bad variance
// refuses the whole model, which would hide every other special value.
class ValueSource {
 public:
  ValueSource(const std::uint8_t* bytes, std::size_t size, bool raw_variance = false)
      : floats_(size / 4), raw_variance_(raw_variance) {
    if (!floats_.empty()) std::memcpy(floats_.data(), bytes, floats_.size() * 4);
  }
  void fill(Tensor& t, const std::string& name) const {
    const std::uint32_t seed = fnv1a(name);
    const bool variance = name.size() >= 11 && name.compare(name.size() - 11, 11, "running_var") == 0;
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (!floats_.empty()) {
        const float v = floats_[(seed + static_cast<std::uint64_t>(i)) % floats_.size()];
        t[i] = !variance || raw_variance_ ? v : std::isfinite(v) ? std::fabs(v) : 1.0f;
      } else {
        const std::uint32_t r = (seed + static_cast<std::uint32_t>(i) * 2654435761u) >> 16;  // 0..65535
        const float u = static_cast<float>(r) / 65536.0f;                                  // [0, 1)
        t[i] = variance ? 0.5f + u : (u - 0.5f) * 0.5f;
      }
    }
  }

 private:
  std::vector<float> floats_;
  bool raw_variance_;
};

// "... tensor 'NAME' is missing (the architecture needs shape (a, b, c))":
// the weight the builder asked for (models/weight_binder.cpp's message).
inline std::optional<std::pair<std::string, Shape>> missing_tensor(const std::string& message) {
  static const std::string kTail = "' is missing (the architecture needs shape (";
  const std::size_t tail = message.find(kTail);
  if (tail == std::string::npos) return std::nullopt;
  const std::size_t head = message.rfind("tensor '", tail);
  if (head == std::string::npos) return std::nullopt;
  std::pair<std::string, Shape> out;
  out.first = message.substr(head + 8, tail - head - 8);
  std::size_t i = tail + kTail.size();
  while (i < message.size() && message[i] != ')') {
    char* end = nullptr;
    const long long d = std::strtoll(message.c_str() + i, &end, 10);
    if (end == message.c_str() + i) return std::nullopt;
    out.second.push_back(d);
    i = static_cast<std::size_t>(end - message.c_str());
    if (i < message.size() && message[i] == ',') ++i;
    while (i < message.size() && message[i] == ' ') ++i;
  }
  return out;
}

// "... tensor 'NAME' is not used by the architecture ...": the first weight left over.
inline std::optional<std::string> unused_tensor(const std::string& message) {
  static const std::string kTail = "' is not used by the architecture";
  const std::size_t tail = message.find(kTail);
  if (tail == std::string::npos) return std::nullopt;
  const std::size_t head = message.rfind("tensor '", tail);
  if (head == std::string::npos) return std::nullopt;
  return message.substr(head + 8, tail - head - 8);
}

inline int64_t floats_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0 || (d > 0 && n > std::numeric_limits<int64_t>::max() / d)) return std::numeric_limits<int64_t>::max();
    n *= d;
  }
  return n;
}

// Plans the model for one input shape and, when the plan is within the
// budget, runs it once.
inline Stage plan_and_run(const Model& m, const Shape& input_shape, int threads, const ValueSource& values) {
  if (input_shape.size() > 6 || floats_of(input_shape) > (1 << 20)) return Stage::kBuilt;
  std::shared_ptr<const ExecutionPlan> plan;
  try {
    plan = m.graph->plan({input_shape});
  } catch (const Error&) {
    return Stage::kBuilt;
  }
  std::size_t workspace = 0;
  for (std::size_t i = 0; i < m.graph->nodes().size(); ++i)
    workspace = std::max(workspace, plan->kernel(i).workspace_floats(threads));
  const double bytes = static_cast<double>(plan->planned_bytes()) + 4.0 * static_cast<double>(workspace) +
                       4.0 * static_cast<double>(floats_of(input_shape));
  if (plan->total_macs() > kMaxMacs || bytes > static_cast<double>(kMaxRunBytes)) return Stage::kPlanned;
  Tensor x(input_shape);
  values.fill(x, "input");
  RunOptions options;
  options.threads = threads;
  std::vector<Tensor> out;
  try {
    out = plan->run({&x}, options);
  } catch (const Error&) {
    return Stage::kPlanned;
  }
  check(out.size() == m.graph->def().outputs.size(), "one tensor per graph output");
  for (std::size_t i = 0; i < out.size(); ++i)
    check(out[i].shape() == plan->value_shape(m.graph->def().outputs[i]), "output has its planned shape");
  return Stage::kRan;
}

// build_model on a model file with `metadata` and the weights `given`, plus
// every weight the builder asks for that is not given, made with the shape
// it asks for (values from `values`): the build is retried after each
// "tensor '...' is missing" until it succeeds or fails for another reason.
// A missing 1-D `P.weight` is a BatchNorm's, so its bias and running
// statistics are added in the same round (guesses, dropped again if the
// builder says it does not use them): builds are the fuzzer's main cost.
// Returns the model, or nothing with `error` set to the build's message.
inline std::optional<Model> build_with_weights(const std::map<std::string, std::string>& metadata,
                                               std::map<std::string, Shape> tensors, const ValueSource& values,
                                               std::string* error = nullptr) {
  int64_t total = 0;
  for (const auto& [name, shape] : tensors) total += floats_of(shape);
  auto fail = [&](const std::string& why) {
    if (error) *error = why;
    return std::nullopt;
  };
  if (total > kMaxWeightFloats) return fail("fuzz harness: the given weights exceed its budget");
  std::map<std::string, Tensor> made;
  std::set<std::string> guessed;
  auto add = [&](const std::string& name, const Shape& shape, bool guess) {
    const int64_t n = floats_of(shape);
    if (n > kMaxTensorFloats || (total += n) > kMaxWeightFloats) return false;
    tensors[name] = shape;
    if (guess) guessed.insert(name);
    return true;
  };
  // Every round clones, binds and folds all the weights so far: without these bounds a wide
  // model asking for its ~100 tensors one at a time, or a deep one for its ~200, took over 10 s
  // (fuzzer timeouts) in the harness alone; one build of either takes milliseconds.
  int64_t work_floats = 0;
  std::size_t work_tensors = 0;
  for (int round = 0; round < kMaxBuildRounds; ++round) {
    if ((work_floats += total) > kMaxBuildWorkFloats || (work_tensors += tensors.size()) > kMaxBuildWorkTensors)
      return fail("fuzz harness: building exceeds its budget");
    ModelFile file;
    file.path = "fuzz.safetensors";
    file.metadata = metadata;
    for (const auto& [name, shape] : tensors) {
      auto it = made.find(name);
      if (it == made.end() || it->second.shape() != shape) {
        Tensor t(shape);
        values.fill(t, name);
        it = made.insert_or_assign(name, std::move(t)).first;
      }
      file.weights.emplace(name, it->second.clone());
      file.tensors.push_back(TensorInfo{name, "F32", shape});
    }
    try {
      return build_model(std::move(file));
    } catch (const Error& e) {
      const std::string message = e.what();
      auto need = missing_tensor(message);
      if (!need) {
        auto unused = unused_tensor(message);
        if (!unused || !guessed.erase(*unused)) return fail(message);
        total -= floats_of(tensors[*unused]);
        tensors.erase(*unused);
        continue;
      }
      if (tensors.count(need->first)) return fail(message);
      if (!add(need->first, need->second, false)) return fail("fuzz harness: weights exceed its budget");
      const std::string& name = need->first;
      if (need->second.size() == 1 && name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0) {
        const std::string prefix = name.substr(0, name.size() - 7);
        for (const char* part : {".bias", ".running_mean", ".running_var"})
          if (!tensors.count(prefix + part) && !add(prefix + part, need->second, true))
            return fail("fuzz harness: weights exceed its budget");
      }
    }
  }
  return fail("fuzz harness: too many build rounds");
}

// The metadata map of a spec's "metadata" object: strings as they are, other
// values dumped to JSON; format and version filled in, a 32x32 preprocess
// when there is none.
inline std::map<std::string, std::string> metadata_of(const nlohmann::json& meta) {
  std::map<std::string, std::string> metadata = {
      {"format", kModelFormatName}, {"format_version", std::to_string(kModelFormatVersion)}};
  for (const auto& [key, v] : meta.items())
    metadata[key] =
        v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (!metadata.count("preprocess")) metadata["preprocess"] = R"({"input_size": [32, 32]})";
  return metadata;
}

// The input is a JSON spec, optionally followed by a NUL byte and raw bytes
// that become the weight and input values (little-endian float32):
//   {"metadata": {"family": "yolov5", "architecture": {...}, "preprocess": {...},
//                 "class_names": [...]},       // non-string values are dumped to JSON
//    "tensors": {"name": [dims], ...},         // weights given up front (optional)
//    "input": [N, C, H, W],                    // default (1, 3, preprocess size up to 128)
//    "threads": 1 or 2,
//    "raw_variance": true}                     // BatchNorm variances as given too (see ValueSource)
// Weights the builder asks for that the spec does not give are made by
// build_with_weights: so a fuzzed architecture gets past the weight checks
// to the graph, the plan and a run.
inline Stage architecture(const std::uint8_t* data, std::size_t size) {
  const std::uint8_t* end = data + size;
  const std::uint8_t* nul = std::find(data, end, std::uint8_t{0});
  const nlohmann::json spec = nlohmann::json::parse(data, nul, nullptr, /*allow_exceptions=*/false);
  if (!spec.is_object()) return Stage::kRejected;
  auto raw = spec.find("raw_variance");
  const ValueSource values(nul == end ? end : nul + 1, nul == end ? 0 : static_cast<std::size_t>(end - nul - 1),
                           raw != spec.end() && raw->is_boolean() && raw->get<bool>());
  auto meta = spec.find("metadata");
  if (meta == spec.end() || !meta->is_object()) return Stage::kRejected;

  std::map<std::string, Shape> tensors;
  auto given = spec.find("tensors");
  if (given != spec.end() && given->is_object()) {
    for (const auto& [name, dims] : given->items()) {
      if (!dims.is_array() || dims.size() > 8) return Stage::kRejected;
      Shape s;
      for (const auto& d : dims) {
        if (!d.is_number_integer() || d.get<int64_t>() < 0 || d.get<int64_t>() > kMaxTensorFloats)
          return Stage::kRejected;
        s.push_back(d.get<int64_t>());
      }
      if (floats_of(s) > kMaxTensorFloats) return Stage::kRejected;
      tensors[name] = s;
    }
  }
  std::optional<Model> model = build_with_weights(metadata_of(*meta), std::move(tensors), values);
  if (!model) return Stage::kRejected;
  check(model->graph != nullptr, "a built model has a graph");
  (void)model->node_for_module("model.0");

  Shape input{1, 3, std::min(model->preprocess.height, 128), std::min(model->preprocess.width, 128)};
  auto in = spec.find("input");
  if (in != spec.end() && in->is_array()) {
    input.clear();
    for (const auto& d : *in) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0 || d.get<int64_t>() > kMaxInputSide) return Stage::kBuilt;
      input.push_back(d.get<int64_t>());
    }
  }
  int threads = 1;
  auto th = spec.find("threads");
  if (th != spec.end() && th->is_number_integer() && th->get<int64_t>() == 2) threads = 2;
  return plan_and_run(*model, input, threads, values);
}

// --------------------------------------------------------------------- image
// Images that decode but are larger than this are skipped (decoding and
// resizing them is slow, not interesting); larger claims that load_image
// refuses from the header alone are still fed to it.
constexpr std::int64_t kMaxFuzzPixels = 1 << 22;

// load_image takes a path (image/image.h has no decoder for bytes in
// memory): the bytes go into one memory-backed file, reached by its
// /proc/self/fd path, rewritten for every input.
class MemoryFile {
 public:
  MemoryFile() : fd_(memfd_create("spdinfer-fuzz-image", 0)) {
    check(fd_ >= 0, "memfd_create");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemoryFile() { close(fd_); }
  const std::string& write(const std::uint8_t* data, std::size_t size) {
    check(ftruncate(fd_, 0) == 0, "ftruncate");
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      check(n > 0, "pwrite");
      done += static_cast<std::size_t>(n);
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

// The input is an image file's bytes (JPEG, PNG, BMP, or anything else).
// Decoded with load_image, then through each preprocessing path with
// output sizes chosen from a hash of the input (so each input is
// deterministic): the classifier resize modes, YOLOv5's letterbox, plain
// bilinear resizing, normalisation to a tensor.
inline Stage image(const std::uint8_t* data, std::size_t size) {
  if (size > static_cast<std::size_t>(std::numeric_limits<int>::max())) return Stage::kRejected;
  // The size probe reads the header with stb: only after the check load_image does first.
  const bool safe_for_stb = unsafe_for_stb(data, size).empty();
  int w = 0, h = 0, c = 0;
  if (safe_for_stb && stbi_info_from_memory(data, static_cast<int>(size), &w, &h, &c) && w > 0 && h > 0 && w <= kMaxImageSide &&
      h <= kMaxImageSide && static_cast<std::int64_t>(w) * h <= kMaxImagePixels &&
      static_cast<std::int64_t>(w) * h > kMaxFuzzPixels)
    return Stage::kRejected;
  static MemoryFile file;
  Image img;
  try {
    img = load_image(file.write(data, size));
  } catch (const Error&) {
    return Stage::kRejected;
  }
  check(img.width > 0 && img.height > 0, "decoded image has a size");
  check(img.pixels.size() == static_cast<std::size_t>(img.width) * img.height * 3, "3 bytes per pixel");

  std::string text(reinterpret_cast<const char*>(data), size);
  const std::uint32_t hash = fnv1a(text);
  Preprocess p;
  p.height = 1 + static_cast<int>(hash % 97);
  p.width = 1 + static_cast<int>((hash >> 8) % 97);
  p.scale = 1.0f / 255;
  p.mean = {0.485f, 0.456f, 0.406f};
  p.std = {0.229f, 0.224f, 0.225f};
  for (const char* mode : {"resize", "resize_crop", "letterbox"}) {
    p.resize = mode;
    const Image r = resize_for_classifier(img, p);
    check(r.width == p.width && r.height == p.height, "classifier input has the model's size");
    check(r.pixels.size() == static_cast<std::size_t>(r.width) * r.height * 3, "3 bytes per pixel");
    const Tensor t = image_to_tensor(r, p);
    check(t.shape() == Shape{1, 3, p.height, p.width}, "tensor is (1, 3, H, W)");
    for (int64_t i = 0; i < t.numel(); ++i) check(std::isfinite(t[i]), "normalised pixels are finite");
  }
  const int target = 32 * (1 + static_cast<int>((hash >> 16) % 4));
  const bool minimal = (hash >> 20) & 1, scaleup = (hash >> 21) & 1;
  const LetterboxGeometry g = letterbox_geometry(img.width, img.height, target, target, 32, minimal, scaleup);
  check(g.out_w <= std::max(target, g.resized_w) && g.out_h <= std::max(target, g.resized_h), "letterbox fits");
  const Image lb = letterbox(img, g, 114, (hash >> 22) & 1);
  check(lb.width == g.out_w && lb.height == g.out_h, "letterbox has its geometry's size");
  const Image small = resize_bilinear(img, 1 + static_cast<int>((hash >> 23) % 50),
                                      1 + static_cast<int>((hash >> 27) % 30), (hash >> 24) & 1);
  check(small.pixels.size() == static_cast<std::size_t>(small.width) * small.height * 3, "3 bytes per pixel");
  return Stage::kRan;
}

}  // namespace spdinfer::fuzz
