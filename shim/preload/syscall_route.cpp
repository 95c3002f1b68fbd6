// syscall(): programs that make socket calls through it rather than through
// libc's wrappers (libuv's sendmmsg and recvmmsg, others' accept4, socket or
// close) are observed like the named calls. Each number of hooks.def's
// SYSNO column goes to that line's hook; every other number goes straight
// to the next syscall(), untouched, after one table look-up. Installing a
// seccomp filter through it (seccomp(), prctl(PR_SET_SECCOMP)) stands the
// library down first (seccomp.h).
#include <fcntl.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <type_traits>
#include <utility>

#include "hook.h"
#include "seccomp.h"

namespace sd {
namespace {

constexpr long kNoSyscall = -1;
constexpr long kSysno[] = {
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) sysno,
#include "hooks.def"
#undef SD_HOOK
};

// Numbers below this are looked up in one table (x86-64's reach 460).
constexpr std::size_t kRouteSpan = 512;
static_assert(kCallCount < 255, "a route is a call's index plus one, in a byte");

constexpr std::array<uint8_t, kRouteSpan> make_routes() {
  std::array<uint8_t, kRouteSpan> t{};
  for (std::size_t c = 0; c < kCallCount; ++c)
    if (kSysno[c] != kNoSyscall) t[static_cast<std::size_t>(kSysno[c])] = static_cast<uint8_t>(c + 1);
  return t;
}
constexpr std::array<uint8_t, kRouteSpan> kRoutes = make_routes();
constexpr bool numbers_fit() {
  for (long n : kSysno)
    if (n != kNoSyscall && (n < 0 || static_cast<std::size_t>(n) >= kRouteSpan)) return false;
  return true;
}
static_assert(numbers_fit(), "a syscall number of hooks.def is beyond the route table");

using SyscallFn = long (*)(long, ...);

// The next syscall(), bound at start-up (syscall_route_bind). Until then
// every number is made here, as a plain system call: the callers that come
// first are memory allocators starting up (jemalloc reads its settings
// through syscall() with its lock held), and binding (dlsym) or a hook's
// own first use could allocate and wait for that lock for ever.
std::atomic<SyscallFn> g_next{nullptr};

// The system call itself, errno and -1 for a failure, as glibc's syscall().
long raw_syscall(long number, const long* a) {
  long r;
#if defined(__x86_64__)
  register long r10 __asm__("r10") = a[3];
  register long r8 __asm__("r8") = a[4];
  register long r9 __asm__("r9") = a[5];
  __asm__ volatile("syscall"
                   : "=a"(r)
                   : "a"(number), "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
#elif defined(__aarch64__)
  register long x8 __asm__("x8") = number;
  register long x0 __asm__("x0") = a[0];
  register long x1 __asm__("x1") = a[1];
  register long x2 __asm__("x2") = a[2];
  register long x3 __asm__("x3") = a[3];
  register long x4 __asm__("x4") = a[4];
  register long x5 __asm__("x5") = a[5];
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  r = x0;
#else
#error "syscall_route.cpp: no system call sequence for this architecture"
#endif
  if (static_cast<unsigned long>(r) > -4096UL) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return r;
}

inline long next_syscall(long number, const long* a) {
  SyscallFn fn = g_next.load(std::memory_order_acquire);
  if (!fn) return raw_syscall(number, a);
  return fn(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

// A raw argument as the hook's parameter type.
template <class P>
P arg_as(long v) {
  if constexpr (std::is_pointer_v<P>) return reinterpret_cast<P>(v);
  else return static_cast<P>(v);
}

template <class R, class... P>
constexpr std::size_t arity(R (*)(P...)) {
  return sizeof...(P);
}

template <Call C, class R, class... P, std::size_t... I>
long call_hook(R (*)(P...), const long* a, std::index_sequence<I...>) {
  return static_cast<long>(hook<C>(arg_as<P>(a[I])...));
}

template <Call C>
long routed(long number, const long* a) {
  if constexpr (kSysno[static_cast<std::size_t>(C)] == kNoSyscall) {
    return next_syscall(number, a);  // never routed here (kRoutes)
  } else if constexpr (C == Call::fcntl) {
    // Only the duplicating commands are observed; the others go to the
    // kernel as asked (libc's fcntl rewrites F_GETOWN into F_GETOWN_EX).
    if (a[1] != F_DUPFD && a[1] != F_DUPFD_CLOEXEC) return next_syscall(number, a);
    return hook<C>(static_cast<int>(a[0]), static_cast<int>(a[1]), reinterpret_cast<void*>(a[2]));
  } else {
    using Fn = RealFn<C>;
    return call_hook<C>(Fn{}, a, std::make_index_sequence<arity(Fn{})>());
  }
}

long route(Call c, long number, const long* a) {
  // syscall() is no cancellation point; the libc functions behind the hooks
  // are: a pending cancellation must not act inside the routed call.
  int cancel_state;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
  long r = -1;
  switch (c) {
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) \
  case Call::name:                                     \
    r = routed<Call::name>(number, a);                 \
    break;
#include "hooks.def"
#undef SD_HOOK
    case Call::count:
      break;
  }
  int err = errno;
  pthread_setcancelstate(cancel_state, nullptr);
  errno = err;
  return r;
}

// seccomp(SECCOMP_SET_MODE_STRICT or _FILTER) and prctl(PR_SET_SECCOMP):
// the library stands down before the filter is in force.
long filter_call(long number, const long* a) {
  bool installs = number == SYS_seccomp ? a[0] == SECCOMP_SET_MODE_STRICT || a[0] == SECCOMP_SET_MODE_FILTER
                                        : a[0] == PR_SET_SECCOMP;
  bool undo = installs && seccomp_filter_coming();
  long r = next_syscall(number, a);
  if (r == -1 && undo) seccomp_filter_refused();
  return r;
}

// The library's own text: its files make system calls through syscall()
// to go around the hooks (a raw close of a library fd), and those calls
// must not be routed back into them.
extern "C" const char __ehdr_start[] __attribute__((visibility("hidden")));
extern "C" const char __etext[] __attribute__((visibility("hidden")));
inline bool from_library(const void* return_address) {
  auto p = static_cast<const char*>(return_address);
  return p >= __ehdr_start && p < __etext;
}

}  // namespace

void syscall_route_bind() {
  void* next = bound_syscall();
  if (!next) next = find_next("syscall");
  if (auto fn = reinterpret_cast<SyscallFn>(next)) g_next.store(fn, std::memory_order_release);
}

}  // namespace sd

extern "C" __attribute__((visibility("default"))) long syscall(long number, ...) noexcept {
  // Forwarded as glibc's syscall() reads them: six words, whether the
  // caller passed them or not.
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (long& x : a) x = va_arg(ap, long);
  va_end(ap);
  if (__builtin_expect(static_cast<unsigned long>(number) < sd::kRouteSpan, 1)) {
    uint8_t route = sd::kRoutes[static_cast<std::size_t>(number)];
    // Before start-up bound the hooks, a routed call would bind its own; a
    // passive process (under a seccomp filter among others) makes exactly
    // the system call asked for, not the libc function behind the hook; the
    // library's own calls go around the hooks on purpose.
    if (route && !sd::g_passive && sd::g_next.load(std::memory_order_relaxed) != nullptr &&
        !sd::from_library(__builtin_return_address(0)))
      return sd::route(static_cast<sd::Call>(route - 1), number, a);
    if (number == SYS_seccomp || number == SYS_prctl) return sd::filter_call(number, a);
  }
  return sd::next_syscall(number, a);
}
