// The one translation unit that compiles stb_image (JPEG, PNG and BMP decoders
// only: fewer decoders, less attack surface for untrusted files) and
// stb_image_write. Kept apart from image/image.cpp, which calls them, so that
// the sanitizer exceptions stb needs (CMakeLists.txt) cover stb's code and
// nothing of ours. stb_image allocates through StbAllocationLimit's bound.
#include "image/stb_codecs.h"

#include <cstdlib>

namespace spdinfer {
namespace {

// Per thread: decoding runs on the caller's thread, and images may decode on several at once.
thread_local std::size_t t_max_bytes = 0;  // 0: no limit
thread_local bool t_exceeded = false;

bool refused(std::size_t bytes) {
  if (t_max_bytes == 0 || bytes <= t_max_bytes) return false;
  t_exceeded = true;
  return true;
}

void* bounded_malloc(std::size_t bytes) { return refused(bytes) ? nullptr : std::malloc(bytes); }
void* bounded_realloc(void* p, std::size_t bytes) { return refused(bytes) ? nullptr : std::realloc(p, bytes); }

}  // namespace

StbAllocationLimit::StbAllocationLimit(std::size_t max_bytes) {
  t_max_bytes = max_bytes;
  t_exceeded = false;
}
StbAllocationLimit::~StbAllocationLimit() { t_max_bytes = 0; }
bool StbAllocationLimit::exceeded() const { return t_exceeded; }

}  // namespace spdinfer

#define STBI_MALLOC(bytes) spdinfer::bounded_malloc(bytes)
#define STBI_REALLOC(p, bytes) spdinfer::bounded_realloc(p, bytes)
#define STBI_FREE(p) std::free(p)

// Third-party code: its own warnings (-Wextra's missing initialisers, ...)
// are not ours to fix.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_NO_HDR
#define STBI_NO_LINEAR
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#pragma GCC diagnostic pop
