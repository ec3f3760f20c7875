// Small text helpers every module shares: ASCII case folding and the UTC
// timestamps Troupe writes into events and log lines.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace troupe {

/// `x` with ASCII letters in lower case (HTTP header names, UUIDs, enum
/// spellings); other bytes unchanged.
std::string ascii_lower(std::string_view x);

/// ISO 8601 in UTC with milliseconds, e.g. 2026-12-02T17:30:31.042Z.
std::string iso8601(std::chrono::system_clock::time_point t);

/// `iso8601` of now.
std::string iso8601_now();

/// Whether `x` is a UUID in canonical text form (what PostgreSQL's `::uuid`
/// cast accepts as Troupe writes it).
bool is_uuid(std::string_view x);

} // namespace troupe
