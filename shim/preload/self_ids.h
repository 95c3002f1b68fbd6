// This process's pid and the calling thread's tid, for records, without a
// system call each time (glibc caches neither since 2.25).
#pragma once

namespace sd {

// Asked of the kernel once per process. A fork child must not report its
// parent's pid, and not every child runs our atfork handler (_Fork(), a raw
// clone() without CLONE_VM): the pid is kept in a page the kernel zeroes in
// every child (MADV_WIPEONFORK, Linux 4.14). Where that page cannot be had,
// every call asks the kernel.
long self_pid();
// Asked once per thread, and again in a fork child (the forking thread's
// tid there is new): a tid is kept with the pid it was asked under.
long self_tid();

}  // namespace sd
