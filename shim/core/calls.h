// The call vocabulary, generated from hooks.def: the hooked calls (Call),
// the calls a rule can name (CallId), each hooked call's rule call, its
// explanation class and the errors that may be retried on it. Every table is
// a compile-time constant, so that a hook's look-up costs what a hand-written
// constant would. What the rules allow on each call (its errors, actions and
// filters) is the rule language's own (rule_vocabulary.h), keyed by CallId.
#pragma once
#include <cstddef>
#include <cstdint>

#include "explain.h"

namespace sd {

// The RETRY column: bit e set, config.h's RetryErr e may be retried.
enum RetryOn : uint8_t { rt_none = 0, rt_eintr = 1, rt_eagain = 2, rt_econnaborted = 4 };

// Every hooked libc function, in hooks.def order.
enum class Call : uint8_t {
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) name,
#include "hooks.def"
#undef SD_HOOK
  count
};
constexpr std::size_t kCallCount = static_cast<std::size_t>(Call::count);

// The RULE column, read three ways by pasting it onto a prefix: `as(recv)`
// becomes PREFIX_as(recv) followed by the row's (name), which SD_DROP eats.
#define SD_DROP(name)

// Every call a rule can name: the `named` rows, in hooks.def order.
#define SD_RULE_ID_named(name) name,
#define SD_RULE_ID_unnamed(name)
#define SD_RULE_ID_as(call) SD_DROP
enum class CallId : uint8_t {
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) SD_RULE_ID_##rule(name)
#include "hooks.def"
#undef SD_HOOK
  count
};
#undef SD_RULE_ID_named
#undef SD_RULE_ID_unnamed
#undef SD_RULE_ID_as
constexpr unsigned kRuleCallCount = static_cast<unsigned>(CallId::count);
static_assert(kRuleCallCount <= 64, "a rule's calls are bits of a uint64_t (call_bit)");
constexpr uint64_t call_bit(CallId c) { return uint64_t{1} << static_cast<unsigned>(c); }

// The libc name of each hooked call ("recv", "__recv_chk", ...).
inline constexpr const char* kHookNames[] = {
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) #name,
#include "hooks.def"
#undef SD_HOOK
};
constexpr const char* call_name(Call c) { return kHookNames[static_cast<std::size_t>(c)]; }

// The rule call of each hooked call; CallId::count when no rule names it.
#define SD_RULE_OF_named(name) CallId::name,
#define SD_RULE_OF_unnamed(name) CallId::count,
#define SD_RULE_OF_as(call) CallId::call, SD_DROP
inline constexpr CallId kRuleOf[] = {
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) SD_RULE_OF_##rule(name)
#include "hooks.def"
#undef SD_HOOK
};
#undef SD_RULE_OF_named
#undef SD_RULE_OF_unnamed
#undef SD_RULE_OF_as
constexpr CallId rule_call(Call c) { return kRuleOf[static_cast<std::size_t>(c)]; }

// The hooked call each rule call is (the `named` row), in CallId order.
#define SD_NAMED_named(name) Call::name,
#define SD_NAMED_unnamed(name)
#define SD_NAMED_as(call) SD_DROP
inline constexpr Call kNamedCall[] = {
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) SD_NAMED_##rule(name)
#include "hooks.def"
#undef SD_HOOK
};
#undef SD_NAMED_named
#undef SD_NAMED_unnamed
#undef SD_NAMED_as
constexpr Call named_call(CallId id) { return kNamedCall[static_cast<std::size_t>(id)]; }

// The explanation class of each hooked call.
inline constexpr CallClass kClassOf[] = {
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) CallClass::cls,
#include "hooks.def"
#undef SD_HOOK
};
constexpr CallClass class_of(Call c) { return kClassOf[static_cast<std::size_t>(c)]; }

// The errors (RetryOn bits) SOCKDIAG_RETRY may retry on each hooked call.
inline constexpr uint8_t kRetryOn[] = {
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) retry,
#include "hooks.def"
#undef SD_HOOK
};

// The rule call's name ("recv"); its explanation class.
#define SD_RULE_NAME_named(name) #name,
#define SD_RULE_NAME_unnamed(name)
#define SD_RULE_NAME_as(call) SD_DROP
inline constexpr const char* kRuleCallNames[kRuleCallCount] = {
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) SD_RULE_NAME_##rule(name)
#include "hooks.def"
#undef SD_HOOK
};
#undef SD_RULE_NAME_named
#undef SD_RULE_NAME_unnamed
#undef SD_RULE_NAME_as
#undef SD_DROP
constexpr const char* call_id_name(CallId id) { return kRuleCallNames[static_cast<std::size_t>(id)]; }
constexpr CallClass class_of(CallId id) { return class_of(named_call(id)); }

// The call_bit()s of the rule calls of a class (the rules' groups).
constexpr uint64_t rule_calls_of(CallClass cls) {
  uint64_t bits = 0;
  for (unsigned i = 0; i < kRuleCallCount; ++i)
    if (class_of(static_cast<CallId>(i)) == cls) bits |= call_bit(static_cast<CallId>(i));
  return bits;
}

// The CallClass bits (1 << class) of the calls on which error e (config.h's
// RetryErr) may be retried.
constexpr uint32_t retryable_classes(unsigned e) {
  uint32_t bits = 0;
  for (std::size_t i = 0; i < kCallCount; ++i)
    if (kRetryOn[i] >> e & 1u) bits |= 1u << static_cast<unsigned>(kClassOf[i]);
  return bits;
}

// SOCKDIAG_RETRY names classes ("eagain@recv"): every call of a class must
// allow the same retries.
constexpr bool retry_follows_class() {
  for (std::size_t i = 0; i < kCallCount; ++i)
    for (std::size_t j = 0; j < kCallCount; ++j)
      if (kClassOf[i] == kClassOf[j] && kRetryOn[i] != kRetryOn[j]) return false;
  return true;
}
static_assert(retry_follows_class(), "hooks.def: calls of one CLASS with different RETRY");

}  // namespace sd
