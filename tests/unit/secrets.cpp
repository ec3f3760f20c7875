// Secrets: tokens compare equal only when identical (whatever the lengths),
// and no password or remembered secret survives redaction, in URLs,
// conninfo strings or free text, while the rest of the text stays readable.
#define CAF_SUITE secrets
#include "base/secrets.hpp"

#include <caf/test/unit_test.hpp>

#include "adapters/http/access.hpp"

using namespace troupe;

CAF_TEST(constant time comparison is plain equality) {
  using secrets::constant_time_equal;
  CAF_CHECK(constant_time_equal("", ""));
  CAF_CHECK(
    constant_time_equal("s3cret-token-0123456789", "s3cret-token-0123456789"));
  CAF_CHECK(
    !constant_time_equal("s3cret-token-0123456789", "s3cret-token-0123456788"));
  CAF_CHECK(
    !constant_time_equal("x3cret-token-0123456789", "s3cret-token-0123456789"));
  // A prefix, an extension and the empty string are all different.
  CAF_CHECK(!constant_time_equal("s3cret", "s3cret-token"));
  CAF_CHECK(!constant_time_equal("s3cret-token", "s3cret"));
  CAF_CHECK(!constant_time_equal("", "s3cret"));
  CAF_CHECK(!constant_time_equal("abc", std::string_view{"abc\0", 4}));
}

CAF_TEST(the password of a URL is masked and the rest kept) {
  using secrets::redact;
  CAF_CHECK_EQUAL(redact("postgresql://troupe:hunter2@db:5432/troupe"),
                  "postgresql://troupe:***@db:5432/troupe");
  CAF_CHECK_EQUAL(redact("postgresql://troupe@db:5432/troupe"),
                  "postgresql://troupe@db:5432/troupe");
  CAF_CHECK_EQUAL(redact("http://127.0.0.1:8080/orders"),
                  "http://127.0.0.1:8080/orders");
  // A password with ':' or '@' in it is masked whole.
  CAF_CHECK_EQUAL(redact("postgres://u:a:b@c@host/db"),
                  "postgres://u:***@host/db");
  // Inside a longer message, twice.
  CAF_CHECK_EQUAL(redact("cannot reach postgresql://a:p1@h1/x or "
                         "\"postgresql://b:p2@h2/y\": timeout"),
                  "cannot reach postgresql://a:***@h1/x or "
                  "\"postgresql://b:***@h2/y\": timeout");
}

CAF_TEST(password keywords of conninfo strings and queries are masked) {
  using secrets::redact;
  CAF_CHECK_EQUAL(redact("host=db user=troupe password=hunter2 dbname=troupe"),
                  "host=db user=troupe password=*** dbname=troupe");
  CAF_CHECK_EQUAL(redact("host=db password = 'with space\\' quote' port=1"),
                  "host=db password = *** port=1");
  CAF_CHECK_EQUAL(
    redact("postgresql://db/troupe?user=t&password=hunter2&sslmode=require"),
    "postgresql://db/troupe?user=t&password=***&sslmode=require");
  CAF_CHECK_EQUAL(redact("PASSWORD=x"), "PASSWORD=***");
  // Words that merely contain it, or mention it, stay.
  CAF_CHECK_EQUAL(redact("no password given"), "no password given");
  CAF_CHECK_EQUAL(redact("mypassword=1"), "mypassword=1");
  CAF_CHECK_EQUAL(
    redact("FATAL: password authentication failed for user \"t\""),
    "FATAL: password authentication failed for user \"t\"");
}

CAF_TEST(remembered secrets are masked wherever they appear) {
  secrets::forget_all();
  secrets::remember("tok-0123456789abcdef");
  secrets::remember("pw"); // too short to mask without hiding words
  CAF_CHECK_EQUAL(secrets::redact("Bearer tok-0123456789abcdef, again "
                                  "tok-0123456789abcdef!"),
                  "Bearer ***, again ***!");
  CAF_CHECK_EQUAL(secrets::redact("pwd pw"), "pwd pw");
  secrets::forget_all();
  CAF_CHECK_EQUAL(secrets::redact("tok-0123456789abcdef"),
                  "tok-0123456789abcdef");
}

CAF_TEST(bearer tokens are read from the authorization header) {
  CAF_CHECK_EQUAL(bearer_token("Bearer abc"), "abc");
  CAF_CHECK_EQUAL(bearer_token("bearer   abc  "), "abc");
  CAF_CHECK_EQUAL(bearer_token("Basic abc"), "");
  CAF_CHECK_EQUAL(bearer_token("Bearerabc"), "");
  CAF_CHECK_EQUAL(bearer_token("Bearer "), "");
  CAF_CHECK_EQUAL(bearer_token(""), "");
}

CAF_TEST(access is decided by the token or the open flag) {
  access_policy with_token{"0123456789abcdef0123", false};
  CAF_CHECK(check_access(with_token, "Bearer 0123456789abcdef0123")
            == access_decision::allowed);
  CAF_CHECK(check_access(with_token, "Bearer 0123456789abcdef012")
            == access_decision::unauthorized);
  CAF_CHECK(check_access(with_token, "") == access_decision::unauthorized);
  CAF_CHECK(check_access(with_token, "Bearer ")
            == access_decision::unauthorized);
  // A token wins over the open flag.
  access_policy both{"0123456789abcdef0123", true};
  CAF_CHECK(check_access(both, "") == access_decision::unauthorized);
  CAF_CHECK(check_access(access_policy{"", true}, "")
            == access_decision::allowed);
  CAF_CHECK(check_access(access_policy{"", false}, "Bearer anything")
            == access_decision::forbidden);
}

CAF_TEST(operator paths are everything under admin) {
  CAF_CHECK(is_operator_path("/admin"));
  CAF_CHECK(is_operator_path("/admin/"));
  CAF_CHECK(is_operator_path("/admin/dead-letters"));
  CAF_CHECK(is_operator_path("/admin/anything/added/later"));
  CAF_CHECK(is_operator_path("//admin/outbox"));
  CAF_CHECK(is_operator_path("/ADMIN/outbox"));
  CAF_CHECK(!is_operator_path("/administrator"));
  CAF_CHECK(!is_operator_path("/orders"));
  CAF_CHECK(!is_operator_path("/"));
  CAF_CHECK(!is_operator_path(""));
}
