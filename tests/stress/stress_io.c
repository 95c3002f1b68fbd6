// Load on the library: THREADS threads, each with its own loopback TCP
// connection, make CALLS intercepted I/O calls each (send/recv and
// write/read of 64-byte messages, every short transfer completed and every
// EINTR retried), checking that every byte arrives intact. Optionally a
// 1 kHz SIGALRM (ITIMER_REAL) whose handler itself makes a socket call
// (sendto on a socketpair of its own), with or without SA_RESTART.
// Prints its own counts, which the driver compares with the records:
//   calls CALL N            attempts of each I/O call on the connections
//   errors CALL ERRNAME N   failed attempts by errno
//   signals N / handler sendto N
// Usage: stress_io THREADS CALLS off|restart|norestart
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>

#include "testutil.h"

enum { SEND, RECV, WRITE, READ, NCALLS };
static const char* const kCallNames[NCALLS] = {"send", "recv", "write", "read"};
enum { MSG = 64, MAX_ERRNO = 134 };

static long g_calls_per_thread;
static atomic_long g_calls[NCALLS];
static atomic_long g_errors[NCALLS][MAX_ERRNO + 1];
static atomic_long g_signals, g_handler_sends;
static int g_sigpair[2];
// The connections are made before the timer starts: a blocking connect or
// accept interrupted by a signal without SA_RESTART fails with EINTR.
static pthread_barrier_t g_connected;

static void on_alarm(int sig) {
  (void)sig;
  int saved = errno;
  atomic_fetch_add(&g_signals, 1);
  // Drained at once, so that the socket never fills.
  char byte;
  if (sendto(g_sigpair[0], "x", 1, MSG_DONTWAIT, NULL, 0) == 1) atomic_fetch_add(&g_handler_sends, 1);
  recvfrom(g_sigpair[1], &byte, 1, MSG_DONTWAIT, NULL, NULL);
  errno = saved;
}

// One attempt of call `which`, counted, with its errno counted on failure.
static ssize_t attempt(int which, int fd, char* buf, size_t len) {
  ssize_t n;
  switch (which) {
    case SEND: n = send(fd, buf, len, 0); break;
    case RECV: n = recv(fd, buf, len, 0); break;
    case WRITE: n = write(fd, buf, len); break;
    default: n = read(fd, buf, len); break;
  }
  int err = errno;
  atomic_fetch_add_explicit(&g_calls[which], 1, memory_order_relaxed);
  if (n < 0) atomic_fetch_add_explicit(&g_errors[which][err > 0 && err < MAX_ERRNO ? err : MAX_ERRNO], 1,
                                       memory_order_relaxed);
  errno = err;
  return n;
}

// Moves all `len` bytes with call `which`, however short the transfers;
// returns the number of attempts.
static long transfer(int which, int fd, char* buf, size_t len) {
  long attempts = 0;
  size_t done = 0;
  while (done < len) {
    ssize_t n = attempt(which, fd, buf + done, len - done);
    ++attempts;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die(kCallNames[which]);
    done += (size_t)n;
  }
  return attempts;
}

static void* worker(void* arg) {
  long id = (long)arg;
  sigset_t alarm;
  sigemptyset(&alarm);
  sigaddset(&alarm, SIGALRM);
  pthread_sigmask(SIG_UNBLOCK, &alarm, NULL);
  int client, server;
  tcp_pair(AF_INET, &client, &server);
  pthread_barrier_wait(&g_connected);
  char out[MSG], in[MSG];
  long made = 0;
  for (unsigned long seq = 0; made < g_calls_per_thread; ++seq) {
    for (int i = 0; i < MSG; ++i) out[i] = (char)(id * 31 + seq * 7 + (unsigned long)i);
    // Even messages go client -> server by send/recv, odd ones back by write/read.
    int odd = seq & 1;
    made += transfer(odd ? WRITE : SEND, odd ? server : client, out, MSG);
    made += transfer(odd ? READ : RECV, odd ? client : server, in, MSG);
    if (memcmp(in, out, MSG) != 0) {
      fprintf(stderr, "thread %ld: message %lu arrived changed\n", id, seq);
      exit(3);
    }
  }
  close(client);
  close(server);
  return NULL;
}

static void start_timer(int restart) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_alarm;
  sa.sa_flags = restart ? SA_RESTART : 0;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGALRM, &sa, NULL) != 0) die("sigaction");
  struct itimerval it = {{0, 1000}, {0, 1000}};
  if (setitimer(ITIMER_REAL, &it, NULL) != 0) die("setitimer");
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s THREADS CALLS off|restart|norestart\n", argv[0]);
    return 2;
  }
  int threads = atoi(argv[1]);
  g_calls_per_thread = atol(argv[2]);
  const char* timer = argv[3];
  if (threads < 1 || threads > 1024 || g_calls_per_thread < 1 ||
      (strcmp(timer, "off") && strcmp(timer, "restart") && strcmp(timer, "norestart"))) {
    fprintf(stderr, "usage: %s THREADS(1..1024) CALLS(>0) off|restart|norestart\n", argv[0]);
    return 2;
  }
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g_sigpair) != 0) die("socketpair");
  // The main thread only waits: the timer's signals go to the workers, whose
  // calls they interrupt.
  sigset_t alarm;
  sigemptyset(&alarm);
  sigaddset(&alarm, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &alarm, NULL);
  pthread_barrier_init(&g_connected, NULL, (unsigned)threads + 1);
  pthread_t* tids = calloc((size_t)threads, sizeof(pthread_t));
  for (long i = 0; i < threads; ++i)
    if (pthread_create(&tids[i], NULL, worker, (void*)i) != 0) die("pthread_create");
  pthread_barrier_wait(&g_connected);
  if (strcmp(timer, "off") != 0) start_timer(strcmp(timer, "restart") == 0);
  for (int i = 0; i < threads; ++i) pthread_join(tids[i], NULL);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  for (int c = 0; c < NCALLS; ++c) {
    printf("calls %s %ld\n", kCallNames[c], atomic_load(&g_calls[c]));
    for (int e = 1; e <= MAX_ERRNO; ++e)
      if (atomic_load(&g_errors[c][e])) printf("errors %s %s %ld\n", kCallNames[c], errname(e), atomic_load(&g_errors[c][e]));
  }
  printf("signals %ld\nhandler sendto %ld\n", atomic_load(&g_signals), atomic_load(&g_handler_sends));
  free(tids);
  return 0;
}
