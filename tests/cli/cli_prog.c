/* A test program for the `sockdiag` command's integration tests: each mode
 * does one small thing on loopback and prints what happened on stdout. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char* what) {
  fprintf(stderr, "cli_prog: %s: %s\n", what, strerror(errno));
  return 99;
}

/* A TCP socket bound to ip:0, listening if `backlog` > 0; its address in *a. */
static int bound(const char* ip, int backlog, struct sockaddr_in* a) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  inet_pton(AF_INET, ip, &a->sin_addr);
  socklen_t len = sizeof *a;
  if (fd < 0 || bind(fd, (struct sockaddr*)a, sizeof *a) != 0 || (backlog > 0 && listen(fd, backlog) != 0) ||
      getsockname(fd, (struct sockaddr*)a, &len) != 0)
    return -1;
  return fd;
}

/* Connects to a socket bound on `ip` (listening or not): prints
 * "connected" or "failed: ENAME". */
static int connect_mode(const char* ip, int listening) {
  struct sockaddr_in a;
  int server = bound(ip, listening ? 1 : 0, &a);
  if (server < 0) return fail("bind");
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, (struct sockaddr*)&a, sizeof a) == 0) {
    printf("connected\n");
    return 0;
  }
  printf("failed: %s\n", strerrorname_np(errno));
  return 1;
}

/* The peer closes; the second write meets its RST: EPIPE (or SIGPIPE). */
static int epipe_mode(void) {
  struct sockaddr_in a;
  int listener = bound("127.0.0.1", 1, &a);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0 || connect(fd, (struct sockaddr*)&a, sizeof a) != 0) return fail("connect");
  close(accept(listener, NULL, NULL));
  struct pollfd p = {fd, POLLIN, 0};
  poll(&p, 1, 2000);
  ssize_t n = send(fd, "x", 1, 0);
  p.events = POLLERR;
  poll(&p, 1, 2000);
  if (n >= 0) n = send(fd, "x", 1, 0);
  printf("%s\n", n < 0 ? strerrorname_np(errno) : "sent");
  return 0;
}

/* `n` connections to a listener on `ip`: one character each, c (connected)
 * or f (failed), for comparing runs under probabilistic injection rules. */
static int connect_many_mode(const char* ip, int n) {
  struct sockaddr_in a;
  int server = bound(ip, n, &a);
  if (server < 0) return fail("bind");
  for (int i = 0; i < n; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok = connect(fd, (struct sockaddr*)&a, sizeof a) == 0;
    putchar(ok ? 'c' : 'f');
    close(fd);
    if (ok) close(accept(server, NULL, NULL));
  }
  putchar('\n');
  return 0;
}

/* A blocking recv interrupted by a 200 Hz timer without SA_RESTART. The
 * data is sent by the signal handler itself at the third signal, so that the
 * outcome does not depend on timing: "EINTR" at the first interruption
 * unless EINTR is retried, then "data after 3 signals". */
static int g_peer = -1;
static volatile sig_atomic_t g_signals = 0;
static void on_alarm(int sig) {
  (void)sig;
  if (++g_signals != 3) return;
  /* The timer stops here, not after recv returns: a thread scheduled late
   * would otherwise count a fourth signal. */
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  send(g_peer, "x", 1, MSG_DONTWAIT);
}
static int eintr_recv_mode(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return fail("socketpair");
  g_peer = sv[1];
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 5000}, {0, 5000}};
  setitimer(ITIMER_REAL, &it, NULL);
  char c;
  ssize_t n = recv(sv[0], &c, 1, 0);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  if (n < 0)
    printf("%s\n", strerrorname_np(errno));
  else
    printf("data after %d signals\n", (int)g_signals);
  return 0;
}

/* A program that gives up at the first EAGAIN of its non-blocking socket.
 * Its peer (a child) answers after `delay_ms`, or never when it is 0. */
static int eagain_recv_mode(int delay_ms) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) return fail("socketpair");
  pid_t pid = fork();
  if (pid == 0) {
    if (delay_ms > 0) {
      usleep((useconds_t)delay_ms * 1000);
      send(sv[1], "x", 1, 0);
    }
    pause();
    _exit(0);
  }
  char c;
  ssize_t n = recv(sv[0], &c, 1, 0);
  printf("%s\n", n < 0 ? strerrorname_np(errno) : "data");
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return 0;
}

/* One outcome of each category of the summaries, in known numbers:
 * `refused` connects refused (failures), a non-blocking connect (EINPROGRESS)
 * and `eagain` recvs on its idle socket (EAGAIN: expected flow), `sends`
 * sends (for a delay rule: injection notices), one setsockopt (for an error
 * rule: an injected failure), then the peer's close read as EOF (an event).
 * Prints what each call returned. */
