// vfork() and clone(CLONE_VM) children (see vm_children.h): the two entry
// points that make them, exported beside the hooks of hooks.def, and the
// test every hook makes while one may be running.
#include "vm_children.h"

#include <dlfcn.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "config_state.h"

namespace sd {

std::atomic<uint32_t> g_vm_sharing{0};
std::atomic<uint64_t> g_vm_child_calls{0};

namespace {
std::atomic<long> g_pid{0};

// A child may be running: every hook leaves its fast path (config_state.h).
void child_begins() {
  g_vm_sharing.fetch_add(1);
  g_detour.fetch_add(1);
}
void child_ends() {
  g_vm_sharing.fetch_sub(1);
  g_detour.fetch_sub(1);
}

using CloneFn = int (*)(int (*)(void*), void*, int, void*, ...);

// What the clone child runs first: the program's function, then the count
// of children is lowered. A child that ends with _exit() or an exec inside
// the function leaves it raised: the parent's hooks then keep asking
// getpid(), which costs time, never a wrong record.
struct CloneStart {
  int (*fn)(void*);
  void* arg;
};

int vm_child_start(void* p) {
  CloneStart start = *static_cast<CloneStart*>(p);
  munmap(p, sizeof(CloneStart));
  int r = start.fn(start.arg);
  child_ends();
  return r;
}
}  // namespace

bool in_vm_child() { return syscall(SYS_getpid) != g_pid.load(std::memory_order_relaxed); }

void vm_children_after_start() {
  g_pid.store(syscall(SYS_getpid), std::memory_order_relaxed);
  // A forked child has its own memory: its parent's children share nothing
  // with it. (Called in the child, alone in it.)
  uint32_t inherited = g_vm_sharing.exchange(0);
  g_detour.fetch_sub(inherited);
}

}  // namespace sd

// errno and -1 for a vfork the kernel refused (no child was made: a plain
// tail call back to vfork's caller).
extern "C" __attribute__((visibility("hidden"), used)) int sd_vfork_failed(int err) {
  errno = err;
  return -1;
}

// vfork cannot be wrapped in C: the child returns from the wrapper and goes
// on using the stack the suspended parent will return through. As glibc
// does, the return address is kept in a register (the parent's registers
// are its own) and pushed back after the system call. The counts go up
// before the child exists and down when the parent resumes (after the
// child's exec or exit).
#if defined(__x86_64__)
asm(R"(
  .text
  .globl vfork
  .type vfork, @function
vfork:
  lock incl sd_vm_sharing(%rip)
  lock incl sd_detour(%rip)
  popq %rdi
  movl $58, %eax
  syscall
  pushq %rdi
  testq %rax, %rax
  jz 1f
  lock decl sd_vm_sharing(%rip)
  lock decl sd_detour(%rip)
  cmpq $-4095, %rax
  jae 2f
1:
  ret
2:
  negl %eax
  movl %eax, %edi
  jmp sd_vfork_failed
  .size vfork, .-vfork
)");
#endif

extern "C" __attribute__((visibility("default"))) int clone(int (*fn)(void*), void* stack, int flags, void* arg,
                                                            ...) {
  va_list ap;
  va_start(ap, arg);
  void* parent_tid = va_arg(ap, void*);
  void* tls = va_arg(ap, void*);
  void* child_tid = va_arg(ap, void*);
  va_end(ap);
  static std::atomic<sd::CloneFn> real{nullptr};
  sd::CloneFn next = real.load(std::memory_order_relaxed);
  if (!next) {
    next = reinterpret_cast<sd::CloneFn>(dlsym(RTLD_NEXT, "clone"));
    if (!next) {
      errno = ENOSYS;
      return -1;
    }
    real.store(next, std::memory_order_relaxed);
  }
  // A passive process (under a seccomp filter, too) passes every call
  // through: nothing to count, and no mmap of the library's own.
  bool shares_memory = !sd::g_passive && (flags & CLONE_VM) && !(flags & CLONE_THREAD) && fn;
  void* start = shares_memory ? mmap(nullptr, sizeof(sd::CloneStart), PROT_READ | PROT_WRITE,
                                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                              : MAP_FAILED;
  if (!shares_memory) return next(fn, stack, flags, arg, parent_tid, tls, child_tid);
  sd::child_begins();
  // Without the page for the start record, the count stays raised for good.
  if (start == MAP_FAILED) return next(fn, stack, flags, arg, parent_tid, tls, child_tid);
  *static_cast<sd::CloneStart*>(start) = {fn, arg};
  int r = next(&sd::vm_child_start, stack, flags, start, parent_tid, tls, child_tid);
  if (r < 0) {
    int err = errno;
    sd::child_ends();
    munmap(start, sizeof(sd::CloneStart));
    errno = err;
  }
  return r;
}
