// Helpers shared by the integration test programs: loopback addresses,
// ports nobody listens on, connected TCP pairs, and one printed line per
// call result ("what: RET ERRNAME") that the driver compares and parses.
// Every address is loopback (127.0.0.1 or ::1); every port comes from
// binding port 0.
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
#include <unistd.h>

static inline void die(const char* what) {
  fprintf(stderr, "%s: %s\n", what, strerror(errno));
  exit(2);
}

static inline const char* errname(int err) {
  const char* n = err ? strerrorname_np(err) : "OK";
  return n ? n : "UNKNOWN";
}

// Prints one call result as "WHAT: RET ERRNAME"; the ports and addresses
// are left out so that two runs can be compared line by line. A macro, so
// that errno is read after the call (argument order is unspecified in C).
#define REPORT(what, expr)                                             \
  do {                                                                 \
    long ret_ = (long)(expr);                                          \
    int err_ = errno;                                                  \
    printf("%s: %ld %s\n", what, ret_, ret_ < 0 ? errname(err_) : "OK"); \
    fflush(stdout);                                                    \
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

static inline int connect_to(int family, int port) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  struct sockaddr_storage ss;
  socklen_t len = loopback(family, port, &ss);
  if (connect(fd, (struct sockaddr*)&ss, len) != 0) die("connect");
  return fd;
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

// Makes the next close of `fd` send RST instead of FIN (SO_LINGER {1, 0}).
static inline void abort_on_close(int fd) {
  struct linger lg = {1, 0};
  if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0) die("setsockopt SO_LINGER");
}
