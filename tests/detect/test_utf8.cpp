// Tests of detect/utf8: valid text decodes exactly, every kind of ill-formed
// sequence becomes U+FFFD per maximal subpart, and random bytes never read
// past the end or yield a value that is not a scalar value.
#include <catch2/catch.hpp>

#include <random>

#include "detect/utf8.h"

using namespace spdinfer;

TEST_CASE("valid UTF-8 decodes to its code points", "[utf8]") {
  CHECK(decode_utf8("") == U"");
  CHECK(decode_utf8("bus") == U"bus");
  CHECK(decode_utf8("caf\xC3\xA9") == U"caf\u00E9");
  CHECK(decode_utf8("\xE7\x8C\xAB") == U"\u732B");                           // 猫, 3 bytes
  CHECK(decode_utf8("\xF0\x9F\x9A\x8C") == U"\U0001F68C");                   // bus emoji, 4 bytes
  CHECK(decode_utf8("\xF4\x8F\xBF\xBF") == U"\U0010FFFF");                   // the last code point
  CHECK(decode_utf8(std::string("a\0b", 3)) == std::u32string(U"a\0b", 3));  // NUL is a character
}

TEST_CASE("ill-formed UTF-8 becomes U+FFFD, one per maximal subpart", "[utf8]") {
  CHECK(decode_utf8("\x80") == U"\uFFFD");                      // continuation with no lead
  CHECK(decode_utf8("\xC0\xAF") == U"\uFFFD\uFFFD");            // overlong lead, then a lone continuation
  CHECK(decode_utf8("\xE0\x80\x80") == U"\uFFFD\uFFFD\uFFFD");  // overlong 3-byte form
  CHECK(decode_utf8("\xED\xA0\x80") == U"\uFFFD\uFFFD\uFFFD");  // a surrogate
  CHECK(decode_utf8("\xF4\x90\x80\x80") == U"\uFFFD\uFFFD\uFFFD\uFFFD");  // above U+10FFFF
  CHECK(decode_utf8("\xFF") == U"\uFFFD");
  CHECK(decode_utf8("\xE7\x8C") == U"\uFFFD");                    // cut short at the end: one replacement
  CHECK(decode_utf8("\xE7\x8Cx") == U"\uFFFDx");                  // cut short by an ASCII byte, which is kept
  CHECK(decode_utf8("\xF0\x9F\x9A\xC3\xA9") == U"\uFFFD\u00E9");  // cut short by a new character
}

TEST_CASE("random bytes decode to scalar values only", "[utf8]") {
  std::mt19937 rng(27);
  std::uniform_int_distribution<int> byte(0, 255), length(0, 12);
  for (int round = 0; round < 20000; ++round) {
    std::string s(length(rng), '\0');
    for (char& c : s) c = static_cast<char>(byte(rng));
    const std::u32string cps = decode_utf8(s);
    REQUIRE(cps.size() <= s.size());
    for (const char32_t cp : cps) {
      REQUIRE(cp <= 0x10FFFF);
      REQUIRE_FALSE((cp >= 0xD800 && cp <= 0xDFFF));
    }
  }
}
