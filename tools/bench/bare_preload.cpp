// libbench_bare.so: the floor for an LD_PRELOAD interposer. It defines every
// call libsockdiag intercepts (the same table, shim/core/hooks.def) and only
// forwards each to the next definition (libc), so that the benchmark can tell
// the cost of interposing at all (PLT to this library, one indirect call)
// from the cost of sockdiag's work.
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

namespace {

// Resolved on first use, not in a constructor: other libraries' constructors
// may make these calls before ours runs. Threads racing on a first call all
// store the same address.
__attribute__((noinline, cold)) void* resolve(std::atomic<void*>* cache, const char* name) {
  void* fn = dlsym(RTLD_NEXT, name);
  if (!fn) {
    // A raw syscall: the write hook would come back here for its own address.
    static const char msg[] = "libbench_bare: dlsym(RTLD_NEXT) found no definition of a hooked call\n";
    syscall(SYS_write, 2, msg, sizeof msg - 1);
    abort();
  }
  cache->store(fn, std::memory_order_relaxed);
  return fn;
}

}  // namespace

// Only the hooks are exported (the library is built with hidden visibility).
#define BARE_EXPORT __attribute__((visibility("default")))

// The first call goes out of line (resolve, then call); every later one is a
// load, a test and a tail jump to libc, with no frame of its own.
#define SD_HOOK(group, ret, name, params, args, sysno, rule, cls, retry)         \
  static std::atomic<void*> cache_##name{nullptr};                               \
  __attribute__((noinline, cold)) static ret first_##name params {               \
    return reinterpret_cast<ret(*) params>(resolve(&cache_##name, #name)) args;  \
  }                                                                              \
  extern "C" BARE_EXPORT ret name params {                                       \
    void* fn = cache_##name.load(std::memory_order_relaxed);                     \
    if (__builtin_expect(fn == nullptr, 0)) return first_##name args;            \
    return reinterpret_cast<ret(*) params>(fn) args;                             \
  }

// fcntl's optional argument is read as one pointer-sized word, as glibc
// itself reads it. Not a hot call: the plain form.
#define SD_HOOK_VA(group, ret, name, params, args, sysno, rule, cls, retry)      \
  static std::atomic<void*> cache_##name{nullptr};                               \
  extern "C" BARE_EXPORT ret name params {                                       \
    va_list ap;                                                                  \
    va_start(ap, cmd);                                                           \
    void* arg = va_arg(ap, void*);                                               \
    va_end(ap);                                                                  \
    void* fn = cache_##name.load(std::memory_order_relaxed);                     \
    if (__builtin_expect(fn == nullptr, 0)) fn = resolve(&cache_##name, #name);  \
    return reinterpret_cast<ret(*) params>(fn) args;                             \
  }

#include "hooks.def"
