// Programs that wait for input the way real ones do, for the tests of input
// held back (a delay looks like a slow peer) and of faults due on idle
// connections (after=). Every wait goes through one of
// poll|ppoll|select|pselect|epoll|epollet|blocking (blocking: a blocking
// recv under SO_RCVTIMEO).
//
//   hold_wait client HOST PORT WAY TIMEOUT_MS [REQUEST]
//       connects, sends REQUEST if given, waits up to TIMEOUT_MS for an
//       answer and prints one line: "reply N" (the bytes of the first
//       read), "eof", "timeout", or "error ERRNO"; then "ms=N" on a line
//       of its own (left out of comparisons).
//   hold_wait drain HOST PORT WAY TIMEOUT_MS
//       connects and reads until the end of stream or an error, waiting
//       up to TIMEOUT_MS before each read; prints "got N end=END" (END:
//       EOF, timeout, or an errno name).
//   hold_wait server WAY
//       an event loop: prints "port N", then answers every chunk a client
//       sends with "echo:" and the chunk, at once, reading until EAGAIN;
//       runs until killed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inject_util.h"

static int wait_readable(const char* way, int fd, int timeout_ms) {
  if (strcmp(way, "poll") == 0 || strcmp(way, "ppoll") == 0) {
    struct pollfd p = {fd, POLLIN, 0};
    if (way[0] == 'p' && way[1] == 'p') {
      struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
      return ppoll(&p, 1, &ts, NULL);
    }
    return poll(&p, 1, timeout_ms);
  }
  if (strcmp(way, "select") == 0 || strcmp(way, "pselect") == 0) {
    fd_set r;
    FD_ZERO(&r);
    FD_SET(fd, &r);
    if (way[0] == 'p') {
      struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
      return pselect(fd + 1, &r, NULL, NULL, &ts, NULL);
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    return select(fd + 1, &r, NULL, NULL, &tv);
  }
  if (strncmp(way, "epoll", 5) == 0) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {EPOLLIN | (strcmp(way, "epollet") == 0 ? EPOLLET : 0), {.fd = fd}};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll");
    struct epoll_event out;
    int r = epoll_wait(ep, &out, 1, timeout_ms);
    int err = errno;
    close(ep);
    errno = err;
    return r;
  }
  fprintf(stderr, "unknown way to wait '%s'\n", way);
  exit(2);
}

static int client(const char* host, int port, const char* way, int timeout_ms, const char* request) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, host, &sin.sin_addr);
  if (fd < 0 || connect(fd, (struct sockaddr*)&sin, sizeof(sin)) != 0) die("connect");
  if (request && send(fd, request, strlen(request), MSG_NOSIGNAL) < 0) die("send");
  long t0 = now_ms();
  char buf[4096];
  ssize_t n;
  if (strcmp(way, "blocking") == 0) {
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) die("SO_RCVTIMEO");
    n = recv(fd, buf, sizeof(buf), 0);
  } else {
    int r = wait_readable(way, fd, timeout_ms);
    if (r < 0) {
      printf("error %s\nms=%ld\n", errname(errno), now_ms() - t0);
      return 0;
    }
    if (r == 0) {
      printf("timeout\nms=%ld\n", now_ms() - t0);
      return 0;
    }
    n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
  }
  if (n > 0) printf("reply %zd\n", n);
  else if (n == 0) printf("eof\n");
  else if (errno == EAGAIN) printf("timeout\n");
  else printf("error %s\n", errname(errno));
  printf("ms=%ld\n", now_ms() - t0);
  close(fd);
  return 0;
}

static int drain(const char* host, int port, const char* way, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, host, &sin.sin_addr);
  if (fd < 0 || connect(fd, (struct sockaddr*)&sin, sizeof(sin)) != 0) die("connect");
  long got = 0;
  const char* end;
  for (;;) {
    int r = wait_readable(way, fd, timeout_ms);
    if (r <= 0) {
      end = r == 0 ? "timeout" : errname(errno);
      break;
    }
    char buf[1000];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      got += n;
      continue;
    }
    if (n < 0 && errno == EAGAIN) continue;
    end = n == 0 ? "EOF" : errname(errno);
    break;
  }
  printf("got %ld end=%s\n", got, end);
  close(fd);
  return 0;
}

