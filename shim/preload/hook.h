// The one body every hook runs (hooks.cpp defines the exported names with
// it; syscall_route.cpp sends syscall()'s socket calls to it): binds to the
// real function, lets the resolver's nested calls through untouched (a
// signal handler's inside a hook is observed: interpose.h), and hands the
// call to its group's observer (observe.h).
#pragma once
#include "config_state.h"
#include "control.h"
#include "interpose.h"
#include "observe.h"

namespace sd {
template <Call C, class... A>
__attribute__((always_inline)) inline auto hook(A... a) {
  if constexpr (group_of(C) == Group::input || group_of(C) == Group::output) {
    // One test for the fast path: not nested in a hook, and no setting that
    // reads and writes must go through. They guard themselves on their slow
    // paths only: the fast path calls nothing but the real function.
    // A change of the rules by `sockdiag ctl` waiting (control.h) takes
    // the detour too, which takes it in.
    if (__builtin_expect((t_depth | g_detour.load(std::memory_order_relaxed) | control_pending()) == 0, 1))
      return io_fast<C, false>(a...);
    return io_detour<C>(a...);
  } else {
    auto real_fn = real<C>();
    if (__builtin_expect((t_depth | g_detour.load(std::memory_order_relaxed) | control_pending()) != 0, 0) &&
        passes_through())
      return real_fn(a...);
    Guard guard;
    return observe<C>(real_fn, a...);
  }
}
}  // namespace sd
