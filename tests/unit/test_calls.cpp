// The call vocabulary generated from hooks.def (calls.h): what each hooked
// call counts as for the rules, its explanation class, and where each error
// may be retried, against what the rules, `sockdiag explain` and
// SOCKDIAG_RETRY promise their users (rules.h, tools/INJECT.md, README.md).
#include <catch2/catch.hpp>

#include <string>

#include "calls.h"
#include "config.h"
#include "explain.h"

using namespace sd;

TEST_CASE("a fortified hook counts as its plain call, and a call no rule names as none", "[calls]") {
  CHECK(rule_call(Call::__recv_chk) == CallId::recv);
  CHECK(rule_call(Call::__recvfrom_chk) == CallId::recvfrom);
  CHECK(rule_call(Call::__read_chk) == CallId::read);
  CHECK(rule_call(Call::__poll_chk) == CallId::poll);
  CHECK(rule_call(Call::__ppoll_chk) == CallId::ppoll);
  CHECK(rule_call(Call::accept4) == CallId::accept4);
  for (Call c : {Call::fcntl, Call::fcntl64, Call::close_range, Call::closefrom, Call::epoll_ctl, Call::dup2,
                 Call::fclose, Call::setrlimit})
    CHECK(rule_call(c) == CallId::count);
  CHECK(kRuleCallCount == 30);
  for (unsigned i = 0; i < kRuleCallCount; ++i) {
    CallId id = static_cast<CallId>(i);
    INFO("rule call " << call_id_name(id));
    CHECK(std::string(call_name(named_call(id))) == call_id_name(id));
    CHECK(rule_call(named_call(id)) == id);
  }
}

TEST_CASE("each hooked call is explained as its class, and named by it in `sockdiag explain`", "[calls]") {
  CHECK(class_of(Call::write) == CallClass::send);
  CHECK(class_of(Call::__recvfrom_chk) == CallClass::recv);
  CHECK(class_of(Call::pselect) == CallClass::poll);
  CHECK(class_of(Call::close_range) == CallClass::fdops);
  CHECK(class_of(Call::closefrom) == CallClass::any);
  CHECK(class_of(Call::epoll_ctl) == CallClass::any);
  CHECK(class_of(CallId::accept4) == CallClass::accept);
  for (std::size_t i = 0; i < kCallCount; ++i) {
    Call c = static_cast<Call>(i);
    INFO("hook " << call_name(c));
    CallClass cls = CallClass::any;
    CHECK(call_class_from_name(call_name(c), &cls) == (class_of(c) != CallClass::any));
    if (class_of(c) != CallClass::any) CHECK(cls == class_of(c));
  }
  CallClass cls = CallClass::any;
  CHECK(call_class_from_name("epoll_pwait2", &cls));
  CHECK(cls == CallClass::poll);
}

TEST_CASE("the rules' groups are the rule calls of a class", "[calls]") {
  auto bits = [](std::initializer_list<CallId> ids) {
    uint64_t b = 0;
    for (CallId id : ids) b |= call_bit(id);
    return b;
  };
  using I = CallId;
  CHECK(rule_calls_of(CallClass::recv) == bits({I::recv, I::recvfrom, I::recvmsg, I::recvmmsg, I::read, I::readv}));
  CHECK(rule_calls_of(CallClass::send) ==
        bits({I::send, I::sendto, I::sendmsg, I::sendmmsg, I::write, I::writev}));
  CHECK(rule_calls_of(CallClass::poll) ==
        bits({I::poll, I::ppoll, I::select, I::pselect, I::epoll_wait, I::epoll_pwait}));
}

TEST_CASE("SOCKDIAG_RETRY's errors are retried where the kernel can return them", "[calls]") {
  auto classes = [](std::initializer_list<CallClass> cs) {
    uint32_t b = 0;
    for (CallClass c : cs) b |= 1u << static_cast<unsigned>(c);
    return b;
  };
  using K = CallClass;
  CHECK(retryable_classes(retry_eintr) == classes({K::connect, K::accept, K::send, K::recv, K::poll}));
  CHECK(retryable_classes(retry_eagain) == classes({K::accept, K::send, K::recv}));
  CHECK(retryable_classes(retry_econnaborted) == classes({K::accept}));
}
