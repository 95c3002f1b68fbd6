// SIGPIPE on sockets (SOCKDIAG_SIGPIPE). Socket writes are always made with
// MSG_NOSIGNAL, so the kernel never raises SIGPIPE for them; after an EPIPE
// the library decides, from the mode and the program's own disposition,
// whether the signal is delivered, and records what would have happened.
#pragma once

namespace sd {

struct SigpipeDecision {
  bool deliver;      // raise SIGPIPE in the calling thread, as the kernel would have
  const char* note;  // for the EPIPE record
};

// Called on EPIPE from a socket write, before its record is written.
SigpipeDecision sigpipe_after_epipe();
// Sends SIGPIPE to the calling thread (handler runs, SIG_DFL kills,
// blocked stays pending, SIG_IGN discards it: the kernel's own semantics).
void deliver_sigpipe();

}  // namespace sd
