// The activation-memory budget: the most memory one forward pass may take for
// its intermediate values, the kernels' workspace, its input and its outputs.
// Checked from the execution plan before anything is allocated, so a model
// whose layers grow a tensor to gigabytes (a hostile Upsample chain, a huge
// input size) is refused with the figures instead of exhausting the machine.
#pragma once

#include <cstddef>
#include <string>

namespace spdinfer {

// 2 GiB: YOLOv5n's layer outputs take 17 MB at 640 x 640 and batch 1 (about 1.1 GB at
// 1280 x 1280 and batch 16), while a hostile model is stopped well before it takes the
// machine. Raised per run with a command's --memory-limit or SPDINFER_MEMORY_LIMIT.
constexpr std::size_t kDefaultMemoryLimitBytes = std::size_t{2} << 30;
// Sizes the plan adds up stay far from overflowing: 50,000 values of 1 TiB each fit in 64 bits.
constexpr std::size_t kMaxMemoryLimitBytes = std::size_t{1} << 40;
constexpr const char* kMemoryLimitVariable = "SPDINFER_MEMORY_LIMIT";

// "4G", "512M", "64K" (powers of 1024; a trailing "iB" or "B" is allowed) or plain bytes.
// Throws spdinfer::Error naming `what` (the option or variable) for anything else, for 0 and for
// more than kMaxMemoryLimitBytes.
std::size_t parse_memory_size(const std::string& text, const std::string& what);

// The budget in force: the one set last, else SPDINFER_MEMORY_LIMIT, else the default.
std::size_t memory_limit_bytes();
void set_memory_limit_bytes(std::size_t bytes);

// Throws spdinfer::Error "needs N bytes (...) of activation memory, more than the limit of L;
// raise it with --memory-limit or SPDINFER_MEMORY_LIMIT" when `needed` is over the budget.
// `detail` says what the bytes are made of.
void check_memory_budget(std::size_t needed, const std::string& detail);

// The most bytes all layers of one forward pass may write, as a multiple of the budget: a bound on
// the work a model asks for, since the time a pass takes grows with the memory its layers write.
// 49,000 weightless Upsample layers over a 640 x 640 image write 240 GB (100 s here); YOLOv5n at
// 640 x 640 writes 98 MB.
constexpr std::size_t kLayerOutputsPerBudget = 32;

// Throws spdinfer::Error "its layers write N in one forward pass, more than 32 x ..." when
// `bytes`, the sum of every layer's output, is over kLayerOutputsPerBudget x the budget.
void check_layer_output_total(std::size_t bytes);

// 1536 MiB -> "1.5 GiB", 2048 -> "2.0 KiB": for messages.
std::string memory_size_text(std::size_t bytes);

}  // namespace spdinfer
