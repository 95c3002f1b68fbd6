// A client that meets a stalled connection the ways real programs do, for
// the tests of `stall` (tools/INJECT.md). Connects to HOST:PORT, then:
//
//   stall_io fill HOST PORT WAY
//       non-blocking writes of 1000 bytes until EAGAIN: "sent N"; then
//       waits up to 500 ms for room through WAY (poll, select, epoll):
//       "room" or "no room"; then a blocking write under SO_SNDTIMEO
//       300 ms: "blocking send EAGAIN" (or its outcome).
//   stall_io signal HOST PORT plain|restart
//       a blocking recv without a timeout, SIGALRM after 300 ms (handler
//       without or with SA_RESTART). plain: prints the recv's outcome
//       ("recv EINTR"). restart: the handler, run a second time 300 ms
//       later, prints "recv restarted, handler ran 2 times" and exits 0 (a
//       recv that returned in between prints its outcome instead).
//   stall_io wake HOST PORT cancel|shutrd|shutwr
//       a thread blocks in recv (cancel, shutrd) or in sends of 64 KiB
//       until one blocks (shutwr); 300 ms later the main thread cancels it
//       ("recv cancelled"), or shuts the socket down for reading or
//       writing: the thread prints how its call ended ("recv 0",
//       "send EPIPE"). Gives up after 5 s ("still blocked", exit 3).
#include <pthread.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "inject_util.h"

static int dial(const char* host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, host, &sin.sin_addr);
  if (fd < 0 || connect(fd, (struct sockaddr*)&sin, sizeof(sin)) != 0) die("connect");
  return fd;
}

// 1: writable within timeout_ms, 0: not.
static int wait_writable(const char* way, int fd, int timeout_ms) {
  if (strcmp(way, "poll") == 0) {
    struct pollfd p = {fd, POLLOUT, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r < 0) die("poll");
    return r > 0 && (p.revents & POLLOUT);
  }
  if (strcmp(way, "select") == 0) {
    fd_set w;
    FD_ZERO(&w);
    FD_SET(fd, &w);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    int r = select(fd + 1, NULL, &w, NULL, &tv);
    if (r < 0) die("select");
    return r > 0 && FD_ISSET(fd, &w);
  }
  if (strcmp(way, "epoll") == 0) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {EPOLLOUT, {.fd = fd}};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll");
    struct epoll_event out;
    int r = epoll_wait(ep, &out, 1, timeout_ms);
    if (r < 0) die("epoll_wait");
    close(ep);
    return r > 0 && (out.events & EPOLLOUT);
  }
  fprintf(stderr, "unknown way to wait '%s'\n", way);
  exit(2);
}

static int fill(const char* host, int port, const char* way) {
  int fd = dial(host, port);
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) die("O_NONBLOCK");
  unsigned char buf[1000];
  long sent = 0;
  for (;;) {
    pattern_fill(buf, sizeof(buf), (uint64_t)sent);
    ssize_t n = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
    if (n > 0) {
      sent += n;
      continue;
    }
    if (n < 0 && errno == EAGAIN) break;
    printf("send %s after %ld\n", n == 0 ? "0" : errname(errno), sent);
    return 0;
  }
  printf("sent %ld\n", sent);
  printf("%s\n", wait_writable(way, fd, 500) ? "room" : "no room");
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) die("blocking");
  struct timeval tv = {0, 300000};
  if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) die("SO_SNDTIMEO");
  ssize_t n = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
  if (n < 0) printf("blocking send %s\n", errname(errno));
  else printf("blocking send %zd\n", n);
  close(fd);
  return 0;
}

static volatile sig_atomic_t g_runs = 0;

static void on_alarm(int sig) {
  (void)sig;
  if (++g_runs < 2) return;
  static const char msg[] = "recv restarted, handler ran 2 times\n";
  if (write(1, msg, sizeof(msg) - 1) < 0) _exit(1);
  _exit(0);
}

static int signal_case(const char* host, int port, const char* how) {
  int fd = dial(host, port);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_alarm;
  sa.sa_flags = strcmp(how, "restart") == 0 ? SA_RESTART : 0;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGALRM, &sa, NULL) != 0) die("sigaction");
  struct itimerval it = {{0, 300000}, {0, 300000}};
  if (setitimer(ITIMER_REAL, &it, NULL) != 0) die("setitimer");
  char buf[100];
  ssize_t n = recv(fd, buf, sizeof(buf), 0);
  if (n < 0) printf("recv %s\n", errname(errno));
  else printf("recv %zd\n", n);
  fflush(stdout);
  _exit(0);
}

static int g_fd;
static int g_sending;

static void* blocked_call(void* arg) {
  (void)arg;
  if (g_sending) {
    static char big[65536];
    for (;;) {
      ssize_t n = send(g_fd, big, sizeof(big), MSG_NOSIGNAL);
      if (n < 0) {
        printf("send %s\n", errname(errno));
        break;
      }
    }
  } else {
    char buf[100];
    ssize_t n = recv(g_fd, buf, sizeof(buf), 0);
    if (n < 0) printf("recv %s\n", errname(errno));
    else printf("recv %zd\n", n);
  }
  fflush(stdout);
  return NULL;
}

static void* still_blocked(void* arg) {
  (void)arg;
  sleep(5);
  printf("still blocked\n");
  fflush(stdout);
  _exit(3);
}

static int wake_case(const char* host, int port, const char* how) {
  g_fd = dial(host, port);
  g_sending = strcmp(how, "shutwr") == 0;
  pthread_t t, watchdog;
  if (pthread_create(&watchdog, NULL, still_blocked, NULL) != 0) die("pthread_create");
  if (pthread_create(&t, NULL, blocked_call, NULL) != 0) die("pthread_create");
  usleep(300000);
  if (strcmp(how, "cancel") == 0) {
    if (pthread_cancel(t) != 0) die("pthread_cancel");
    void* res;
    pthread_join(t, &res);
    printf("%s\n", res == PTHREAD_CANCELED ? "recv cancelled" : "recv not cancelled");
  } else {
    if (shutdown(g_fd, g_sending ? SHUT_WR : SHUT_RD) != 0) die("shutdown");
    pthread_join(t, NULL);
  }
  fflush(stdout);
  _exit(0);
}

int main(int argc, char** argv) {
  if (argc == 5 && strcmp(argv[1], "fill") == 0) return fill(argv[2], atoi(argv[3]), argv[4]);
  if (argc == 5 && strcmp(argv[1], "signal") == 0) return signal_case(argv[2], atoi(argv[3]), argv[4]);
  if (argc == 5 && strcmp(argv[1], "wake") == 0) return wake_case(argv[2], atoi(argv[3]), argv[4]);
  fprintf(stderr,
          "usage: stall_io fill HOST PORT poll|select|epoll | signal HOST PORT plain|restart | "
          "wake HOST PORT cancel|shutrd|shutwr\n");
  return 2;
}
