// A program with its own connect timeout, as curl and client libraries have:
// a non-blocking connect that gets no answer is given up with shutdown() and
// close() after TIMEOUT_MS. The connect goes to a loopback listener whose
// accept queue is full (backlog 0 and one connection not accepted): the
// kernel drops further SYNs, so the connection request is never answered.
// Shutting down a socket still in SYN_SENT makes the kernel set SO_ERROR to
// ECONNRESET, although no peer ever sent a reset.
// Usage: connect_abandoned 4|6 TIMEOUT_MS
#include <poll.h>

#include "testutil.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s 4|6 TIMEOUT_MS\n", argv[0]);
    return 2;
  }
  int family = parse_family(argv[1]);
  int timeout_ms = atoi(argv[2]);
  int port;
  int lfd = listener(family, 0, &port);
  int queued = connect_to(family, port);  // fills the accept queue
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  REPORT("connect", connect_loopback(fd, family, port));
  struct pollfd p = {fd, POLLOUT, 0};
  REPORT("poll", poll(&p, 1, timeout_ms));
  REPORT("shutdown", shutdown(fd, SHUT_RDWR));
  REPORT("close", close(fd));
  close(queued);
  close(lfd);
  return 0;
}
