// A library whose constructor makes socket calls. The dynamic linker runs it
// before libsockdiag's constructor (a program's own libraries are
// initialised first), so these calls reach hooks whose real functions are
// not bound yet and a library not yet configured.
#include "testutil.h"

__attribute__((constructor)) static void early_calls(void) {
  // Reads and writes first: their hooks' first use binds the real function.
  REPORT("early write stdout", write(STDOUT_FILENO, "early write stdout\n", 19));
  char buf[8];
  REPORT("early recv fd -1", recv(-1, buf, sizeof(buf), 0));
  int sv[2];
  REPORT("early socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  REPORT("early send", send(sv[0], "abc", 3, 0));
  REPORT("early read", read(sv[1], buf, sizeof(buf)));
  close(sv[0]);
  close(sv[1]);
  int port;
  int holder = bound_socket(AF_INET, 0, &port);
  printf("early connect refused: %s\n", connect_is_refused(AF_INET, port) ? "yes" : "no");
  fflush(stdout);
  close(holder);
}
