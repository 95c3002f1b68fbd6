// Workloads for the benchmark drivers (bench.py, callgrind.py, peer.py):
// socket round trips and socket failures on loopback, timed in ns per
// operation, and the peak memory of a process that uses sockets.
//
//   bench_pingpong MODE ITERATIONS
//   bench_pingpong eagain-threads THREADS ITERATIONS
//
// Prints one line: "MODE: ITERATIONS ops, NS ns/op", or for the rss- modes
// "MODE: ITERATIONS ops, KB kB peak RSS".
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { kMessage = 64, kWarmup = 200, kMaxThreads = 1024 };

static const char *const kModes =
    "tcp-send, tcp-rw, unix-send, unix-rw, refused, sockets, eagain, eagain-threads, rss-pingpong, rss-sockets";

static void die(const char *what) {
  fprintf(stderr, "bench_pingpong: %s: %s\n", what, strerror(errno));
  exit(1);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

// A TCP connection over 127.0.0.1: fds[0] the connecting end, fds[1] the
// accepted end. Nagle off, as latency-bound programs do.
// A listener on an ephemeral port of 127.0.0.1; its address in *addr.
static int loopback_listener(int backlog, struct sockaddr_in *addr, socklen_t *len) {
  *addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  *len = sizeof *addr;
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) die("socket");
  if (bind(listener, (struct sockaddr *)addr, *len) < 0) die("bind 127.0.0.1:0");
  if (listen(listener, backlog) < 0) die("listen");
  if (getsockname(listener, (struct sockaddr *)addr, len) < 0) die("getsockname");
  return listener;
}

static void tcp_pair(int fds[2]) {
  struct sockaddr_in addr;
  socklen_t len;
  int listener = loopback_listener(1, &addr, &len);
  fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fds[0] < 0) die("socket");
  if (connect(fds[0], (struct sockaddr *)&addr, len) < 0) die("connect to the listener");
  fds[1] = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
  if (fds[1] < 0) die("accept4");
  close(listener);
  const int on = 1;
  for (int i = 0; i < 2; i++)
    if (setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) < 0)
      die("setsockopt TCP_NODELAY");
}

struct Peer {
  int fd;
  bool rw;  // read/write instead of recv/send
};

static ssize_t get_some(const struct Peer *p, char *buf, size_t n) {
  return p->rw ? read(p->fd, buf, n) : recv(p->fd, buf, n, 0);
}

static ssize_t put_some(const struct Peer *p, const char *buf, size_t n) {
  return p->rw ? write(p->fd, buf, n) : send(p->fd, buf, n, 0);
}

// Returns false on end of stream before the first byte.
static bool get_message(const struct Peer *p, char *buf) {
  size_t got = 0;
  while (got < kMessage) {
    ssize_t r = get_some(p, buf + got, kMessage - got);
    if (r < 0) die("receive");
    if (r == 0) {
      if (got == 0) return false;
      errno = EPROTO;
      die("peer closed in the middle of a message");
    }
    got += (size_t)r;
  }
  return true;
}

static void put_message(const struct Peer *p, const char *buf) {
  size_t put = 0;
  while (put < kMessage) {
    ssize_t r = put_some(p, buf + put, kMessage - put);
    if (r < 0) die("send");
    put += (size_t)r;
  }
}

static void *echo(void *arg) {
  const struct Peer *p = arg;
  char buf[kMessage];
  while (get_message(p, buf)) put_message(p, buf);
  return NULL;
}

static double pingpong(bool tcp, bool rw, long iterations) {
  int fds[2];
  if (tcp)
    tcp_pair(fds);
  else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
    die("socketpair");
  struct Peer client = {fds[0], rw}, server = {fds[1], rw};
  pthread_t thread;
  errno = pthread_create(&thread, NULL, echo, &server);
  if (errno) die("pthread_create");

  char buf[kMessage];
  memset(buf, 'x', sizeof buf);
  for (int i = 0; i < kWarmup; i++) {
    put_message(&client, buf);
    get_message(&client, buf);
  }
  double start = now_ns();
  for (long i = 0; i < iterations; i++) {
    put_message(&client, buf);
    if (!get_message(&client, buf)) {
      errno = EPROTO;
      die("echo thread closed the connection");
    }
  }
  double elapsed = now_ns() - start;

  if (shutdown(client.fd, SHUT_WR) < 0) die("shutdown");
  pthread_join(thread, NULL);
  close(server.fd);
  close(client.fd);
  return elapsed / (double)iterations;
}

