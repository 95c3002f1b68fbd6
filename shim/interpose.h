// Interception machinery: the Call enumeration generated from hooks.def, the
// real libc functions behind each hook, and the per-thread recursion guard.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace sd {

enum class Call : uint8_t {
#define SD_HOOK(group, ret, name, params, args) name,
#include "hooks.def"
#undef SD_HOOK
  count
};
constexpr std::size_t kCallCount = static_cast<std::size_t>(Call::count);

// The libc name of a call ("recv", "__recv_chk", ...).
const char* call_name(Call);

// Address of the next definition of `c` (libc's, or another preload's).
// Hooks may run before our constructor (other libraries' constructors make
// socket calls), so a missing pointer is resolved on first use, lock-free.
extern std::atomic<void*> g_real[kCallCount];
void* resolve_real(Call c);
void resolve_all();

template <Call C>
inline void* real_ptr() {
  void* p = g_real[static_cast<std::size_t>(C)].load(std::memory_order_relaxed);
  if (__builtin_expect(p == nullptr, 0)) p = resolve_real(C);
  return p;
}

// Recursion guard: calls made while a hook is active on this thread (by the
// library itself, by getaddrinfo's resolver, by a signal handler interrupting
// a hook) go straight to libc. initial-exec TLS: the default model would call
// __tls_get_addr on every access. __thread, not thread_local: a C++
// thread_local declared extern is reached through an init-function check.
extern __thread unsigned t_depth __attribute__((tls_model("initial-exec")));

// Marks this thread as inside the library for a scope.
class Guard {
 public:
  Guard() noexcept { ++t_depth; }
  ~Guard() { --t_depth; }  // also runs when a cancellation unwinds the hook
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
};

}  // namespace sd
