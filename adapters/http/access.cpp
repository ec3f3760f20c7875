// Bearer-token checks of the HTTP API.
#include "adapters/http/access.hpp"

#include <cctype>

#include "base/secrets.hpp"

namespace troupe {

std::string_view bearer_token(std::string_view h) {
  static constexpr std::string_view scheme = "bearer";
  if (h.size() <= scheme.size())
    return {};
  for (size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(h[i])) != scheme[i])
      return {};
  auto rest = h.substr(scheme.size());
  if (rest.front() != ' ' && rest.front() != '\t')
    return {};
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t'))
    rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t'))
    rest.remove_suffix(1);
  return rest;
}

access_decision check_access(const access_policy& p,
                             std::string_view authorization) {
  if (p.token.empty())
    return p.open ? access_decision::allowed : access_decision::forbidden;
  auto given = bearer_token(authorization);
  if (!given.empty() && secrets::constant_time_equal(given, p.token))
    return access_decision::allowed;
  return access_decision::unauthorized;
}

bool is_operator_path(std::string_view path) {
  // Collapse leading duplicate slashes: "//admin" is "/admin" to a client.
  while (path.size() > 1 && path[0] == '/' && path[1] == '/')
    path.remove_prefix(1);
  static constexpr std::string_view prefix = "/admin";
  if (path.size() < prefix.size())
    return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(path[i])) != prefix[i])
      return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

std::string describe(const access_policy& p) {
  if (!p.token.empty())
    return "token required";
  return p.open ? "open to anyone" : "closed (403)";
}

} // namespace troupe
