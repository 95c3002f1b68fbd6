// A server at its fd limit: with RLIMIT_NOFILE at LIMIT (set by the
// program itself, before anything else), one client connects, then the
// program opens /dev/null until open() fails with EMFILE, and accepts:
// accept fails with EMFILE (the client stays queued). After one fd is freed
// the same accept succeeds.
// Prints "accept at the limit: -1 EMFILE", "accept after freeing one fd: OK",
// and "fds opened before EMFILE: N" on stderr (the library's log fd may
// take one of the LIMIT, so the driver compares it apart).
// Usage: accept_emfile LIMIT
#include <fcntl.h>
#include <sys/resource.h>

#include "testutil.h"

int main(int argc, char** argv) {
  if (argc != 2 || atoi(argv[1]) < 16) {
    fprintf(stderr, "usage: %s LIMIT(>=16)\n", argv[0]);
    return 2;
  }
  struct rlimit rl = {(rlim_t)atoi(argv[1]), (rlim_t)atoi(argv[1])};
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) die("setrlimit");
  int port;
  int lfd = bound_socket(AF_INET, 1, &port);
  int client = connect_to(AF_INET, port);
  int fillers[1024], n = 0;
  while (n < 1024) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno != EMFILE) die("open /dev/null");
      break;
    }
    fillers[n++] = fd;
  }
  fprintf(stderr, "fds opened before EMFILE: %d\n", n);
  REPORT("accept at the limit", accept(lfd, NULL, NULL));
  close(fillers[--n]);
  int conn = accept(lfd, NULL, NULL);
  REPORT("accept after freeing one fd", conn);
  while (n > 0) close(fillers[--n]);
  close(conn);
  close(client);
  close(lfd);
  return 0;
}
