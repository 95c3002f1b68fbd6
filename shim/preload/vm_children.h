// Children that share this process's memory: vfork() children, and clone()
// children made with CLONE_VM but without CLONE_THREAD. They share the
// parent thread's thread-local state (the recursion guard, the record
// scratch) and every table of the library, while running as another
// process with a file table of its own: the library's bookkeeping in them
// would erase or garble the parent's (a vfork child's close() of an
// inherited socket is not the parent's close). Their calls pass straight
// through, counted, while such a child may exist.
#pragma once
#include <atomic>
#include <cstdint>

namespace sd {

// Children sharing memory that may be running now (vforks in flight, clone
// children whose function has not returned).
extern std::atomic<uint32_t> g_vm_sharing __asm__("sd_vm_sharing");
// Calls such children made, passed through unobserved (said in the summary).
extern std::atomic<uint64_t> g_vm_child_calls;

// Whether the calling process is such a child: its pid is not the one the
// library runs in (one getpid system call: only while g_vm_sharing is set).
bool in_vm_child();

// The pid of the process the library runs in: at start, and in a forked
// child (fork's handler), which also forgets the parent's children.
void vm_children_after_start();

}  // namespace sd
