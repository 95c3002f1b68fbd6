// A connect the way curl and event loops make it: a socket made
// non-blocking with fcntl, connect (EINPROGRESS), a wait for writability
// with poll or epoll, then getsockopt(SO_ERROR) to learn the outcome; then
// one send, which shows the state the connect left behind.
//
//   nb_connect MODE HOST PORT WAIT_MS
// MODE: blocking | poll | epoll (data.fd) | epoll-ptr (data.ptr, as libuv
// and curl's multi interface use it). One line per call, "CALL key=value",
// with the time it took in ms.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inject_util.h"

static void print_events(const char* call, int ret, unsigned ev, long ms) {
  printf("%s ret=%d events=", call, ret);
  const char* sep = "";
  if (ev & POLLIN) printf("%sIN", sep), sep = "|";
  if (ev & POLLOUT) printf("%sOUT", sep), sep = "|";
  if (ev & POLLERR) printf("%sERR", sep), sep = "|";
  if (ev & POLLHUP) printf("%sHUP", sep), sep = "|";
  if (!*sep) printf("none");
  printf(" ms=%ld\n", ms);
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: nb_connect blocking|poll|epoll|epoll-ptr HOST PORT WAIT_MS\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char* mode = argv[1];
  int wait_ms = atoi(argv[4]);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  socklen_t len;
  int family;
  if (strchr(argv[2], ':')) {
    struct sockaddr_in6* in6 = (struct sockaddr_in6*)&ss;
    family = in6->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, argv[2], &in6->sin6_addr) != 1) die("inet_pton");
    in6->sin6_port = htons((uint16_t)atoi(argv[3]));
    len = sizeof(*in6);
  } else {
    struct sockaddr_in* in = (struct sockaddr_in*)&ss;
    family = in->sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[2], &in->sin_addr) != 1) die("inet_pton");
    in->sin_port = htons((uint16_t)atoi(argv[3]));
    len = sizeof(*in);
  }
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  if (strcmp(mode, "blocking") != 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) die("fcntl");

  long t0 = now_ms();
  int r = connect(fd, (struct sockaddr*)&ss, len);
  int err = errno;
  printf("connect ret=%d err=%s ms=%ld\n", r, r < 0 ? errname(err) : "OK", now_ms() - t0);

  if (r < 0 && err == EINPROGRESS) {
    t0 = now_ms();
    if (strcmp(mode, "poll") == 0) {
      struct pollfd p = {fd, POLLOUT, 0};
      int n = poll(&p, 1, wait_ms);
      print_events("poll", n, (unsigned)p.revents, now_ms() - t0);
    } else {
      int ep = epoll_create1(EPOLL_CLOEXEC);
      if (ep < 0) die("epoll_create1");
      static int marker;
      struct epoll_event ev;
      memset(&ev, 0, sizeof(ev));
      ev.events = EPOLLOUT;
      if (strcmp(mode, "epoll-ptr") == 0) ev.data.ptr = &marker;
      else ev.data.fd = fd;
      if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
      struct epoll_event out;
      memset(&out, 0, sizeof(out));
      int n = epoll_wait(ep, &out, 1, wait_ms);
      unsigned e = n > 0 ? out.events : 0;
      unsigned pe = (e & EPOLLIN ? POLLIN : 0) | (e & EPOLLOUT ? POLLOUT : 0) | (e & EPOLLERR ? POLLERR : 0) |
                    (e & EPOLLHUP ? POLLHUP : 0);
      print_events("epoll_wait", n, pe, now_ms() - t0);
      close(ep);
    }
    // Read twice: the kernel clears the pending error when it is read.
    for (int i = 1; i <= 2; ++i) {
      int so_error = -1;
      socklen_t sl = sizeof(so_error);
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &sl) != 0) die("getsockopt");
      printf("so_error%d err=%s\n", i, errname(so_error));
    }
  }
  char byte = 'x';
  ssize_t s = send(fd, &byte, 1, MSG_NOSIGNAL);
  printf("send ret=%zd err=%s\n", s, s < 0 ? errname(errno) : "OK");
  close(fd);
  return 0;
}