// A loopback port nobody listens on: one the kernel just handed out and that
// was released again (never connected, so it has no TIME_WAIT state).
static struct sockaddr_in closed_port(void) {
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof addr;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  if (bind(fd, (struct sockaddr *)&addr, len) < 0) die("bind 127.0.0.1:0");
  if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0) die("getsockname");
  close(fd);
  return addr;
}

static void refused_once(const struct sockaddr_in *addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) == 0) {
    fprintf(stderr, "bench_pingpong: 127.0.0.1:%u accepted a connection; "
            "another program took the closed port, run again\n",
            ntohs(addr->sin_port));
    exit(1);
  }
  if (errno != ECONNREFUSED) die("connect to a closed loopback port");
  close(fd);
}

// One op: socket + connect refused (loopback answers SYN with RST) + close.
static double refused(long iterations) {
  struct sockaddr_in addr = closed_port();
  for (int i = 0; i < kWarmup; i++) refused_once(&addr);
  double start = now_ns();
  for (long i = 0; i < iterations; i++) refused_once(&addr);
  return (now_ns() - start) / (double)iterations;
}

// One op: socket + close, the refused op without its connect: what the
// refused op costs besides the failure itself.
static double sockets(long iterations) {
  for (int i = 0; i < kWarmup; i++) close(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  double start = now_ns();
  for (long i = 0; i < iterations; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    close(fd);
  }
  return (now_ns() - start) / (double)iterations;
}

// A connected, idle TCP pair whose fds[0] is non-blocking: every recv on it
// fails with EAGAIN.
static void idle_nonblocking_pair(int fds[2]) {
  tcp_pair(fds);
  int flags = fcntl(fds[0], F_GETFL);
  if (flags < 0 || fcntl(fds[0], F_SETFL, flags | O_NONBLOCK) < 0) die("fcntl O_NONBLOCK");
}

static void recv_eagain(int fd) {
  char buf[kMessage];
  if (recv(fd, buf, sizeof buf, 0) >= 0) {
    errno = EPROTO;
    die("recv on an idle connection returned data");
  }
  if (errno != EAGAIN) die("recv on an idle non-blocking socket");
}

// One op: recv on a non-blocking connected socket with nothing queued.
static double eagain(long iterations) {
  int fds[2];
  idle_nonblocking_pair(fds);
  double start = 0;
  for (long i = -kWarmup; i < iterations; i++) {
    if (i == 0) start = now_ns();
    recv_eagain(fds[0]);
  }
  double elapsed = now_ns() - start;
  close(fds[0]);
  close(fds[1]);
  return elapsed / (double)iterations;
}

// eagain-threads: THREADS threads, each draining its own idle non-blocking
// socket to EAGAIN, all at once: what an event-loop server with a thread per
// core does between events. Anything the recv path writes that all threads
// share bounces between their cores on every call.
struct Drainer {
  int fd;
  long iterations;
  pthread_barrier_t *start;
};

static void *drain(void *arg) {
  const struct Drainer *d = arg;
  for (int i = 0; i < kWarmup; i++) recv_eagain(d->fd);
  pthread_barrier_wait(d->start);
  for (long i = 0; i < d->iterations; i++) recv_eagain(d->fd);
  return NULL;
}

// One op: one recv of every thread. Wall time from the start line (all
// threads warmed up) to the last thread done, per op: constant in THREADS
// while there are cores for them.
static double eagain_threads(int threads, long iterations) {
  struct Drainer d[threads];
  int pairs[threads][2];
  pthread_t tid[threads];
  pthread_barrier_t start;
  if ((errno = pthread_barrier_init(&start, NULL, (unsigned)threads + 1))) die("pthread_barrier_init");
  for (int t = 0; t < threads; t++) {
    idle_nonblocking_pair(pairs[t]);
    d[t] = (struct Drainer){pairs[t][0], iterations, &start};
    if ((errno = pthread_create(&tid[t], NULL, drain, &d[t]))) die("pthread_create");
  }
  pthread_barrier_wait(&start);
  double begin = now_ns();
  for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
  double elapsed = now_ns() - begin;
  for (int t = 0; t < threads; t++) {
    close(pairs[t][0]);
    close(pairs[t][1]);
  }
  pthread_barrier_destroy(&start);
  return elapsed / (double)iterations;
}

// The peak resident set of this process so far (VmHWM, all threads), in kB.
static long peak_rss_kb(void) {
  FILE *status = fopen("/proc/self/status", "r");
  if (!status) die("open /proc/self/status");
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof line, status))
    if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
  fclose(status);
  if (kb < 0) {
    errno = ENOENT;
    die("no VmHWM line in /proc/self/status");
  }
  return kb;
}

