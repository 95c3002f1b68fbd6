// The socket calls of an atexit handler: they run while the C library and
// the preloaded library are shutting down. The handler connects to a
// loopback port nobody listens on (refused) and prints what it saw.
#include "testutil.h"

static int g_port;

static void at_exit(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_storage ss;
  socklen_t len = loopback(AF_INET, g_port, &ss);
  REPORT("atexit connect", connect(fd, (struct sockaddr*)&ss, len));
  close(fd);
}

int main(void) {
  // The bound socket stays open until the process ends, so the port stays
  // taken and refused while the handler runs.
  bound_socket(AF_INET, 0, &g_port);
  atexit(at_exit);
  printf("main done\n");
  return 0;
}
