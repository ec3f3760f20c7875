// UTF-8 validation by the table of well-formed byte sequences in the
// Unicode standard (Table 3-7), which is RFC 3629's grammar.
#include "base/utf8.hpp"

namespace troupe::utf8 {

namespace {

/// Length of the well-formed sequence starting at `x[i]`, or 0.
size_t sequence_at(std::string_view x, size_t i) noexcept {
  auto byte = [&](size_t k) -> unsigned {
    return static_cast<unsigned char>(x[k]);
  };
  auto in = [](unsigned b, unsigned lo, unsigned hi) {
    return b >= lo && b <= hi;
  };
  auto n = x.size() - i;
  unsigned b0 = byte(i);
  if (b0 < 0x80)
    return 1;
  if (in(b0, 0xC2, 0xDF))
    return n >= 2 && in(byte(i + 1), 0x80, 0xBF) ? 2 : 0;
  if (in(b0, 0xE0, 0xEF)) {
    if (n < 3)
      return 0;
    // E0: no overlongs (below U+0800); ED: no surrogates.
    unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80;
    unsigned hi = b0 == 0xED ? 0x9F : 0xBF;
    return in(byte(i + 1), lo, hi) && in(byte(i + 2), 0x80, 0xBF) ? 3 : 0;
  }
  if (in(b0, 0xF0, 0xF4)) {
    if (n < 4)
      return 0;
    // F0: no overlongs (below U+10000); F4: nothing above U+10FFFF.
    unsigned lo = b0 == 0xF0 ? 0x90 : 0x80;
    unsigned hi = b0 == 0xF4 ? 0x8F : 0xBF;
    return in(byte(i + 1), lo, hi) && in(byte(i + 2), 0x80, 0xBF)
               && in(byte(i + 3), 0x80, 0xBF)
             ? 4
             : 0;
  }
  // 80..BF (continuation without a lead), C0, C1 (overlong), F5..FF.
  return 0;
}

} // namespace

size_t first_invalid(std::string_view x) noexcept {
  size_t i = 0;
  while (i < x.size()) {
    // Fast path over ASCII.
    if (static_cast<unsigned char>(x[i]) < 0x80) {
      ++i;
      continue;
    }
    auto n = sequence_at(x, i);
    if (n == 0)
      return i;
    i += n;
  }
  return std::string_view::npos;
}

size_t length(std::string_view x) noexcept {
  size_t count = 0;
  for (unsigned char c : x)
    if ((c & 0xC0) != 0x80)
      ++count;
  return count;
}

std::string problem(std::string_view x) {
  auto at = first_invalid(x);
  if (at == std::string_view::npos)
    return {};
  return "not valid UTF-8 (byte " + std::to_string(at) + " of "
         + std::to_string(x.size()) + ")";
}

std::string escape(std::string_view x) {
  if (valid(x))
    return std::string{x};
  return excerpt(x, std::string::npos);
}

std::string excerpt(std::string_view x, size_t max_bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  size_t i = 0;
  while (i < x.size()) {
    auto n = sequence_at(x, i);
    auto next = n == 0 ? size_t{4} : n;
    if (max_bytes != std::string::npos && out.size() + next > max_bytes) {
      out += "...";
      break;
    }
    if (n == 0) {
      auto c = static_cast<unsigned char>(x[i]);
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xF];
      ++i;
    } else {
      out.append(x.data() + i, n);
      i += n;
    }
  }
  return out;
}

} // namespace troupe::utf8
