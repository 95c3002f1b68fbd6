// Socket calls made inside a signal handler, while the interrupted thread is
// itself inside socket calls (so, under the library, inside a hook).
//   handler_calls handler COUNT  the main thread makes COUNT refused
//                                connects; a 1 ms timer's handler makes one
//                                refused connect each time it runs, until the
//                                main thread is done
//   handler_calls fork COUNT     every 5 ms the handler forks a child that
//                                makes 5 refused connects in the handler
//                                and _exits; the parent reaps it; the main
//                                thread goes on until COUNT children ran
//   handler_calls first 1       the process's first failures: a forked
//                                child's one refused connect, then one
//                                made inside a signal handler (raise)
// Prints how many refused connects each side made ("main N", "handler N",
// "children N", "child-connects N").
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "testutil.h"

static int g_port;
static int g_fork;
static int g_limit;  // children to fork
static volatile sig_atomic_t g_handler_connects;
static volatile sig_atomic_t g_children;
static volatile sig_atomic_t g_bad;

static void on_timer(int sig) {
  (void)sig;
  int saved = errno;
  if (g_fork) {
    if (g_children >= g_limit) return;
    pid_t pid = fork();
    if (pid == 0) {
      int ok = 1;
      for (int i = 0; i < 5; ++i) ok &= connect_is_refused(AF_INET, g_port);
      _exit(ok ? 0 : 3);
    }
    if (pid > 0) {
      int status = 0;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) g_bad = 1;
      ++g_children;
    }
  } else {
    if (connect_is_refused(AF_INET, g_port)) ++g_handler_connects;
    else g_bad = 1;
  }
  errno = saved;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s handler|fork|first COUNT\n", argv[0]);
    return 2;
  }
  g_fork = strcmp(argv[1], "fork") == 0;
  int count = atoi(argv[2]);
  g_limit = count;
  int holder = bound_socket(AF_INET, 0, &g_port);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_timer;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  if (strcmp(argv[1], "first") == 0) {
    // Under the library, each of these is the first use of its record
    // path in its process.
    pid_t pid = fork();
    if (pid == 0) _exit(connect_is_refused(AF_INET, g_port) ? 0 : 3);
    int status = 0;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    int child_ok = pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    raise(SIGALRM);
    close(holder);
    printf("main 0\nhandler %d\nchildren %d\nchild-connects %d\n", (int)g_handler_connects, child_ok, child_ok);
    return g_bad || !child_ok ? 1 : 0;
  }
  long period_us = g_fork ? 5000 : 1000;
  struct itimerval it = {{0, period_us}, {0, period_us}};
  setitimer(ITIMER_REAL, &it, NULL);
  int refused = 0, made = 0;
  while (g_fork ? g_children < count : made < count) {
    refused += connect_is_refused(AF_INET, g_port);
    ++made;
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  close(holder);
  printf("main %d\n", refused);
  printf("handler %d\n", (int)g_handler_connects);
  printf("children %d\n", (int)g_children);
  printf("child-connects %d\n", 5 * (int)g_children);
  return g_bad || refused != made ? 1 : 0;
}
