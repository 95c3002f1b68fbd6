// The rule language's public look-ups over its vocabulary (rule_vocabulary.h).
#include "rules.h"

#include "rule_vocabulary.h"

namespace sd {

using namespace rule_lang;

bool call_id_from_name(std::string_view name, CallId* out) {
  for (unsigned i = 0; i < kRuleCallCount; ++i)
    if (name == kRuleCallNames[i]) {
      *out = static_cast<CallId>(i);
      return true;
    }
  return false;
}

const int* allowed_errors(CallId c, CodeKind* code_kind, std::size_t* count) {
  ErrList l = errors_of(c);
  *code_kind = c == C::getaddrinfo ? CodeKind::gai : CodeKind::errno_code;
  *count = l.count;
  return l.codes;
}

const char* rule_action_name(RuleAction a) {
  static constexpr const char* kNames[] = {"error", "short",     "delay",   "eof",      "reset", "timeout",
                                              "bandwidth", "close", "drop", "duplicate", "reorder", "truncate",
                                              "stall", "slow_close"};
  return kNames[static_cast<unsigned>(a)];
}

}  // namespace sd