// ---- the event loop -------------------------------------------------------------
#define MAX_FDS 64
static int g_listener;

static void serve_readable(int fd, int* open_fds) {
  char buf[4096 + 5];
  for (;;) {
    ssize_t n = recv(fd, buf + 5, sizeof(buf) - 5, MSG_DONTWAIT);
    if (n > 0) {
      memcpy(buf, "echo:", 5);
      if (send(fd, buf, (size_t)n + 5, MSG_NOSIGNAL) < 0) die("send");
      continue;
    }
    if (n < 0 && errno == EAGAIN) return;
    close(fd);  // end of stream or an error: the client is gone
    open_fds[fd] = 0;
    return;
  }
}

static void accept_all(int* open_fds, int ep, int et) {
  for (;;) {
    int c = accept4(g_listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return;
    if (c >= MAX_FDS) die("too many clients");
    open_fds[c] = 1;
    if (ep >= 0) {
      struct epoll_event ev = {EPOLLIN | (et ? EPOLLET : 0), {.fd = c}};
      if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) != 0) die("epoll_ctl");
    }
  }
}

static _Noreturn void server(const char* way) {
  g_listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  socklen_t len = sizeof(sin);
  if (bind(g_listener, (struct sockaddr*)&sin, sizeof(sin)) != 0 || listen(g_listener, 16) != 0 ||
      getsockname(g_listener, (struct sockaddr*)&sin, &len) != 0)
    die("listen");
  printf("port %d\n", ntohs(sin.sin_port));
  int open_fds[MAX_FDS] = {0};
  int epoll = strncmp(way, "epoll", 5) == 0, et = strcmp(way, "epollet") == 0;
  int ep = -1;
  if (epoll) {
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {EPOLLIN, {.fd = g_listener}};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, g_listener, &ev) != 0) die("epoll");
  }
  for (;;) {
    int ready[MAX_FDS], count = 0;
    if (epoll) {
      struct epoll_event evs[MAX_FDS];
      int n = epoll_wait(ep, evs, MAX_FDS, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) die("epoll_wait");
      for (int i = 0; i < n; ++i) ready[count++] = evs[i].data.fd;
    } else if (strcmp(way, "poll") == 0) {
      struct pollfd p[MAX_FDS];
      int m = 0;
      p[m++] = (struct pollfd){g_listener, POLLIN, 0};
      for (int fd = 0; fd < MAX_FDS; ++fd)
        if (open_fds[fd]) p[m++] = (struct pollfd){fd, POLLIN, 0};
      int n = poll(p, (nfds_t)m, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) die("poll");
      for (int i = 0; i < m; ++i)
        if (p[i].revents) ready[count++] = p[i].fd;
    } else {
      fd_set r;
      FD_ZERO(&r);
      FD_SET(g_listener, &r);
      for (int fd = 0; fd < MAX_FDS; ++fd)
        if (open_fds[fd]) FD_SET(fd, &r);
      int n = select(MAX_FDS, &r, NULL, NULL, NULL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) die("select");
      for (int fd = 0; fd < MAX_FDS; ++fd)
        if (FD_ISSET(fd, &r)) ready[count++] = fd;
    }
    for (int i = 0; i < count; ++i) {
      int fd = ready[i];
      if (fd == g_listener) accept_all(open_fds, ep, et);
      else if (open_fds[fd]) serve_readable(fd, open_fds);
    }
  }
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 6 && strcmp(argv[1], "client") == 0)
    return client(argv[2], atoi(argv[3]), argv[4], atoi(argv[5]), argc > 6 ? argv[6] : NULL);
  if (argc == 6 && strcmp(argv[1], "drain") == 0) return drain(argv[2], atoi(argv[3]), argv[4], atoi(argv[5]));
  if (argc == 3 && strcmp(argv[1], "server") == 0) server(argv[2]);
  fprintf(stderr, "usage: hold_wait client HOST PORT WAY TIMEOUT_MS [REQUEST] | hold_wait drain HOST PORT WAY "
                  "TIMEOUT_MS | hold_wait server WAY\n");
  return 2;
}
