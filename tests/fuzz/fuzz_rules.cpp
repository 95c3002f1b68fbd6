// libFuzzer target for the rule parser (shim/core/rules.h). Beyond "no crash, no
// leak, no undefined behaviour" it checks what the parser promises: an error
// is one non-empty line naming its source; an accepted set prints a normal
// form that parses back to itself; matching any call against it is safe.
// Build: clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined
//        -Ishim/core tests/fuzz/fuzz_rules.cpp shim/core/rule_*.cpp
//        shim/core/explain.cpp shim/core/nearest.cpp
// Run:   ./fuzz_rules -max_total_time=60 tests/fuzz/corpus/rules
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "rules.h"

namespace {

[[noreturn]] void broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_rules: %s: %s\n", what, detail.c_str());
  std::abort();
}

// A delay's draw stays within what its rule allows (rules.h, DELAY).
void check_delay(const sd::Matched& m, unsigned i) {
  const sd::Rule& r = *m.rule[i];
  uint64_t d = sd::delay_ns(m, i);
  bool ok = r.wait_hi_ns   ? d >= r.wait_ns && d <= r.wait_hi_ns
            : r.wait_sd_ns ? d + 6 * r.wait_sd_ns >= r.wait_ns && d <= r.wait_ns + 6 * r.wait_sd_ns
                           : d == r.wait_ns;
  if (!ok) broken("a delay drawn outside its rule", std::string(r.text) + " drew " + std::to_string(d) + " ns");
}

// One call of every kind, against every rule, with fields the rules look at.
void match_everything(const sd::RuleSet& set) {
  static const uint8_t kV4[16] = {127, 0, 0, 1};
  static const uint8_t kV6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
  for (unsigned c = 0; c < sd::kRuleCallCount; ++c) {
    sd::MatchInput in;
    in.call = static_cast<sd::CallId>(c);
    in.family = c % 3 == 0 ? AF_INET : c % 3 == 1 ? AF_INET6 : AF_UNIX;
    in.sock_type = c % 2 ? SOCK_STREAM : SOCK_DGRAM;
    in.peer_addr = in.family == AF_INET ? kV4 : in.family == AF_INET6 ? kV6 : nullptr;
    in.peer_path = in.family == AF_UNIX ? "/run/app.sock" : nullptr;
    in.peer_port = static_cast<uint16_t>(5432 + c);
    in.local_port = 40000;
    in.host = "db.internal";
    in.prog = "curl";
    in.connection = true;
    in.bytes_in = 4096;
    in.bytes_out = 1u << 20;
    in.conn_age_ns = 2000000000;
    in.since_start_ns = 10000000000;
    for (int i = 0; i < 3; ++i) {
      sd::Matched m;
      sd::match(set, in, &m);
      if (m.count > sd::kMaxActing) broken("more rules acted than the cap", std::to_string(m.count));
      unsigned endings = 0;
      for (unsigned k = 0; k < m.count; ++k) {
        const sd::Rule* r = m.rule[k];
        if (!(r->calls & sd::call_bit(in.call))) broken("matched a rule for another call", r->text);
        if (k && r->index <= m.rule[k - 1]->index) broken("acting rules out of rule order", r->text);
        endings += sd::rule_stage(r->action) == sd::RuleStage::end;
        if (r->action == sd::RuleAction::delay) check_delay(m, k);
        // Datagram faults never touch a stream's bytes.
        if (sd::is_datagram_action(r->action) && in.sock_type != SOCK_DGRAM)
          broken("a datagram action matched a stream", r->text);
      }
      if (endings > 1) broken("more than one ending action on a call", m.rule[0]->text);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  sd::RuleSet* set = sd::parse_rules(text, "SOCKDIAG_INJECT", &error);
  if (!set) {
    if (error.rfind("SOCKDIAG_INJECT", 0) != 0) broken("error without its source", error);
    if (error.find('\n') != std::string::npos) broken("error of several lines", error);
    if (error.find(", column ") == std::string::npos) broken("error without a column", error);
    return 0;
  }
  std::string normal = sd::format_rules(*set);
  std::string again_error;
  sd::RuleSet* again = sd::parse_rules(normal, "normal form", &again_error);
  if (!again) broken("normal form refused", normal + " -> " + again_error);
  if (sd::format_rules(*again) != normal) broken("normal form changed", normal + " -> " + sd::format_rules(*again));
  set->seed = size;
  match_everything(*set);
  sd::free_rules(again);
  sd::free_rules(set);
  return 0;
}
