// Linked against libsockdiag.so (not preloaded: the dynamic loader ignores
// LD_PRELOAD paths in secure-execution mode, but loads a library the
// program itself needs from its absolute RUNPATH). Says whether the library
// is mapped and makes one refused connect.
#include "progutil.h"

static int library_mapped(void) {
  FILE* f = fopen("/proc/self/maps", "r");
  if (!f) return 0;
  char line[1024];
  int found = 0;
  while (fgets(line, sizeof(line), f)) found |= strstr(line, "libsockdiag") != NULL;
  fclose(f);
  return found;
}

int main(void) {
  printf("library mapped: %s\n", library_mapped() ? "yes" : "no");
  int port;
  int holder = bound_socket(AF_INET, 0, &port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_storage ss;
  socklen_t len = loopback(AF_INET, port, &ss);
  REPORT("connect", connect(fd, (struct sockaddr*)&ss, len));
  close(fd);
  close(holder);
  return 0;
}
