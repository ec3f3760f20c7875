// Who may call what: the operator endpoints (`/admin/...`) and, when it has
// a token of its own, `/metrics` need `Authorization: Bearer <token>`. Pure
// functions, decided in one place for every route (http_api checks them
// before routing), so that an operator endpoint added later is covered too.
#pragma once

#include <string>
#include <string_view>

namespace troupe {

/// How one protected scope is configured.
struct access_policy {
  std::string token; ///< empty: none configured
  bool open = false; ///< without a token: allow everyone (else 403)
};

enum class access_decision {
  allowed,
  unauthorized, ///< 401: a token is configured, the request lacks it
  forbidden,    ///< 403: no token configured and the scope is not open
};

/// The token of an `Authorization: Bearer <token>` header, "" otherwise.
std::string_view bearer_token(std::string_view authorization);

/// Decides a request by its Authorization header; the token is compared in
/// constant time.
access_decision check_access(const access_policy& p,
                             std::string_view authorization);

/// Whether a path is an operator endpoint (`/admin` and below).
bool is_operator_path(std::string_view path);

/// The mode of a policy in words, for the start-up log line.
std::string describe(const access_policy& p);

} // namespace troupe