// ITERATIONS sockets open at once, as ITERATIONS/2 TCP connections over
// 127.0.0.1 (each end a socket): every one of them went through socket or
// accept4 and connect, so an interposer tracking connections tracks them all.
// Returns the peak RSS with all of them open.
static long many_sockets(long sockets) {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) < 0) die("getrlimit RLIMIT_NOFILE");
  if (limit.rlim_max != RLIM_INFINITY && (long)limit.rlim_max < sockets + 64) {
    fprintf(stderr, "bench_pingpong: %ld sockets need more fds than the hard "
            "RLIMIT_NOFILE (%ld) allows; raise it (ulimit -Hn) or ask for fewer\n",
            sockets, (long)limit.rlim_max);
    exit(1);
  }
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) < 0) die("setrlimit RLIMIT_NOFILE to the hard limit");

  struct sockaddr_in addr;
  socklen_t len;
  int listener = loopback_listener(16, &addr, &len);

  long pairs = sockets / 2;
  int *fds = malloc(sizeof(int) * 2 * (size_t)pairs);
  if (!fds) die("malloc");
  for (long i = 0; i < pairs; i++) {
    fds[2 * i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fds[2 * i] < 0) die("socket");
    if (connect(fds[2 * i], (struct sockaddr *)&addr, len) < 0) die("connect to the listener");
    fds[2 * i + 1] = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (fds[2 * i + 1] < 0) die("accept4");
  }
  long kb = peak_rss_kb();
  // A reset instead of a FIN: no TIME_WAIT left to hold ports for the next run.
  const struct linger reset = {.l_onoff = 1, .l_linger = 0};
  for (long i = 0; i < 2 * pairs; i++) {
    if (i % 2 == 0 && setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &reset, sizeof reset) < 0)
      die("setsockopt SO_LINGER");
    close(fds[i]);
  }
  close(listener);
  free(fds);
  return kb;
}

static int usage(const char *problem, const char *given) {
  fprintf(stderr, "bench_pingpong: %s%s; usage: bench_pingpong MODE ITERATIONS "
          "(MODE: %s; ITERATIONS: 1 to 1000000000) or bench_pingpong eagain-threads "
          "THREADS ITERATIONS (THREADS: 1 to %d)\n", problem, given, kModes, kMaxThreads);
  return 2;
}

static bool whole_number(const char *text, long max, long *value) {
  char *end;
  errno = 0;
  *value = strtol(text, &end, 10);
  return !errno && end != text && !*end && *value >= 1 && *value <= max;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage("expected 2 arguments", "");
  const char *mode = argv[1];
  bool threaded = !strcmp(mode, "eagain-threads");
  if (argc != (threaded ? 4 : 3)) return usage(threaded ? "expected 3 arguments" : "expected 2 arguments", "");
  long threads = 1, iterations;
  if (threaded && !whole_number(argv[2], kMaxThreads, &threads))
    return usage("THREADS is not a whole number in range: ", argv[2]);
  if (!whole_number(argv[threaded ? 3 : 2], 1000000000, &iterations))
    return usage("ITERATIONS is not a whole number in range: ", argv[threaded ? 3 : 2]);

  if (!strcmp(mode, "rss-pingpong") || !strcmp(mode, "rss-sockets")) {
    long kb;
    if (!strcmp(mode, "rss-sockets")) {
      kb = many_sockets(iterations);
    } else {
      pingpong(true, false, iterations);
      kb = peak_rss_kb();
    }
    printf("%s: %ld ops, %ld kB peak RSS\n", mode, iterations, kb);
    return 0;
  }

  double ns;
  if (!strcmp(mode, "tcp-send")) ns = pingpong(true, false, iterations);
  else if (!strcmp(mode, "tcp-rw")) ns = pingpong(true, true, iterations);
  else if (!strcmp(mode, "unix-send")) ns = pingpong(false, false, iterations);
  else if (!strcmp(mode, "unix-rw")) ns = pingpong(false, true, iterations);
  else if (!strcmp(mode, "refused")) ns = refused(iterations);
  else if (!strcmp(mode, "sockets")) ns = sockets(iterations);
  else if (!strcmp(mode, "eagain")) ns = eagain(iterations);
  else if (threaded) ns = eagain_threads((int)threads, iterations);
  else return usage("unknown MODE: ", mode);

  printf("%s: %ld ops, %.1f ns/op\n", mode, iterations, ns);
  return 0;
}
