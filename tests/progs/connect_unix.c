// Connects a unix stream socket to each address given, taken as bytes ("@"
// first: the abstract namespace), and prints what connect returned. The
// addresses and the program's own name (argv[0]) may hold any byte: the
// records made of them must stay one line each.
// Usage: connect_unix ADDRESS...
#include <stddef.h>
#include <sys/un.h>

#include "testutil.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: connect_unix ADDRESS...\n");
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    size_t n = strlen(argv[i]);
    if (n >= sizeof(un.sun_path)) {
      fprintf(stderr, "address %d is longer than %zu bytes\n", i, sizeof(un.sun_path) - 1);
      return 2;
    }
    memcpy(un.sun_path, argv[i], n);
    if (argv[i][0] == '@') un.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    REPORT("connect", connect(fd, (struct sockaddr*)&un, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)));
    close(fd);
  }
  return 0;
}
