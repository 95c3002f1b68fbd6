// Helpers shared by every test program (tests/progs, policy, inject,
// stress): errno names, loopback addresses, ports nobody listens on,
// listeners and connected TCP pairs, and one printed line per call result
// ("what: RET ERRNAME") that the drivers compare and parse. Every address is
// loopback (127.0.0.1 or ::1); every port comes from binding port 0.
#pragma once
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline void die(const char* what) {
  fprintf(stderr, "%s: %s\n", what, strerror(errno));
  exit(2);
}

static inline const char* errname(int err) {
  const char* n = err ? strerrorname_np(err) : "OK";
  return n ? n : "UNKNOWN";
}

// Prints one call result as "CALL: RET ERRNAME"; the ports and addresses
// are left out so that two runs can be compared line by line. `err` is the
// errno saved right after the call.
static inline void report(const char* call, long ret, int err) {
  printf("%s: %ld %s\n", call, ret, ret < 0 ? errname(err) : "OK");
  fflush(stdout);
}

// report() of `expr`. A macro, so that errno is read after the call
// (argument order is unspecified in C).
#define REPORT(what, expr)          \
  do {                              \
    long ret_ = (long)(expr);       \
    int err_ = errno;               \
    report(what, ret_, err_);       \
  } while (0)

static inline int parse_family(const char* s) {
  if (strcmp(s, "4") == 0) return AF_INET;
  if (strcmp(s, "6") == 0) return AF_INET6;
  fprintf(stderr, "family '%s' is not 4 or 6\n", s);
  exit(2);
}

static inline socklen_t loopback(int family, int port, struct sockaddr_storage* ss) {
  memset(ss, 0, sizeof(*ss));
  if (family == AF_INET6) {
    struct sockaddr_in6* in6 = (struct sockaddr_in6*)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    in6->sin6_port = htons((unsigned short)port);
    return sizeof(*in6);
  }
  struct sockaddr_in* in = (struct sockaddr_in*)ss;
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  in->sin_port = htons((unsigned short)port);
  return sizeof(*in);
}

static inline int port_of(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(fd, (struct sockaddr*)&ss, &len) != 0) die("getsockname");
  if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6*)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in*)&ss)->sin_port);
}

// A TCP socket bound to an ephemeral loopback port, listening or not. A
// bound socket that does not listen keeps the port from anyone else while
// connects to it are refused (RST).
static inline int bound_socket(int family, int listening, int* port) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  struct sockaddr_storage ss;
  socklen_t len = loopback(family, 0, &ss);
  if (bind(fd, (struct sockaddr*)&ss, len) != 0) die("bind");
  if (listening && listen(fd, 64) != 0) die("listen");
  *port = port_of(fd);
  return fd;
}

// A TCP listener with its own backlog on an ephemeral loopback port.
static inline int listener(int family, int backlog, int* port) {
  int fd = bound_socket(family, 0, port);
  if (listen(fd, backlog) != 0) die("listen");
  return fd;
}

// connect() of `fd` to loopback `port`, errno as it left it.
static inline int connect_loopback(int fd, int family, int port) {
  struct sockaddr_storage ss;
  socklen_t len = loopback(family, port, &ss);
  return connect(fd, (struct sockaddr*)&ss, len);
}

static inline int connect_to(int family, int port) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  if (connect_loopback(fd, family, port) != 0) die("connect");
  return fd;
}

// Whether one connect of a new TCP socket to loopback `port` is refused
// (ECONNREFUSED); the socket is closed again.
static inline int connect_is_refused(int family, int port) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int refused = connect_loopback(fd, family, port) != 0 && errno == ECONNREFUSED;
  close(fd);
  return refused;
}

// An established loopback TCP connection: *client and *server are its ends.
static inline void tcp_pair(int family, int* client, int* server) {
  int port;
  int lfd = bound_socket(family, 1, &port);
  *client = connect_to(family, port);
  *server = accept(lfd, NULL, NULL);
  if (*server < 0) die("accept");
  close(lfd);
}

static inline void pause_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
}

// Fills the connection from `fd` until a send would block and stays blocked:
// acknowledgements and send-buffer growth free space for a few milliseconds
// after the first EAGAIN, so the filling goes on until a pause frees none.
// MSG_DONTWAIT: SOCKDIAG_RETRY=eagain leaves these sends alone.
static inline void fill_connection(int fd) {
  static char chunk[65536];
  long sent;
  do {
    sent = 0;
    ssize_t n;
    while ((n = send(fd, chunk, sizeof(chunk), MSG_DONTWAIT)) > 0) sent += n;
    if (errno != EAGAIN) die("fill");
    pause_ms(50);
  } while (sent > 0);
}

// The state letter of thread `tid` of this process in /proc ('S': asleep in
// a blocking call), '?' when it cannot be read. The name in parentheses
// may itself hold ')': the state follows the last one.
static inline char thread_state(long tid) {
  char path[64], line[512];
  snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", tid);
  FILE* f = fopen(path, "r");
  if (!f) return '?';
  size_t n = fread(line, 1, sizeof(line) - 1, f);
  fclose(f);
  line[n] = '\0';
  const char* close_paren = strrchr(line, ')');
  return close_paren && close_paren[1] == ' ' ? close_paren[2] : '?';
}

// Makes the next close of `fd` send RST instead of FIN (SO_LINGER {1, 0}).
static inline void abort_on_close(int fd) {
  struct linger lg = {1, 0};
  if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0) die("setsockopt SO_LINGER");
}
