// Binds a second socket to an address a first one holds, and prints what
// bind returned (EADDRINUSE): the failed bind's record must name the local
// address it asked for, not take it for a peer.
//   bind_taken 4              127.0.0.1 and a port the first socket got (printed)
//   bind_taken 4 reuseaddr    the same, the second socket with SO_REUSEADDR
//   bind_taken unix PATH      a socket file
//   bind_taken abstract NAME  an abstract unix name (given without the '@')
#include <stddef.h>
#include <sys/un.h>

#include "testutil.h"

static socklen_t unix_address(const char* name, int abstract, struct sockaddr_un* un) {
  memset(un, 0, sizeof(*un));
  un->sun_family = AF_UNIX;
  size_t n = strlen(name);
  if (n + 1 >= sizeof(un->sun_path)) {
    fprintf(stderr, "name '%s' is too long\n", name);
    exit(2);
  }
  memcpy(un->sun_path + abstract, name, n);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)abstract + n + (size_t)!abstract);
}

int main(int argc, char** argv) {
  struct sockaddr_storage ss;
  socklen_t len;
  int family = AF_INET;
  int reuseaddr = argc == 3 && strcmp(argv[1], "4") == 0 && strcmp(argv[2], "reuseaddr") == 0;
  if ((argc == 2 || reuseaddr) && strcmp(argv[1], "4") == 0) {
    int port;
    bound_socket(AF_INET, 1, &port);
    printf("port: %d\n", port);
    len = loopback(AF_INET, port, &ss);
  } else if (argc == 3 && (strcmp(argv[1], "unix") == 0 || strcmp(argv[1], "abstract") == 0)) {
    family = AF_UNIX;
    len = unix_address(argv[2], strcmp(argv[1], "abstract") == 0, (struct sockaddr_un*)&ss);
    int first = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (first < 0) die("socket");
    if (bind(first, (struct sockaddr*)&ss, len) != 0) die("bind");
  } else {
    fprintf(stderr, "usage: bind_taken 4 [reuseaddr] | unix PATH | abstract NAME\n");
    return 2;
  }
  int second = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (second < 0) die("socket");
  int on = 1;
  if (reuseaddr && setsockopt(second, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) die("setsockopt");
  REPORT("bind", bind(second, (struct sockaddr*)&ss, len));
  return 0;
}
