// `slow_close=T` (rules.h): the peer sees the program's close (or its
// shutdown for writing) late. The close returns at once, as a close does,
// and the descriptor number is the program's again at once; the socket
// itself stays open through a copy the library owns (moved to the top of
// the fd range, close-on-exec, refused to the program's close), and is
// closed T later, which sends the FIN then. A shutdown is not made: the
// copy is shut down (the program's `how`) and closed T later.
// No thread is added: the copy is closed by the first rule-checked call
// (a read, a write, another close...) after T, a wait (poll, select,
// epoll) wakes for it at T, and at the latest exit, which waits for what is
// still due. A forked child drops its copies at
// once: only the parent's copy delays the FIN.
#pragma once
#include "inject.h"

namespace sd {

// The program closes `fd` (how -1) or shuts it down (`how`) under the rule
// `rule`: keep the socket open for the rule's time. True: delayed (a
// shutdown is then done; a close is made by the caller as usual). A
// shutdown for reading only is left alone (it sends nothing).
bool delay_fin(Call, int fd, const Rule* rule, int how);
// Closes the copies whose time has come. Cheap when none waits.
void slow_close_due();
// Some rule delays FINs: the waits are to wake for them (sets g_readiness).
void slow_close_arm(const RuleSet&);
// For a wait: closes the copies due by `now`; when the next is due
// (CLOCK_MONOTONIC ns; kNever: none waits).
uint64_t slow_close_wake(uint64_t now);
void slow_close_after_fork();
// A copy the library keeps: the program never opened it.
bool is_slow_close_fd(int fd);

}  // namespace sd
