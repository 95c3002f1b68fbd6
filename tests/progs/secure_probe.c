// Linked against libsockdiag.so (not preloaded: the dynamic loader ignores
// LD_PRELOAD paths in secure-execution mode, as for a set-user-ID program,
// but loads a library the program itself needs from its absolute RUNPATH).
// Says whether it runs in secure-execution mode (AT_SECURE) and whether the
// library is mapped, then makes one connect to a port nobody listens on:
// with SOCKDIAG_INJECT read, the result would be the injected error.
// Built twice: secure_probe (integration) and setuid_probe (stress).
#include <sys/auxv.h>

#include "testutil.h"

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
  printf("secure execution: %s\n", getauxval(AT_SECURE) ? "yes" : "no");
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
