// Seccomp filters. A filter judges system calls, not intentions: OpenSSH's
// pre-authentication child allows write() on its socket and not sendto(),
// and the kernel kills it (SIGSYS) when the library turns that write into a
// send with MSG_NOSIGNAL. Every call the library adds of its own
// (getsockname, fstat, signal masks, the clock) could meet the same fate.
// So a process under a filter is passed through untouched: the library
// stands down there (g_passive), unless SOCKDIAG_SECCOMP=keep says the
// filter allows the library's calls.
#pragma once

namespace sd {

// Set once the library stood down for a filter: the fork handler, which
// would make calls of its own in the child (the filter is inherited), does
// nothing.
extern bool g_under_filter;

// The program is about to install a filter (prctl(PR_SET_SECCOMP),
// seccomp(SECCOMP_SET_MODE_*)): the library stands down in the whole
// process, since a filter binds the installing thread and the threads it
// makes later (every thread with SECCOMP_FILTER_FLAG_TSYNC), while the
// library's state is shared by all of them. Said once on stderr, before the
// filter is in force (afterwards a write might be refused). Returns whether
// this call stood it down, so that a refused install can undo it.
bool seccomp_filter_coming();
// The kernel refused the filter (the call returned -1): none is in force,
// and the library resumes. Keeps errno. (A TSYNC install that another
// thread's filter prevents returns that thread's id instead: the library
// stays down, the safe side.)
void seccomp_filter_refused();

// At start, before the library makes any call of its own: whether this
// process runs under a filter inherited across exec (systemd's
// SystemCallFilter=, container runtimes), from the Seccomp: line of
// /proc/self/status. Reading it takes openat, read and close, which the
// dynamic loader has already made in this process to load the library;
// prctl(PR_GET_SECCOMP) is a call the filter may refuse. Sets `pid` from
// the same file (getpid could be refused too).
bool filter_inherited(long* pid);
// Stands down for an inherited filter, and says so once.
void seccomp_stand_down_inherited(long pid);

}  // namespace sd
