// The strace engine's floor (strace_engine.py): a hot loop that makes no
// call the engine traces, timed by the program itself. strace's seccomp-bpf
// filter lets such calls through in the kernel, without stopping the
// program: the loop should run as fast traced as untraced.
//
//   bench_untraced_loop MODE ITERATIONS
//     compute   arithmetic only, no system call
//     getpid    one getpid(2) per op: a real system call (glibc does not
//               cache it), outside the traced set
//     clock     one clock_gettime(CLOCK_MONOTONIC) per op (the vDSO: no
//               system call at all)
//
// Prints one line: "MODE: ITERATIONS ops, NS ns/op". Static, as the
// programs the engine is for.
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

// volatile: the compiler must not fold or drop the loops.
static volatile uint64_t g_sink;

static void compute(long n) {
  uint64_t x = 88172645463325252ull;
  for (long i = 0; i < n; i++) {  // xorshift64: a dependent chain, not vectorized
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  g_sink = x;
}

static void getpids(long n) {
  for (long i = 0; i < n; i++) g_sink += (uint64_t)getpid();
}

static void clocks(long n) {
  struct timespec ts;
  for (long i = 0; i < n; i++) {
    clock_gettime(CLOCK_MONOTONIC, &ts);
    g_sink += (uint64_t)ts.tv_nsec;
  }
}

int main(int argc, char** argv) {
  long n = argc == 3 ? atol(argv[2]) : 0;
  void (*loop)(long) = NULL;
  if (argc == 3 && strcmp(argv[1], "compute") == 0) loop = compute;
  if (argc == 3 && strcmp(argv[1], "getpid") == 0) loop = getpids;
  if (argc == 3 && strcmp(argv[1], "clock") == 0) loop = clocks;
  if (!loop || n <= 0) {
    fprintf(stderr, "usage: bench_untraced_loop compute|getpid|clock ITERATIONS\n");
    return 2;
  }
  loop(n / 10 + 1);  // warm-up: page faults, frequency ramp
  double t0 = now_ns();
  loop(n);
  double t1 = now_ns();
  printf("%s: %ld ops, %.2f ns/op\n", argv[1], n, (t1 - t0) / (double)n);
  return 0;
}
