// Bytes from the outside world on their way into text columns.
//
// PostgreSQL's text columns (and JSON) hold only valid UTF-8. Anything that
// arrives from Kafka or HTTP may not be: the store keeps a readable
// rendition in text (each byte that is not part of valid UTF-8 becomes the
// four characters \xNN) and, when that differs from the original, the exact
// bytes in a bytea column beside it.
#pragma once

#include <string>
#include <string_view>

namespace troupe::text {

/// Whether `x` is well-formed UTF-8 (no overlongs, surrogates or code
/// points above U+10FFFF).
bool valid_utf8(std::string_view x);

/// `x` with every byte that is not part of a well-formed UTF-8 sequence
/// written as \xNN; `x` itself when it is valid.
std::string escape_invalid(std::string_view x);

/// Lower-case hex of `x` (input of PostgreSQL's decode(..., 'hex')).
std::string hex(std::string_view x);

} // namespace troupe::text
