// A program that learns whether stdin is a socket before reading it, as
// servers and ncat do: getsockopt(SO_TYPE) and recv() on fd 0 fail with
// ENOTSOCK, and it reads with read() instead. Then a bug for contrast: a
// socket it closed, whose number a file got, used again with recv().
// argv[0]'s memory is rewritten first, as setproctitle does (postgres,
// nginx): records must still name the program.
// Usage: stdin_probe < FILE (prints read stdin: 1 after data, 0 at its end)
#include <fcntl.h>

#include "testutil.h"

int main(int argc, char** argv) {
  (void)argc;
  // setproctitle: the title is written over argv[0] itself.
  size_t room = strlen(argv[0]);
  memset(argv[0], 0, room);
  strncpy(argv[0], " retitled", room);
  int type;
  socklen_t len = sizeof(type);
  REPORT("getsockopt stdin SO_TYPE", getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len));
  char buf[256];
  REPORT("recv stdin", recv(0, buf, sizeof(buf), MSG_PEEK));
  ssize_t n = read(0, buf, sizeof(buf));
  REPORT("read stdin", n > 0 ? 1 : n);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  printf("socket fd: %d\n", fd);
  close(fd);
  int file = open("/dev/null", O_RDONLY | O_CLOEXEC);
  printf("reused: %s\n", file == fd ? "yes" : "no");
  REPORT("recv closed socket", recv(file, buf, sizeof(buf), 0));
  close(file);
  return 0;
}
