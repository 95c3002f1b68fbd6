// Per-thread memory kept out of static TLS. glibc carves every thread's
// static TLS out of the thread's own stack, and refuses pthread_create
// (EINVAL) when a stack size the program asked for (PTHREAD_STACK_MIN, 16
// KiB) cannot hold it with room to spare: a few KiB of the library's there
// would make such a program fail, or leave its threads less stack than they
// had without the library. Static TLS keeps only a pointer; the memory
// comes from a process-wide pool of blocks, one per thread that needs one,
// taken over from threads that have ended.
#pragma once
#include <cstddef>

namespace sd {

// The calling thread's block and the tid it was taken for, read by the
// inline common case below; thread_block_taken maps or takes one over.
extern __thread void* t_block __attribute__((tls_model("initial-exec")));
extern __thread long t_block_owner __attribute__((tls_model("initial-exec")));
void* thread_block_taken(std::size_t bytes, void (*make)(void*), long tid);

// The calling thread's block of `bytes` bytes (the same size at every call
// of the process), made by `make` when it is first mapped; nullptr when no
// memory can be had (the caller does without). `tid`: the caller's
// (self_tid()). No allocation but mmap, no lock: safe in a signal handler,
// and in a fork child however made. Inline, the common case: the block is
// this thread's already.
inline void* thread_block(std::size_t bytes, void (*make)(void*), long tid) {
  if (t_block && t_block_owner == tid) return t_block;
  return thread_block_taken(bytes, make, tid);
}

}  // namespace sd
