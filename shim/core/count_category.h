// What a counted outcome is, for the summaries: a failure, an event, expected
// flow, or a notice of an injected fault. Decided by the level the record
// gets (report.cpp, from the explanation table), never by a second list of
// codes: a summary's "failures" are the records written at the default level.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "explain.h"

namespace sd {

enum class Category : uint8_t {
  failure,   // level error: the program met an error (injected errors included, counted apart)
  event,     // level info: the peer closed, a signal interrupted a call (EOF, POLLHUP, EINTR)
  expected,  // level debug: expected flow (EAGAIN on a non-blocking socket, EINPROGRESS, probes)
  notice,    // an injected delay, short transfer or reset: the call itself did not fail
};
constexpr std::size_t kCategoryCount = 4;

// A notice of fault injection, not a failure of the call itself (explain.h).
constexpr bool is_injection_notice(CodeKind d, int code) { return d == CodeKind::event && code >= ev_injected_delay; }

constexpr Category category_of(CodeKind d, int code, Level level) {
  if (is_injection_notice(d, code)) return Category::notice;
  if (level <= Level::error) return Category::failure;
  return level == Level::info ? Category::event : Category::expected;
}

inline const char* category_name(Category c) {
  switch (c) {
    case Category::failure: return "failure";
    case Category::event: return "event";
    case Category::expected: return "expected";
    case Category::notice: return "notice";
  }
  return "failure";
}

// The counts by category, in one line (NUL-terminated, cut to `cap` > 0):
// "12 failures (3 injected), 5 events, 92 expected, 40 injected notices".
// Events and expected flow are left out when there are none, and so are
// notices; failures are always said.
inline void format_category_totals(const uint64_t count[kCategoryCount], const uint64_t injected[kCategoryCount],
                                   char* out, std::size_t cap) {
  auto n = [&](Category c) { return static_cast<unsigned long long>(count[static_cast<std::size_t>(c)]); };
  auto inj = [&](Category c) { return static_cast<unsigned long long>(injected[static_cast<std::size_t>(c)]); };
  std::size_t used = 0;
  // snprintf returns the length it would have written: past the end, the
  // next parts are written (as nothing) at the terminating NUL.
  auto put = [&](int len) {
    used += len > 0 ? static_cast<std::size_t>(len) : 0;
    if (used >= cap) used = cap - 1;
  };
  put(std::snprintf(out, cap, "%llu failure%s (%llu injected)", n(Category::failure),
                    n(Category::failure) == 1 ? "" : "s", inj(Category::failure)));
  for (Category c : {Category::event, Category::expected}) {
    if (!n(c)) continue;
    put(std::snprintf(out + used, cap - used, ", %llu %s%s", n(c), c == Category::event ? "event" : "expected",
                      c == Category::event && n(c) != 1 ? "s" : ""));
    if (inj(c)) put(std::snprintf(out + used, cap - used, " (%llu injected)", inj(c)));
  }
  if (n(Category::notice))
    put(std::snprintf(out + used, cap - used, ", %llu injected notice%s (delay, short transfer, reset)",
                      n(Category::notice), n(Category::notice) == 1 ? "" : "s"));
}

}  // namespace sd
