// Process start-up workload for the benchmark drivers: runs a program again
// and again, one at a time, and times each run from spawn to reaped exit.
//
//   bench_spawn ITERATIONS PROGRAM [ARG...]
//
// Prints one line: "startup: ITERATIONS ops, NS ns/op". The children get
// this process's environment, so a preload (LD_PRELOAD) or a tracer
// following children (strace -f) applies to each of them.
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

enum { kWarmup = 5 };  // page cache, lazy binding of posix_spawn and waitpid

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void run_once(char **argv) {
  pid_t pid;
  int err = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
  if (err) {
    fprintf(stderr, "bench_spawn: cannot start %s: %s\n", argv[0], strerror(err));
    exit(1);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) {
      perror("bench_spawn: waitpid");
      exit(1);
    }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "bench_spawn: %s did not exit with status 0 (wait status %d)\n",
            argv[0], status);
    exit(1);
  }
}

int main(int argc, char **argv) {
  char *end;
  errno = 0;
  long iterations = argc >= 3 ? strtol(argv[1], &end, 10) : 0;
  if (argc < 3 || errno || end == argv[1] || *end || iterations < 1 || iterations > 1000000) {
    fprintf(stderr, "bench_spawn: usage: bench_spawn ITERATIONS PROGRAM [ARG...] "
            "(ITERATIONS: 1 to 1000000; PROGRAM: a path)\n");
    return 2;
  }
  for (int i = 0; i < kWarmup; i++) run_once(argv + 2);
  double start = now_ns();
  for (long i = 0; i < iterations; i++) run_once(argv + 2);
  printf("startup: %ld ops, %.1f ns/op\n", iterations, (now_ns() - start) / (double)iterations);
  return 0;
}
