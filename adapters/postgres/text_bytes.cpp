// UTF-8 checks and the readable rendition of arbitrary bytes.
#include "text_bytes.hpp"

#include <cstdint>

namespace troupe::text {

namespace {

/// Length of the well-formed UTF-8 sequence at `x[i]`, or 0.
size_t sequence_at(std::string_view x, size_t i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(x[k]); };
  auto c = b(i);
  if (c < 0x80)
    return 1;
  size_t n = 0;
  uint8_t lo = 0x80;
  uint8_t hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0)
      lo = 0xA0; // no overlongs
    else if (c == 0xED)
      hi = 0x9F; // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F; // at most U+10FFFF
  } else {
    return 0;
  }
  if (i + n > x.size())
    return 0;
  if (b(i + 1) < lo || b(i + 1) > hi)
    return 0;
  for (size_t k = 2; k < n; ++k)
    if (b(i + k) < 0x80 || b(i + k) > 0xBF)
      return 0;
  return n;
}

constexpr const char* digits = "0123456789abcdef";

} // namespace

bool valid_utf8(std::string_view x) {
  for (size_t i = 0; i < x.size();) {
    auto n = sequence_at(x, i);
    if (n == 0)
      return false;
    i += n;
  }
  return true;
}

std::string escape_invalid(std::string_view x) {
  if (valid_utf8(x))
    return std::string{x};
  std::string out;
  out.reserve(x.size() + 16);
  for (size_t i = 0; i < x.size();) {
    auto n = sequence_at(x, i);
    if (n == 0) {
      auto c = static_cast<uint8_t>(x[i]);
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 0xF];
      ++i;
    } else {
      out.append(x.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string hex(std::string_view x) {
  std::string out;
  out.reserve(x.size() * 2);
  for (unsigned char c : x) {
    out += digits[c >> 4];
    out += digits[c & 0xF];
  }
  return out;
}

} // namespace troupe::text
