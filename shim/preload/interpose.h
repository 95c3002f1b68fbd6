// Interception machinery: the real libc functions behind each hook (the
// calls themselves are named in calls.h), and the per-thread recursion guard.
#pragma once
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "calls.h"

// On the declaration of a global the hot path reads: the compiler then
// addresses it directly, where a declaration of default visibility goes
// through the GOT (one more load per use).
#define SD_HOT_DATA __attribute__((visibility("hidden")))

// errno's address is taken on every hooked call: reached through the GOT,
// bound when the library loads, not through a PLT jump (the rest of libc
// is bound lazily, for the start-up's sake: shim/CMakeLists.txt).
extern "C" int* __errno_location() noexcept __attribute__((const, noplt));

namespace sd {

// The type of each hooked function, as hooks.def declares it.
template <Call C>
struct Hooked;
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry) \
  template <>                                   \
  struct Hooked<Call::name> {                   \
    using Fn = ret(*) params;                   \
  };
#include "hooks.def"
#undef SD_HOOK
template <Call C>
using RealFn = typename Hooked<C>::Fn;

// Address of the next definition of the function `c` names (libc's, or
// another preload's), never our own; nullptr when there is none.
void* find_real(Call c);
// The same for a function outside the hook table (syscall, prctl).
void* find_next(const char* name);

template <Call C>
RealFn<C> resolve();

// What each call's real function is reached through. Hooks may run before
// our constructor (other libraries' constructors make socket calls): until
// resolved, the pointer is a trampoline that resolves it and makes the call,
// so that the hooks never test for a missing pointer.
template <Call C, class Fn = RealFn<C>>
struct FirstUse;
template <Call C, class R, class... P>
struct FirstUse<C, R (*)(P...)> {
  static R call(P... p) { return resolve<C>()(p...); }
};
// fcntl's family: the optional argument is read the way glibc reads it.
template <Call C, class R>
struct FirstUse<C, R (*)(int, int, ...)> {
  static R call(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    void* arg = va_arg(ap, void*);
    va_end(ap);
    return resolve<C>()(fd, cmd, arg);
  }
};

// A function the C library does not have: the call fails as unsupported.
template <Call C, class Fn = RealFn<C>>
struct Missing;
template <Call C, class R, class... P>
struct Missing<C, R (*)(P...)> {
  static R call(P...) {
    errno = ENOSYS;
    return R(-1);
  }
};
template <Call C, class R>
struct Missing<C, R (*)(int, int, ...)> {
  static R call(int, int, ...) {
    errno = ENOSYS;
    return R(-1);
  }
};

template <Call C>
inline std::atomic<RealFn<C>> g_real SD_HOT_DATA{&FirstUse<C>::call};

template <Call C>
RealFn<C> resolve() {
  void* p = find_real(C);
  if (!p) return &Missing<C>::call;
  auto fn = reinterpret_cast<RealFn<C>>(p);
  // Two threads may race here: both store the same address, no lock needed.
  g_real<C>.store(fn, std::memory_order_relaxed);
  return fn;
}

// The real function behind the hook of C.
template <Call C>
inline RealFn<C> real() {
  return g_real<C>.load(std::memory_order_relaxed);
}

// Binds every call at start-up, so that later first uses take no lock in
// dlsym (a first use inside a signal handler, in a forked child, or routed
// from syscall() while an allocator holds its lock). From the symbol tables
// (next_definition.h) where that is certain, through dlsym otherwise.
void resolve_all();
// The next syscall() that resolve_all found, nullptr when dlsym must be asked.
void* bound_syscall();
// Binds syscall() to the next one; until then it makes every call itself,
// unobserved (syscall_route.cpp).
void syscall_route_bind();

// Another file of this library (same soname, another path) comes before
// this one in the lookup order: its hooks run first and record every call,
// and ours are only reached through its calls to the next definition. Fills
// `path` with that file's name.
bool another_copy_first(const char** path);

// Recursion guard. t_depth counts the hooks active on this thread. A call
// that arrives while one is active comes from a signal handler that
// interrupted it (the library itself reaches libc only through real<C>()),
// and is observed like any other, with its own scratch space (report.cpp),
// up to kObservedDepth hooks deep; deeper ones pass through, counted. The
// exception is getaddrinfo: the resolver's own socket calls (NSS modules
// call the public names) are the library's business, not the program's,
// and pass through while t_resolver is set. initial-exec TLS: the default
// model would call __tls_get_addr on every access. __thread, not
// thread_local: a C++ thread_local declared extern is reached through an
// init-function check.
extern __thread unsigned t_depth __attribute__((tls_model("initial-exec")));
extern __thread unsigned t_resolver __attribute__((tls_model("initial-exec")));
constexpr unsigned kObservedDepth = 2;  // a hook, and one signal handler's hook inside it

// Calls that passed through unobserved because signal handlers nested
// deeper than kObservedDepth (said in the exit summary).
extern std::atomic<uint64_t> g_unobserved_nested;

// Marks this thread as inside the library for a scope.
class Guard {
 public:
  Guard() noexcept { ++t_depth; }
  ~Guard() { --t_depth; }  // also runs when a cancellation unwinds the hook
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
};

// Marks the real getaddrinfo's run: its resolver's socket calls pass through.
class ResolverScope {
 public:
  ResolverScope() noexcept { ++t_resolver; }
  ~ResolverScope() { --t_resolver; }  // getaddrinfo is a cancellation point
  ResolverScope(const ResolverScope&) = delete;
  ResolverScope& operator=(const ResolverScope&) = delete;
};

}  // namespace sd
