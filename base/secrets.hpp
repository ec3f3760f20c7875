// Secrets: compared without leaking their length or content through timing,
// and never printed. Every text that may carry a connection URL, a conninfo
// string or a known secret goes through `redact` before it is written to a
// log, an HTTP answer or stderr (the logger does it for every line).
// Thread-safe: secrets are remembered once at start-up, read by any thread.
#pragma once

#include <string>
#include <string_view>

namespace troupe::secrets {

/// Whether `a` equals `b`, in time that depends on the lengths only (not
/// on where the first difference is). For tokens sent by clients.
bool constant_time_equal(std::string_view a, std::string_view b);

/// `text` with passwords masked as `***`: the password of every URL
/// (`scheme://user:password@host`), every `password=...` of a conninfo
/// string or a URL query, and every value passed to `remember`.
std::string redact(std::string_view text);

/// A secret value (token, password) that must never be printed; `redact`
/// masks each occurrence from now on. Values shorter than 4 characters are
/// ignored (they would mask ordinary words).
void remember(std::string value);

/// Forgets remembered values (tests).
void forget_all();

} // namespace troupe::secrets
