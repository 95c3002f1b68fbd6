// What the policy tests' programs share: a 1 kHz SIGALRM storm for the EINTR
// tests (a handler installed WITHOUT SA_RESTART, so that every blocking call
// the signal interrupts fails with EINTR instead of being restarted by the
// kernel), and the helper threads that play the peer a moment after the call
// under test has blocked. Helper threads block SIGALRM, so that the signals
// land on the thread making the call.
#pragma once
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#include "testutil.h"

// Signals after which the storm stops by itself: a call that never
// returns under the storm (a wait restarted with its whole timeout each
// time) then ends 3 s late instead of hanging the test.
#define STORM_LIMIT 3000

static volatile sig_atomic_t storm_signals;
static long storm_first_ms;  // time the first handler run takes (storm_install)

static inline void storm_set(long usec) {
  struct itimerval it = {{0, usec}, {0, usec}};
  setitimer(ITIMER_REAL, &it, NULL);
}

static inline double mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void storm_handler(int sig) {
  (void)sig;
  if (++storm_signals >= STORM_LIMIT) storm_set(0);
  if (storm_signals == 1 && storm_first_ms) {
    double until = mono_ms() + (double)storm_first_ms;
    while (mono_ms() < until) {
    }
  }
}

// first_ms: how long the first handler run takes (0: as short as can be).
// A slow handler puts time between an interrupted wait and its retry: a
// retry whose timeout is not counted from the program's call ends that much
// late.
static inline void storm_install(long first_ms) {
  storm_first_ms = first_ms;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = storm_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the point of the test
  if (sigaction(SIGALRM, &sa, NULL) != 0) die("sigaction");
}

static inline void storm_start(void) { storm_set(1000); }
static inline void storm_stop(void) { storm_set(0); }

// The thread that makes the call under test (the one that starts helpers).
static long storm_caller_tid;

// A helper acts ("200 ms later") only once the calling thread has blocked:
// in the call under test, or after it (a call that failed at once, then
// pthread_join). Timed from the helper's start alone, a caller scheduled
// late on a loaded machine would make its call after the peer had acted.
// (At most 10 s: a caller that never blocks gets the old timing.)
static inline void wait_caller_blocked(void) {
  for (int ms = 0; ms < 10000 && thread_state(storm_caller_tid) != 'S'; ++ms) usleep(1000);
}

// Starts `fn` on a thread that never receives SIGALRM.
static inline pthread_t start_helper(void* (*fn)(void*), void* arg) {
  storm_caller_tid = (long)gettid();
  sigset_t alrm, old;
  sigemptyset(&alrm);
  sigaddset(&alrm, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &alrm, &old);
  pthread_t t;
  if (pthread_create(&t, NULL, fn, arg) != 0) die("pthread_create");
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return t;
}

// The peer of the call under test (a connected socket, a listener or a
// pipe's write end) and the port of the program's own listener, acted on
// by the helpers below once the caller has blocked.
static int peer_fd;
static int listen_port;

// Sends "pong" to the caller 200 ms later.
static inline void* send_late(void* arg) {
  (void)arg;
  wait_caller_blocked();
  pause_ms(200);
  if (send(peer_fd, "pong", 4, 0) != 4) die("peer send");
  return NULL;
}

// Writes "pipe" to the pipe ARG ms later.
static inline void* write_late(void* arg) {
  wait_caller_blocked();
  pause_ms((int)(intptr_t)arg);
  if (write(peer_fd, "pipe", 4) != 4) die("peer write");
  return NULL;
}

// Drains the caller's full connection 200 ms later.
static inline void* drain_late(void* arg) {
  (void)arg;
  wait_caller_blocked();
  pause_ms(200);
  char buf[65536];
  while (recv(peer_fd, buf, sizeof(buf), 0) > 0) {
  }
  return NULL;
}

// Connects to the caller's listener 200 ms later.
static inline void* connect_late(void* arg) {
  (void)arg;
  wait_caller_blocked();
  pause_ms(200);
  int fd = connect_to(AF_INET, listen_port);
  char c;
  recv(fd, &c, 1, 0);  // held open until the program closes its end
  close(fd);
  return NULL;
}
