// The least a launcher can add: a static program that starts its arguments
// (vfork + execv, as `sockdiag run` does) and waits for them, with nothing
// else. startup.py times `bench_launcher_floor true` (with the library
// preloaded) beside `sockdiag run -- true`: the first is what a second
// process and the library cost on this machine; the rest is sockdiag's own.
//
//   bench_launcher_floor PROGRAM [ARG...]
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_launcher_floor PROGRAM [ARG...]\n");
    return 2;
  }
  pid_t pid = vfork();
  if (pid == 0) {
    execv(argv[1], argv + 1);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) {
    perror("bench_launcher_floor");
    return 2;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
