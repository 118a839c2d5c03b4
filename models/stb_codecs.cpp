// The one translation unit that compiles stb_image (JPEG, PNG and BMP decoders
// only: fewer decoders, less attack surface for untrusted files) and
// stb_image_write. Kept apart from models/image.cpp, which calls them, so that
// the sanitizer exceptions stb needs (CMakeLists.txt) cover stb's code and
// nothing of ours.

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
