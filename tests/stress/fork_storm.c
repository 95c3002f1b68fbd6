// A fork and exec storm under the library: while a logger thread makes
// refused connects without pause (one record each), the main thread forks
// CHILDREN children without waiting in between. Child i, by i % 4:
//   1  forks a grandchild; both make N refused connects
//   2  makes N refused connects, then execs itself ("exec N") for N more
//   0, 3  makes N refused connects
// A 1 kHz SIGALRM without SA_RESTART runs in the parent throughout.
// Prints "parent PID", "logger refused COUNT", one "child PID KIND" line per
// child (KIND plain|forker|exec), "grandchild PID" per grandchild, and
// "children failed N" (children whose connects did not all fail with
// ECONNREFUSED, or that did not exit 0). Every line is one write(2).
// Usage: fork_storm CHILDREN N      (internal: fork_storm exec N PORT)
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "testutil.h"

static int g_port;
static atomic_int g_stop;

static void say(const char* fmt, ...) {
  char line[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (write(STDOUT_FILENO, line, (size_t)n) != n) _exit(4);
}

// One refused connect; returns whether it failed with ECONNREFUSED.
static int refused(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  struct sockaddr_storage ss;
  socklen_t len = loopback(AF_INET, g_port, &ss);
  int ok = connect(fd, (struct sockaddr*)&ss, len) < 0 && errno == ECONNREFUSED;
  close(fd);
  return ok;
}

static int refused_n(int n) {
  int all = 1;
  for (int i = 0; i < n; ++i) all &= refused();
  return all;
}

static void* logger(void* arg) {
  (void)arg;
  long count = 0;
  while (!atomic_load(&g_stop)) count += refused();
  say("logger refused %ld\n", count);
  return NULL;
}

static void on_alarm(int sig) { (void)sig; }

static int wait_child(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return 0;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void child(int i, int n, const char* self) {
  char nbuf[16], pbuf[16];
  switch (i % 4) {
    case 1: {
      pid_t g = fork();
      if (g == 0) _exit(refused_n(n) ? 0 : 1);
      if (g < 0) _exit(1);
      say("grandchild %d\n", (int)g);
      int mine = refused_n(n);
      _exit(mine && wait_child(g) ? 0 : 1);
    }
    case 2:
      if (!refused_n(n)) _exit(1);
      snprintf(nbuf, sizeof(nbuf), "%d", n);
      snprintf(pbuf, sizeof(pbuf), "%d", g_port);
      execl(self, self, "exec", nbuf, pbuf, (char*)NULL);
      _exit(1);
    default:
      exit(refused_n(n) ? 0 : 1);
  }
}

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "exec") == 0) {
    g_port = atoi(argv[3]);
    return refused_n(atoi(argv[2])) ? 0 : 1;
  }
  if (argc != 3 || atoi(argv[1]) < 1 || atoi(argv[2]) < 1) {
    fprintf(stderr, "usage: %s CHILDREN(>0) N(>0)\n", argv[0]);
    return 2;
  }
  int children = atoi(argv[1]), n = atoi(argv[2]);
  int holder = bound_socket(AF_INET, 0, &g_port);
  say("parent %d\n", (int)getpid());

  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGALRM, &sa, NULL) != 0) die("sigaction");
  struct itimerval it = {{0, 1000}, {0, 1000}};
  if (setitimer(ITIMER_REAL, &it, NULL) != 0) die("setitimer");

  pthread_t t;
  if (pthread_create(&t, NULL, logger, NULL) != 0) die("pthread_create");
  pid_t* pids = calloc((size_t)children, sizeof(pid_t));
  for (int i = 0; i < children; ++i) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) child(i, n, "/proc/self/exe");
    pids[i] = pid;
    say("child %d %s\n", (int)pid, i % 4 == 1 ? "forker" : i % 4 == 2 ? "exec" : "plain");
  }
  int failed = 0;
  for (int i = 0; i < children; ++i) failed += !wait_child(pids[i]);
  atomic_store(&g_stop, 1);
  pthread_join(t, NULL);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  say("children failed %d\n", failed);
  close(holder);
  free(pids);
  return 0;
}
