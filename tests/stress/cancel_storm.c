// Thread cancellation inside blocked calls, over and over, while the
// library is busy: ROUNDS times, a thread blocks in one of recv, accept,
// read, recvmsg, poll, select or epoll_wait (in turn) on a loopback socket
// that never becomes ready, is cancelled (pthread_cancel) once /proc shows
// it sleeping, and is joined. Meanwhile another thread ping-pongs on a
// socketpair without pause, and a 1 kHz SIGALRM with SA_RESTART interrupts
// everything (poll, select and epoll_wait are never restarted: EINTR, and
// the blocked thread calls again).
// Prints "rounds N", "canceled N" (joins that returned PTHREAD_CANCELED),
// "cleanups N" (cleanup handlers that ran), "fds leaked N" and
// "pingpong ok" when every ping-pong message came back intact.
// Usage: cancel_storm ROUNDS
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <dirent.h>

#include "testutil.h"

enum { RECV, ACCEPT, READ, RECVMSG, POLL, SELECT, EPOLL, NKINDS };

struct blocked {
  int kind;
  int fd;  // the socket it waits on
  int epfd;
  atomic_long tid;
};

static atomic_int g_stop;
static atomic_long g_cleanups;
static atomic_int g_pingpong_bad;

static void cleanup(void* arg) {
  (void)arg;
  atomic_fetch_add(&g_cleanups, 1);
}

static void* block(void* arg) {
  struct blocked* b = arg;
  pthread_cleanup_push(cleanup, NULL);
  atomic_store(&b->tid, syscall(SYS_gettid));
  char buf[64];
  struct iovec iov = {buf, sizeof(buf)};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  struct pollfd pfd = {b->fd, POLLIN, 0};
  struct epoll_event ev;
  for (;;) {
    long r;
    fd_set rset;
    switch (b->kind) {
      case RECV: r = recv(b->fd, buf, sizeof(buf), 0); break;
      case ACCEPT: r = accept(b->fd, NULL, NULL); break;
      case READ: r = read(b->fd, buf, sizeof(buf)); break;
      case RECVMSG: r = recvmsg(b->fd, &msg, 0); break;
      case POLL: r = poll(&pfd, 1, -1); break;
      case SELECT:
        FD_ZERO(&rset);
        FD_SET(b->fd, &rset);
        r = select(b->fd + 1, &rset, NULL, NULL, NULL);
        break;
      default: r = epoll_wait(b->epfd, &ev, 1, -1); break;
    }
    if (!(r < 0 && errno == EINTR)) break;
  }
  printf("a blocked call returned (kind %d)\n", b->kind);
  pthread_cleanup_pop(0);
  return NULL;
}

static int open_fds(void) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) die("opendir");
  int n = 0;
  while (readdir(d)) ++n;
  closedir(d);
  return n;
}

static void* pingpong(void* arg) {
  int* sp = arg;
  for (unsigned i = 0; !atomic_load(&g_stop); ++i) {
    unsigned got = ~i;
    ssize_t w, r;
    while ((w = send(sp[0], &i, sizeof(i), 0)) < 0 && errno == EINTR) {}
    while ((r = recv(sp[1], &got, sizeof(got), MSG_WAITALL)) < 0 && errno == EINTR) {}
    if (w != sizeof(i) || r != sizeof(got) || got != i) atomic_store(&g_pingpong_bad, 1);
  }
  close(sp[0]);
  close(sp[1]);
  return NULL;
}

static void on_alarm(int sig) { (void)sig; }

int main(int argc, char** argv) {
  if (argc != 2 || atoi(argv[1]) < 1) {
    fprintf(stderr, "usage: %s ROUNDS(>0)\n", argv[0]);
    return 2;
  }
  int rounds = atoi(argv[1]);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGALRM, &sa, NULL) != 0) die("sigaction");
  struct itimerval it = {{0, 1000}, {0, 1000}};
  if (setitimer(ITIMER_REAL, &it, NULL) != 0) die("setitimer");
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) die("socketpair");
  pthread_t busy;
  if (pthread_create(&busy, NULL, pingpong, sp) != 0) die("pthread_create");

  int fds_before = open_fds();
  long canceled = 0;
  for (int i = 0; i < rounds; ++i) {
    struct blocked b = {.kind = i % NKINDS, .epfd = -1};
    int client = -1, server = -1, port;
    if (b.kind == ACCEPT) {
      b.fd = bound_socket(AF_INET, 1, &port);
    } else {
      tcp_pair(AF_INET, &client, &server);
      b.fd = client;
    }
    if (b.kind == EPOLL) {
      b.epfd = epoll_create1(EPOLL_CLOEXEC);
      struct epoll_event ev = {.events = EPOLLIN, .data.fd = b.fd};
      if (b.epfd < 0 || epoll_ctl(b.epfd, EPOLL_CTL_ADD, b.fd, &ev) != 0) die("epoll");
    }
    pthread_t t;
    if (pthread_create(&t, NULL, block, &b) != 0) die("pthread_create");
    long tid;
    while ((tid = atomic_load(&b.tid)) == 0 || thread_state(tid) != 'S') usleep(200);
    if (pthread_cancel(t) != 0) die("pthread_cancel");
    void* ret = NULL;
    if (pthread_join(t, &ret) != 0) die("pthread_join");
    canceled += ret == PTHREAD_CANCELED;
    close(b.fd);
    if (server >= 0) close(server);
    if (b.epfd >= 0) close(b.epfd);
  }
  int fds_after = open_fds();
  atomic_store(&g_stop, 1);
  pthread_join(busy, NULL);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  printf("rounds %d\ncanceled %ld\ncleanups %ld\nfds leaked %d\n", rounds, canceled, atomic_load(&g_cleanups),
         fds_after - fds_before);
  if (!atomic_load(&g_pingpong_bad)) printf("pingpong ok\n");
  return 0;
}
