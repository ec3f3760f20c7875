// UTF-8 validation (RFC 3629) for text that comes from outside: Kafka keys
// and values, HTTP bodies and headers. Everything Troupe stores or renders
// as text (PostgreSQL text columns, JSON responses, dead-letter causes) must
// be valid UTF-8, so input is checked once, where it enters.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace troupe::utf8 {

/// Index of the first byte of `x` that does not begin a well-formed UTF-8
/// sequence (overlong forms, surrogates U+D800..U+DFFF, code points above
/// U+10FFFF, stray continuation bytes and truncated sequences are all
/// ill-formed), or `std::string_view::npos` when `x` is valid.
size_t first_invalid(std::string_view x) noexcept;

/// Whether `x` is well-formed UTF-8.
inline bool valid(std::string_view x) noexcept {
  return first_invalid(x) == std::string_view::npos;
}

/// Number of code points of valid UTF-8 text `x`.
size_t length(std::string_view x) noexcept;

/// "not valid UTF-8 (byte N of M)" for invalid `x`, "" for valid `x`.
std::string problem(std::string_view x);

/// The readable rendition of arbitrary bytes: `x` with every byte of an
/// ill-formed sequence written as the four characters `\xNN` (lower-case
/// hex); `x` itself when it is valid. Always valid UTF-8.
std::string escape(std::string_view x);

/// `escape(x)` cut (at a character boundary, marked "...") to at most about
/// `max_bytes` bytes, to quote in an error message.
std::string excerpt(std::string_view x, size_t max_bytes = 200);

} // namespace troupe::utf8
