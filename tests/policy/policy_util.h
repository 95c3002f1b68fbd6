// Helpers shared by the policy test programs: loopback TCP sockets, and one
// printed line per call result ("CALL: RET ERRNAME") that the driver
// (policy_case.py) parses. Every address is 127.0.0.1; every port comes from
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

// `err` is the errno saved right after the call.
static inline void report(const char* call, long ret, int err) {
  printf("%s: %ld %s\n", call, ret, ret < 0 ? errname(err) : "OK");
  fflush(stdout);
}

static inline socklen_t loopback(int port, struct sockaddr_in* in) {
  memset(in, 0, sizeof(*in));
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  in->sin_port = htons((unsigned short)port);
  return sizeof(*in);
}

static inline int port_of(int fd) {
  struct sockaddr_in in;
  socklen_t len = sizeof(in);
  if (getsockname(fd, (struct sockaddr*)&in, &len) != 0) die("getsockname");
  return ntohs(in.sin_port);
}

// A TCP listener on an ephemeral loopback port.
static inline int listener(int backlog, int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  struct sockaddr_in in;
  socklen_t len = loopback(0, &in);
  if (bind(fd, (struct sockaddr*)&in, len) != 0) die("bind");
  if (listen(fd, backlog) != 0) die("listen");
  *port = port_of(fd);
  return fd;
}

static inline int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  struct sockaddr_in in;
  socklen_t len = loopback(port, &in);
  if (connect(fd, (struct sockaddr*)&in, len) != 0) die("connect");
  return fd;
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

// An established loopback TCP connection: *client and *server are its ends.
static inline void tcp_pair(int* client, int* server) {
  int port;
  int lfd = listener(8, &port);
  *client = connect_to(port);
  *server = accept(lfd, NULL, NULL);
  if (*server < 0) die("accept");
  close(lfd);
}