static int outcomes_mode(int refused, int eagain, int sends) {
  for (int i = 0; i < refused; ++i) {
    if (connect_mode("127.0.0.1", 0) != 1) return fail("a refused connect");
  }
  struct sockaddr_in a;
  int listener = bound("127.0.0.1", 1, &a);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listener < 0 || fd < 0) return fail("socket");
  int r = connect(fd, (struct sockaddr*)&a, sizeof a);
  printf("connect: %s\n", r == 0 ? "connected" : strerrorname_np(errno));
  struct pollfd p = {fd, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof err;
  if (poll(&p, 1, 5000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
    return fail("the non-blocking connect");
  int peer = accept(listener, NULL, NULL);
  if (peer < 0) return fail("accept");
  char c;
  for (int i = 0; i < eagain; ++i) {
    ssize_t n = recv(fd, &c, 1, 0);
    printf("recv: %s\n", n < 0 ? strerrorname_np(errno) : "data");
  }
  for (int i = 0; i < sends; ++i) {
    ssize_t n = send(fd, "x", 1, 0);
    printf("send: %s\n", n < 0 ? strerrorname_np(errno) : "sent");
  }
  int on = 1;
  r = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  printf("setsockopt: %s\n", r == 0 ? "ok" : strerrorname_np(errno));
  /* The peer reads what was sent before it closes: unread data would make
   * its close a reset, not an end of stream. */
  for (int got = 0; got < sends;) {
    ssize_t n = recv(peer, &c, 1, 0);
    if (n <= 0) return fail("the peer's recv");
    got += (int)n;
  }
  close(peer);
  p.events = POLLIN;
  if (poll(&p, 1, 5000) != 1) return fail("poll for the end of stream");
  ssize_t n = recv(fd, &c, 1, 0);
  printf("recv: %s\n", n == 0 ? "end of stream" : n < 0 ? strerrorname_np(errno) : "data");
  close(fd);
  close(listener);
  return 0;
}

static int maps_mode(const char* name) {
  FILE* f = fopen("/proc/self/maps", "re");
  char line[4096];
  int found = 0;
  while (f && fgets(line, sizeof line, f))
    if (strstr(line, name)) found = 1;
  if (f) fclose(f);
  printf("%s\n", found ? "yes" : "no");
  return 0;
}

/* Runs this program again, in a child, with the arguments after "spawn". */
static int spawn_mode(char** argv) {
  fflush(stdout);
  argv[1] = argv[0];
  pid_t pid = fork();
  if (pid == 0) {
    execv("/proc/self/exe", argv + 1);
    _exit(98);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "refuse")) return connect_mode("127.0.0.1", 0) == 1 ? 0 : 1;
  if (!strcmp(mode, "connect") && argc > 2) return connect_mode(argv[2], 1);
  if (!strcmp(mode, "epipe")) return epipe_mode();
  if (!strcmp(mode, "exit") && argc > 2) return atoi(argv[2]);
  if (!strcmp(mode, "signal") && argc > 2) {
    signal(atoi(argv[2]), SIG_DFL);
    raise(atoi(argv[2]));
    return 97;
  }
  if (!strcmp(mode, "wait-signal")) {
    printf("ready\n");
    sleep(30);
    return 0;
  }
  if (!strcmp(mode, "maps") && argc > 2) return maps_mode(argv[2]);
  if (!strcmp(mode, "env") && argc > 2) {
    const char* v = getenv(argv[2]);
    printf("%s\n", v ? v : "(unset)");
    return 0;
  }
  if (!strcmp(mode, "args")) {
    for (int i = 2; i < argc; ++i) printf("[%s]", argv[i]);
    printf("\n");
    return 0;
  }
  if (!strcmp(mode, "spawn") && argc > 2) return spawn_mode(argv);
  if (!strcmp(mode, "fork") && argc > 2) {
    /* The child runs the mode after "fork" without exec: the library is
     * already in its memory. */
    pid_t pid = fork();
    if (pid == 0) _exit(main(argc - 1, argv + 1));
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  if (!strcmp(mode, "connect-many") && argc > 3) return connect_many_mode(argv[2], atoi(argv[3]));
  if (!strcmp(mode, "eintr-recv")) return eintr_recv_mode();
  if (!strcmp(mode, "eagain-recv") && argc > 2) return eagain_recv_mode(atoi(argv[2]));
  if (!strcmp(mode, "outcomes") && argc > 4) return outcomes_mode(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
  fprintf(stderr,
          "usage: cli_prog refuse | connect IP | connect-many IP N | epipe | eintr-recv | eagain-recv DELAY_MS |"
          " exit N | signal N | wait-signal | maps NAME | env NAME | args ARGS... | spawn MODE ARGS... |"
          " fork MODE ARGS... | outcomes REFUSED EAGAIN SENDS\n");
  return 2;
}
