// SIGPIPE policy (see policy_sigpipe.h).
#include "policy_sigpipe.h"
#include "self_ids.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config_state.h"

namespace sd {

SigpipeDecision sigpipe_after_epipe() {
  struct sigaction sa {};
  sigaction(SIGPIPE, nullptr, &sa);
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  bool blocked = sigismember(&mask, SIGPIPE);
  bool dfl = sa.sa_handler == SIG_DFL && !(sa.sa_flags & SA_SIGINFO);
  bool ign = sa.sa_handler == SIG_IGN && !(sa.sa_flags & SA_SIGINFO);
  if (config().sigpipe == SigpipeMode::keep) {
    if (dfl && !blocked) return {true, "SIGPIPE follows this record and, left at its default, ends the process."};
    if (blocked) return {true, "SIGPIPE is raised after this record and stays pending: the thread blocks it."};
    if (ign) return {true, "The program ignores SIGPIPE itself, so it only sees EPIPE."};
    return {true, "SIGPIPE is delivered after this record, to the program's own handler."};
  }
  // ignore: only the default action, which would end the process, is taken
  // away; a handler the program installed still gets its signal.
  if (dfl && !blocked)
    return {false, "Without sockdiag, SIGPIPE would have ended the process here; it was not raised "
                   "(SOCKDIAG_SIGPIPE=ignore), so the program sees EPIPE instead."};
  if (dfl) return {false, "SIGPIPE was not raised (SOCKDIAG_SIGPIPE=ignore); without sockdiag it would be pending now."};
  if (ign) return {false, "The program ignores SIGPIPE itself, so it only sees EPIPE."};
  return {true, "SIGPIPE is delivered after this record, to the program's own handler."};
}

void deliver_sigpipe() {
  // The kernel sends SIGPIPE to the writing thread, not to the process.
  syscall(SYS_tgkill, self_pid(), self_tid(), SIGPIPE);
}

}  // namespace sd
