// What a process can tell of how it was started, to be compared with and
// without `sockdiag run`: its open descriptors, then an exit status or a
// death by signal. It opens a socket first, so that the list has one.
//   fd_exit exit STATUS    prints "fd N: TARGET" per open descriptor
//                          (readlink of /proc/self/fd/N), exits STATUS
//   fd_exit signal N       the same, then kills itself with signal N
// Usage: fd_exit exit|signal NUMBER
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "testutil.h"

int main(int argc, char** argv) {
  if (argc != 3 || (strcmp(argv[1], "exit") != 0 && strcmp(argv[1], "signal") != 0)) {
    fprintf(stderr, "usage: %s exit|signal NUMBER\n", argv[0]);
    return 2;
  }
  int number = atoi(argv[2]);
  if (socket(AF_INET, SOCK_STREAM, 0) < 0) die("socket");
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) die("opendir /proc/self/fd");
  struct dirent* e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd == dirfd(dir)) continue;  // the listing's own descriptor
    char path[64], target[4096];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n < 0) die("readlink");
    target[n] = '\0';
    printf("fd %d: %s\n", fd, target);
  }
  closedir(dir);
  fflush(stdout);
  if (strcmp(argv[1], "exit") == 0) return number;
  // The default action, whatever the program was started with; no core
  // file left behind by a test.
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  signal(number, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, number);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  kill(getpid(), number);
  fprintf(stderr, "still alive after signal %d\n", number);
  return 3;
}
