// The UTF-8 validator: every class of ill-formed sequence is found at the
// byte where it starts, and well-formed text of every length passes.
#define CAF_SUITE utf8
#include "base/utf8.hpp"
#include "base/text.hpp"

#include <caf/test/unit_test.hpp>

using namespace troupe;

namespace {

constexpr auto npos = std::string_view::npos;

std::string bytes(std::initializer_list<unsigned> xs) {
  std::string out;
  for (auto x : xs)
    out += static_cast<char>(x);
  return out;
}

} // namespace

CAF_TEST(ascii and the empty string are valid) {
  CAF_CHECK(utf8::valid(""));
  CAF_CHECK(utf8::valid("order 42, sku=ABC-1"));
  CAF_CHECK(utf8::valid(std::string_view{"\0nul inside", 11}));
  CAF_CHECK(utf8::valid(bytes({0x7F})));
}

CAF_TEST(well formed sequences of every length are valid) {
  CAF_CHECK(utf8::valid("caf\xC3\xA9"));             // U+00E9
  CAF_CHECK(utf8::valid(bytes({0xC2, 0x80})));       // U+0080, smallest 2
  CAF_CHECK(utf8::valid(bytes({0xDF, 0xBF})));       // U+07FF
  CAF_CHECK(utf8::valid(bytes({0xE0, 0xA0, 0x80}))); // U+0800, smallest 3
  CAF_CHECK(utf8::valid("\xE2\x82\xAC"));            // U+20AC euro
  CAF_CHECK(utf8::valid(bytes({0xED, 0x9F, 0xBF}))); // U+D7FF, below surrogates
  CAF_CHECK(utf8::valid(bytes({0xEE, 0x80, 0x80}))); // U+E000, above surrogates
  CAF_CHECK(utf8::valid(bytes({0xEF, 0xBF, 0xBF}))); // U+FFFF
  CAF_CHECK(utf8::valid(bytes({0xF0, 0x90, 0x80, 0x80}))); // U+10000
  CAF_CHECK(utf8::valid("\xF0\x9F\x93\xA6"));              // U+1F4E6 package
  CAF_CHECK(utf8::valid(bytes({0xF4, 0x8F, 0xBF, 0xBF}))); // U+10FFFF, largest
}

CAF_TEST(stray continuation bytes and impossible bytes are invalid) {
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0x80})), 0u);
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0x61, 0xBF})), 1u);
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0xFF, 0xFE, 0x20, 0x6A})), 0u);
  for (unsigned b = 0xF5; b <= 0xFF; ++b)
    CAF_CHECK_EQUAL(utf8::first_invalid(bytes({b, 0x80, 0x80, 0x80})), 0u);
}

CAF_TEST(overlong forms are invalid) {
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0xC0, 0xAF})), 0u); // '/'
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0xC1, 0xBF})), 0u);
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0xE0, 0x80, 0xAF})), 0u);
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0xE0, 0x9F, 0xBF})), 0u);
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0xF0, 0x80, 0x80, 0xAF})), 0u);
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0xF0, 0x8F, 0xBF, 0xBF})), 0u);
}

CAF_TEST(surrogates are invalid) {
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0xED, 0xA0, 0x80})), 0u); // D800
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0xED, 0xBF, 0xBF})), 0u); // DFFF
  // A surrogate pair encoded as two 3-byte sequences (CESU-8).
  CAF_CHECK_EQUAL(
    utf8::first_invalid(bytes({0x41, 0xED, 0xA0, 0xBD, 0xED, 0xB2, 0xA9})), 1u);
}

CAF_TEST(code points above U + 10FFFF are invalid) {
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0xF4, 0x90, 0x80, 0x80})), 0u);
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0xF7, 0xBF, 0xBF, 0xBF})), 0u);
}

CAF_TEST(truncated sequences are invalid) {
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0xC3})), 0u);
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0x61, 0x62, 0xE2, 0x82})), 2u);
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0xF0, 0x9F, 0x93})), 0u);
  // Cut short by a following ASCII byte, not by the end.
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0xE2, 0x82, 0x41})), 0u);
  CAF_CHECK_EQUAL(utf8::first_invalid(bytes({0xC3, 0xA9, 0xC3, 0x41})), 2u);
}

CAF_TEST(the first invalid byte is reported after valid text) {
  auto x = std::string{"caf\xC3\xA9 "} + bytes({0xFF});
  CAF_CHECK_EQUAL(utf8::first_invalid(x), 6u);
  CAF_CHECK_EQUAL(utf8::problem(x), "not valid UTF-8 (byte 6 of 7)");
  CAF_CHECK_EQUAL(utf8::problem("fine"), "");
}

CAF_TEST(length counts code points) {
  CAF_CHECK_EQUAL(utf8::length(""), 0u);
  CAF_CHECK_EQUAL(utf8::length("abc"), 3u);
  CAF_CHECK_EQUAL(utf8::length("caf\xC3\xA9\xF0\x9F\x93\xA6"), 5u);
}

CAF_TEST(escape writes each invalid byte as hex and keeps the rest) {
  CAF_CHECK_EQUAL(utf8::escape(bytes({0xFF, 0xFE, 0x20, 0x6A, 0xC3, 0x28})),
                  "\\xff\\xfe j\\xc3(");
  CAF_CHECK_EQUAL(utf8::escape("caf\xC3\xA9"), "caf\xC3\xA9");
  auto big = std::string(300000, 'x') + "\xFF";
  auto shown = utf8::escape(big);
  CAF_CHECK_EQUAL(shown.size(), big.size() + 3);
  CAF_CHECK(utf8::valid(shown));
}

CAF_TEST(excerpts escape invalid bytes and stay valid when cut) {
  CAF_CHECK_EQUAL(utf8::excerpt(bytes({0xFF, 0xFE, 0x20, 0x6A})),
                  "\\xff\\xfe j");
  CAF_CHECK_EQUAL(utf8::excerpt("caf\xC3\xA9"), "caf\xC3\xA9");
  // A cut never splits a character.
  auto cut = utf8::excerpt("ab\xE2\x82\xAC\xE2\x82\xAC", 6);
  CAF_CHECK_EQUAL(cut, "ab\xE2\x82\xAC...");
  CAF_CHECK(utf8::valid(cut));
  CAF_CHECK(utf8::excerpt(std::string(100000, 'x')).size() <= 203u);
}

CAF_TEST(ascii_lower folds ASCII letters only) {
  CAF_CHECK_EQUAL(ascii_lower("Content-TYPE"), "content-type");
  CAF_CHECK_EQUAL(ascii_lower("\xC3\x89t\xC3\xA9"), "\xC3\x89t\xC3\xA9");
}

CAF_TEST(iso8601 writes UTC with milliseconds) {
  auto t = std::chrono::system_clock::time_point{}
           + std::chrono::milliseconds(1764696631042);
  CAF_CHECK_EQUAL(iso8601(t), "2025-12-02T17:30:31.042Z");
}
