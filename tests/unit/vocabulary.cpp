// The saga's vocabulary: every word reads back as itself, text Troupe does
// not know is refused, and the web UI knows every timeline kind.
#define CAF_SUITE vocabulary
#include "actors/vocabulary.hpp"

#include <fstream>
#include <sstream>

#include <caf/test/unit_test.hpp>

using namespace troupe;

namespace {

template <class E, class Parse>
void reads_back(E last, Parse parse) {
  for (int i = 0; i <= static_cast<int>(last); ++i) {
    auto x = static_cast<E>(i);
    auto back = parse(to_string(x));
    CAF_CHECK(back.has_value());
    if (back)
      CAF_CHECK(*back == x);
  }
}

} // namespace

CAF_TEST(every word reads back as itself) {
  reads_back(order_status::cancelled, parse_order_status);
  reads_back(last_cancel_reason, parse_cancel_reason);
  reads_back(payment_state::declined, parse_payment_state);
  reads_back(inventory_state::out_of_stock, parse_inventory_state);
  reads_back(last_timeline_kind, parse_timeline_kind);
}

CAF_TEST(the wire spellings stay what clients read) {
  CAF_CHECK_EQUAL(to_string(order_status::fresh), std::string{"NEW"});
  CAF_CHECK_EQUAL(to_string(order_status::confirmed), std::string{"CONFIRMED"});
  CAF_CHECK_EQUAL(to_string(cancel_reason::none), std::string{});
  CAF_CHECK_EQUAL(to_string(cancel_reason::out_of_stock),
                  std::string{"out_of_stock"});
  CAF_CHECK_EQUAL(to_string(cancel_reason::customer_cancelled),
                  std::string{"customer_cancelled"});
  CAF_CHECK_EQUAL(to_string(timeline_kind::cancel_requested),
                  std::string{"cancel.requested"});
  CAF_CHECK_EQUAL(to_string(inventory_state::quantity_limit),
                  std::string{"QUANTITY_LIMIT"});
  CAF_CHECK_EQUAL(to_string(timeline_of(order_status::cancelled)),
                  std::string{"status.CANCELLED"});
}

CAF_TEST(unknown text is refused) {
  CAF_CHECK(!parse_order_status("new"));
  CAF_CHECK(!parse_order_status(""));
  CAF_CHECK(!parse_cancel_reason("bored"));
  CAF_CHECK(!parse_payment_state("approved"));
  CAF_CHECK(!parse_timeline_kind(""));
  CAF_CHECK(parse_cancel_reason("") == cancel_reason::none);
}

CAF_TEST(the web UI names every timeline kind) {
  std::ifstream in{std::string{TROUPE_SOURCE_DIR} + "/ui/app.js"};
  CAF_REQUIRE(in.good());
  std::stringstream buf;
  buf << in.rdbuf();
  auto js = buf.str();
  for (int i = 0; i <= static_cast<int>(last_timeline_kind); ++i) {
    std::string kind = to_string(static_cast<timeline_kind>(i));
    // A key of KNOWN_KINDS: `created:` or `'payment.approved':`.
    bool known = js.find("\n  " + kind + ":") != std::string::npos
                 || js.find("'" + kind + "':") != std::string::npos;
    if (!known)
      CAF_FAIL("ui/app.js KNOWN_KINDS lacks " << kind);
  }
}
