// Masking of passwords in printed text, and constant-time comparison.
#include "base/secrets.hpp"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <vector>

namespace troupe::secrets {

namespace {

constexpr std::string_view mask = "***";

std::mutex mtx;
std::vector<std::string> known; ///< guarded by mtx

bool ieq(std::string_view text, size_t at, std::string_view word) {
  if (at + word.size() > text.size())
    return false;
  for (size_t i = 0; i < word.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[at + i])) != word[i])
      return false;
  return true;
}

bool url_delimiter(char c) {
  return std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\''
         || c == '<' || c == '>' || c == '`';
}

/// Masks `user:password@` after each `://`.
std::string mask_userinfo(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    auto scheme = in.find("://", i);
    if (scheme == std::string_view::npos) {
      out.append(in.substr(i));
      break;
    }
    auto start = scheme + 3;
    out.append(in.substr(i, start - i));
    // The authority ends at '/', '?', '#' or a delimiter; the userinfo is
    // what precedes its last '@'.
    size_t end = start;
    while (end < in.size() && in[end] != '/' && in[end] != '?' && in[end] != '#'
           && !url_delimiter(in[end]))
      ++end;
    auto authority = in.substr(start, end - start);
    auto at = authority.rfind('@');
    auto colon = at == std::string_view::npos ? std::string_view::npos
                                              : authority.find(':');
    if (colon != std::string_view::npos && colon < at) {
      out.append(authority.substr(0, colon + 1));
      out.append(mask);
      out.append(authority.substr(at));
    } else {
      out.append(authority);
    }
    i = end;
  }
  return out;
}

/// Masks the value of each `password=` (conninfo keyword or URL query
/// parameter; a quoted conninfo value may contain spaces).
std::string mask_password_keys(std::string_view in) {
  static constexpr std::string_view key = "password";
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    if (!ieq(in, i, key)) {
      out += in[i++];
      continue;
    }
    // Only whole keywords: "password" not preceded by a letter or digit.
    if (i > 0 && std::isalnum(static_cast<unsigned char>(in[i - 1]))) {
      out += in[i++];
      continue;
    }
    size_t j = i + key.size();
    while (j < in.size() && in[j] == ' ')
      ++j;
    if (j >= in.size() || in[j] != '=') {
      out.append(in.substr(i, key.size()));
      i += key.size();
      continue;
    }
    ++j;
    while (j < in.size() && in[j] == ' ')
      ++j;
    out.append(in.substr(i, j - i));
    out.append(mask);
    if (j < in.size() && in[j] == '\'') {
      ++j;
      while (j < in.size() && in[j] != '\'') {
        if (in[j] == '\\' && j + 1 < in.size())
          ++j;
        ++j;
      }
      if (j < in.size())
        ++j; // the closing quote
    } else {
      while (j < in.size() && in[j] != '&' && in[j] != '#'
             && !url_delimiter(in[j]))
        ++j;
    }
    i = j;
  }
  return out;
}

} // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Every byte of the longer input is read, so the time depends on the
  // lengths only; a length mismatch folds into the result.
  size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

std::string redact(std::string_view text) {
  auto out = mask_password_keys(mask_userinfo(text));
  std::lock_guard<std::mutex> guard{mtx};
  for (auto& s : known) {
    for (auto pos = out.find(s); pos != std::string::npos;
         pos = out.find(s, pos + mask.size()))
      out.replace(pos, s.size(), mask);
  }
  return out;
}

void remember(std::string value) {
  if (value.size() < 4)
    return;
  std::lock_guard<std::mutex> guard{mtx};
  if (std::find(known.begin(), known.end(), value) == known.end())
    known.push_back(std::move(value));
  // Longest first, so that a secret containing another is masked whole.
  std::sort(known.begin(), known.end(),
            [](const std::string& x, const std::string& y) {
              return x.size() > y.size();
            });
}

void forget_all() {
  std::lock_guard<std::mutex> guard{mtx};
  known.clear();
}

} // namespace troupe::secrets
