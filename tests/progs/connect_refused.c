// Connects COUNT times to a loopback port that nobody listens on and prints
// what the program itself sees. MODE says how the refusal reaches it:
//   blocking       connect returns -1 ECONNREFUSED
//   poll, epoll    non-blocking connect, then POLLOUT/EPOLLOUT and
//                  getsockopt(SO_ERROR), as event loops (curl) do
//   pollerr-close  non-blocking connect, POLLERR, then close without ever
//                  reading SO_ERROR
// Usage: connect_refused MODE 4|6 COUNT
#include <poll.h>
#include <sys/epoll.h>

#include "testutil.h"

static void wait_poll(int fd) {
  struct pollfd p = {fd, POLLOUT, 0};
  int n = poll(&p, 1, 10000);
  if (n != 1) die("poll");
  printf("revents:%s%s\n", (p.revents & POLLOUT) ? " POLLOUT" : "", (p.revents & POLLERR) ? " POLLERR" : "");
}

static void wait_epoll(int fd) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
  struct epoll_event out;
  if (epoll_wait(ep, &out, 1, 10000) != 1) die("epoll_wait");
  printf("events:%s%s\n", (out.events & EPOLLOUT) ? " EPOLLOUT" : "", (out.events & EPOLLERR) ? " EPOLLERR" : "");
  close(ep);
}

static void print_so_error(int fd) {
  int err = -1;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) die("getsockopt");
  printf("so_error: %s\n", errname(err));
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s blocking|poll|epoll|pollerr-close 4|6 COUNT\n", argv[0]);
    return 2;
  }
  const char* mode = argv[1];
  int family = parse_family(argv[2]);
  int count = atoi(argv[3]);
  int port;
  int holder = bound_socket(family, 0, &port);
  printf("port: %d\n", port);
  int blocking = strcmp(mode, "blocking") == 0;
  for (int i = 0; i < count; ++i) {
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
    if (fd < 0) die("socket");
    struct sockaddr_storage ss;
    socklen_t len = loopback(family, port, &ss);
    int r = connect(fd, (struct sockaddr*)&ss, len);
    int err = errno;
    REPORT("connect", r);
    if (!blocking && r < 0 && err == EINPROGRESS) {
      if (strcmp(mode, "epoll") == 0) wait_epoll(fd);
      else wait_poll(fd);
      if (strcmp(mode, "pollerr-close") != 0) print_so_error(fd);
    }
    close(fd);
  }
  close(holder);
  return 0;
}
