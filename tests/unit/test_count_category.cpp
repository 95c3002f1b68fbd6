// The categories of the summaries (count_category.h) and the counter keys
// that carry a count's level (counter_table.h).
#include <catch2/catch.hpp>
#include <netdb.h>

#include <cerrno>
#include <string>

#include "count_category.h"
#include "counter_table.h"
#include "explain.h"

using sd::CallClass;
using sd::Category;
using sd::CodeKind;
using sd::Level;

TEST_CASE("a count's category follows its level", "[summary]") {
  CHECK(sd::category_of(CodeKind::errno_code, ECONNREFUSED, Level::error) == Category::failure);
  CHECK(sd::category_of(CodeKind::errno_code, EINTR, Level::info) == Category::event);
  CHECK(sd::category_of(CodeKind::event, sd::ev_eof, Level::info) == Category::event);
  CHECK(sd::category_of(CodeKind::errno_code, EAGAIN, Level::debug) == Category::expected);
  CHECK(sd::category_of(CodeKind::gai, EAI_ADDRFAMILY, Level::debug) == Category::expected);
  // The same code at another level is in another category.
  CHECK(sd::category_of(CodeKind::errno_code, EAGAIN, Level::error) == Category::failure);
  // Notices of injection, whatever their level: the call itself did not fail.
  for (int ev : {sd::ev_injected_delay, sd::ev_injected_short, sd::ev_injected_reset, sd::ev_injected_datagram}) {
    CHECK(sd::category_of(CodeKind::event, ev, Level::info) == Category::notice);
    CHECK(sd::category_of(CodeKind::event, ev, Level::error) == Category::notice);
  }
  // An errno that happens to have a notice's number is no notice.
  CHECK(sd::category_of(CodeKind::errno_code, sd::ev_injected_delay, Level::error) == Category::failure);
}

TEST_CASE("the fast path's expected EAGAIN has the level report() gives it", "[summary]") {
  // The fast path counts an EAGAIN on a socket without SO_RCVTIMEO or
  // SO_SNDTIMEO (would_block_as_expected): report() finds it non-blocking,
  // of whatever kind of socket.
  for (CallClass cls : {CallClass::recv, CallClass::send})
    for (uint32_t kind : {0u, uint32_t{sd::sit_datagram}, uint32_t{sd::sit_unix},
                          uint32_t{sd::sit_datagram | sd::sit_unix}}) {
      const sd::Explanation* row = sd::explain(CodeKind::errno_code, EAGAIN, cls, sd::sit_nonblocking | kind);
      REQUIRE(row != nullptr);
      CHECK(row->level == sd::ctab::kExpectedEagainLevel);
    }
  CHECK(sd::ctab::key_category(sd::ctab::expected_eagain_key(0)) == Category::expected);
}

TEST_CASE("a counter key keeps call, level, domain and code apart", "[summary]") {
  namespace ctab = sd::ctab;
  for (Level l : {Level::off, Level::error, Level::info, Level::debug})
    for (auto [d, code] : {std::pair{CodeKind::errno_code, EAGAIN}, std::pair{CodeKind::gai, EAI_AGAIN},
                           std::pair{CodeKind::event, int{sd::ev_injected_short}}}) {
      uint32_t key = ctab::count_key(ctab::kCallCount - 1, static_cast<uint32_t>(d), code, l);
      CHECK(key != 0);
      CHECK(ctab::key_call(key) == ctab::kCallCount - 1);
      CHECK(ctab::key_level(key) == l);
      CHECK(ctab::key_code_kind(key) == static_cast<uint32_t>(d));
      CHECK(ctab::key_code(key) == code);
    }
  CHECK(ctab::count_key(3, 0, EAGAIN, Level::debug) != ctab::count_key(3, 0, EAGAIN, Level::error));
}

TEST_CASE("the totals line says each category apart", "[summary]") {
  char text[256];
  uint64_t count[sd::kCategoryCount] = {12, 5, 92, 40}, injected[sd::kCategoryCount] = {3, 0, 0, 40};
  sd::format_category_totals(count, injected, text, sizeof(text));
  CHECK(std::string(text) ==
        "12 failures (3 injected), 5 events, 92 expected, 40 injected notices (delay, short transfer, reset)");
  uint64_t one[sd::kCategoryCount] = {1, 1, 0, 0}, none[sd::kCategoryCount] = {};
  sd::format_category_totals(one, none, text, sizeof(text));
  CHECK(std::string(text) == "1 failure (0 injected), 1 event");
  sd::format_category_totals(none, none, text, sizeof(text));
  CHECK(std::string(text) == "0 failures (0 injected)");
  // Cut to the room given, still a string.
  char small[10];
  sd::format_category_totals(count, injected, small, sizeof(small));
  CHECK(std::string(small) == "12 failur");
}
