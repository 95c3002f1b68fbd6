// The exported hooks: one definition per line of hooks.def, all alike. Each
// binds to the real function, lets the resolver's nested calls through
// untouched (a signal handler's inside a hook is observed: interpose.h), and
// hands the call to its group's observer (observe.h).
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config_state.h"
#include "interpose.h"
#include "observe.h"

namespace sd {
template <Call C, class... A>
__attribute__((always_inline)) inline auto hook(A... a) {
  if constexpr (group_of(C) == Group::input || group_of(C) == Group::output) {
    // One test for the fast path: not nested in a hook, and no setting that
    // reads and writes must go through. They guard themselves on their slow
    // paths only: the fast path calls nothing but the real function.
    if (__builtin_expect((t_depth | g_detour.load(std::memory_order_relaxed)) == 0, 1))
      return io_fast<C, false>(a...);
    return io_detour<C>(a...);
  } else {
    auto real_fn = real<C>();
    if (__builtin_expect((t_depth | g_detour.load(std::memory_order_relaxed)) != 0, 0) && passes_through())
      return real_fn(a...);
    Guard guard;
    return observe<C>(real_fn, a...);
  }
}
}  // namespace sd

#define SD_EXPORT __attribute__((visibility("default")))

#define SD_HOOK(group, ret, name, params, args) \
  extern "C" SD_EXPORT ret name params { return sd::hook<sd::Call::name> args; }

// fcntl's third argument is read the way glibc reads it: one pointer-sized
// word, which the kernel narrows for the int-valued commands.
#define SD_HOOK_VA(group, ret, name, params, args)      \
  extern "C" SD_EXPORT ret name params {                \
    va_list ap;                                         \
    va_start(ap, cmd);                                  \
    void* arg = va_arg(ap, void*);                      \
    va_end(ap);                                         \
    return sd::hook<sd::Call::name> args;               \
  }

#include "hooks.def"
