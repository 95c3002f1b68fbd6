// What the library's records meet on their way to the log: a program that
// daemonizes, that serves a TCP client through its stdio, that closes and
// reopens its stderr, whose stderr reader stops reading or is gone while
// SIGPIPE comes from elsewhere, and that runs at a small fd limit. Each mode
// prints what the program itself saw, so that the driver compares the run
// with and without the library.
//   daemon PIDFILE      refused connect, fork: the child starts a session,
//                       dup2()s /dev/null over 0, 1 and 2, writes its pid
//                       to PIDFILE and sleeps 30 s; the parent prints
//                       "parent done" and exits
//   inetd               stdout line, refused connect, stdout line (its
//                       stdio is a TCP client's socket)
//   reopen FILE1 FILE2 [close_range]
//                       close(2) (or close_range(2, 2)), refused connect;
//                       FILE1 opened (takes fd 2), a line into it, refused
//                       connect; FILE2 dup2()ed onto fd 2, a line into it,
//                       refused connect
//   connects N          N refused connects, "done N"; waits for a line on
//                       stdin, one more refused connect, "end"
//   sigpipe N handler|blocked
//                       a child sends SIGPIPE N times (one at a time, each
//                       once the last was taken) while the program makes
//                       refused connects; it takes them in a handler, or
//                       keeps SIGPIPE blocked and takes them with
//                       sigwaitinfo when sigpending shows one; prints how
//                       many it took and whether one is left pending
//   fds                 prints the numbers its open/socket/pipe calls get
//                       (refused connects between them)
//   logfd LOG           finds an fd whose /proc/self/fd link is LOG's path
//                       and prints what close-like probes of it return
//                       (fcntl F_GETFD, F_DUPFD, dup, dup2 from it)
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "testutil.h"

static int g_port;

static void refused(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  if (connect_loopback(fd, AF_INET, g_port) == 0 || errno != ECONNREFUSED) die("refused connect");
  close(fd);
}

static void put(int fd, const char* text) {
  if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) die("write");
}

static int daemon_mode(const char* pidfile) {
  refused();
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null < 0) _exit(3);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    if (null > 2) close(null);
    refused();
    char text[32];
    snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    int f = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f < 0) _exit(3);
    put(f, text);
    close(f);
    sleep(30);
    _exit(0);
  }
  printf("parent done\n");
  return 0;
}

static int reopen_mode(const char* file1, const char* file2, int by_range) {
  if (by_range) close_range(2, 2, 0);
  else close(2);
  refused();
  int f1 = open(file1, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  printf("FILE1 fd: %d\n", f1);
  put(f1, "own line 1\n");
  refused();
  int f2 = open(file2, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f2 < 0 || dup2(f2, 2) != 2) die("dup2");
  close(f2);
  put(2, "own line 2\n");
  refused();
  put(2, "own line 3\n");
  return 0;
}

static int connects_mode(int n) {
  for (int i = 0; i < n; ++i) refused();
  printf("done %d\n", n);
  fflush(stdout);
  char line[64];
  if (!fgets(line, sizeof(line), stdin)) die("stdin");
  refused();
  printf("end\n");
  return 0;
}

struct shared {
  atomic_int taken;
  atomic_int sent_all;
};
static struct shared* g_shared;

static void on_sigpipe(int sig) {
  (void)sig;
  atomic_fetch_add(&g_shared->taken, 1);
}

static int sigpipe_mode(int n, int blocked) {
  g_shared = mmap(NULL, sizeof(*g_shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (g_shared == MAP_FAILED) die("mmap");
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  if (blocked) {
    sigprocmask(SIG_BLOCK, &pipe_set, NULL);
  } else {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigpipe;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGPIPE, &sa, NULL);
  }
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    for (int i = 0; i < n; ++i) {
      kill(parent, SIGPIPE);
      // The next one once this one was taken: a standard signal sent while
      // one is pending would merge with it.
      for (int waited = 0; atomic_load(&g_shared->taken) < i + 1; ++waited) {
        if (waited > 50000) _exit(1);  // 5 s
        struct timespec t = {0, 100000};
        nanosleep(&t, NULL);
      }
    }
    atomic_store(&g_shared->sent_all, 1);
    _exit(0);
  }
  long connects = 0;
  while (!atomic_load(&g_shared->sent_all)) {
    refused();
    ++connects;
    if (blocked) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE)) {
        siginfo_t info;
        if (sigwaitinfo(&pipe_set, &info) == SIGPIPE) atomic_fetch_add(&g_shared->taken, 1);
      }
    }
    if (waitpid(child, NULL, WNOHANG) == child && !atomic_load(&g_shared->sent_all)) {
      printf("sender gave up after %d signals\n", atomic_load(&g_shared->taken));
      return 1;
    }
  }
  for (int i = 0; i < 20; ++i) refused();  // records after the last signal, too
  waitpid(child, NULL, 0);
  sigset_t pending;
  sigpending(&pending);
  printf("SIGPIPE taken %d times of %d sent\n", atomic_load(&g_shared->taken), n);
  printf("SIGPIPE pending at the end: %s\n", sigismember(&pending, SIGPIPE) ? "yes" : "no");
  fprintf(stderr, "connects: %ld\n", connects);
  return 0;
}

static int fds_mode(void) {
  int got[6];
  got[0] = open("/dev/null", O_RDONLY);
  refused();
  got[1] = socket(AF_INET, SOCK_STREAM, 0);
  refused();
  if (pipe(got + 2) != 0) die("pipe");
  got[4] = open("/dev/null", O_RDONLY);
  got[5] = dup(got[4]);
  refused();
  printf("fds:");
  for (int i = 0; i < 6; ++i) printf(" %d", got[i]);
  printf("\n");
  return 0;
}

static int logfd_mode(const char* log) {
  refused();
  char target[PATH_MAX];
  if (!realpath(log, target)) {
    printf("log fd: none\n");
    return 0;
  }
  DIR* d = opendir("/proc/self/fd");
  if (!d) die("opendir");
  int found = -1;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    char path[300], link[PATH_MAX];
    snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    if (n < 0 || e->d_name[0] == '.') continue;
    link[n] = '\0';
    if (strcmp(link, target) == 0) found = atoi(e->d_name);
  }
  closedir(d);
  if (found < 0) {
    printf("log fd: none\n");
    return 0;
  }
  printf("log fd: found\n");
  REPORT("fcntl F_GETFD", fcntl(found, F_GETFD));
  REPORT("fcntl F_DUPFD", fcntl(found, F_DUPFD, 0));
  REPORT("dup", dup(found));
  REPORT("dup2 to 100", dup2(found, 100));
  REPORT("close", close(found));
  refused();
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s daemon|inetd|reopen|connects|sigpipe|fds ARGS\n", argv[0]);
    return 2;
  }
  // Connects to this port are refused: it is bound, and nobody listens.
  bound_socket(AF_INET, 0, &g_port);
  const char* mode = argv[1];
  if (strcmp(mode, "daemon") == 0 && argc == 3) return daemon_mode(argv[2]);
  if (strcmp(mode, "inetd") == 0 && argc == 2) {
    put(1, "hello\n");
    refused();
    put(1, "bye\n");
    return 0;
  }
  if (strcmp(mode, "reopen") == 0 && (argc == 4 || (argc == 5 && strcmp(argv[4], "close_range") == 0)))
    return reopen_mode(argv[2], argv[3], argc == 5);
  if (strcmp(mode, "connects") == 0 && argc == 3) return connects_mode(atoi(argv[2]));
  if (strcmp(mode, "sigpipe") == 0 && argc == 4) return sigpipe_mode(atoi(argv[2]), strcmp(argv[3], "blocked") == 0);
  if (strcmp(mode, "fds") == 0 && argc == 2) return fds_mode();
  if (strcmp(mode, "logfd") == 0 && argc == 3) return logfd_mode(argv[2]);
  fprintf(stderr, "%s: unknown mode or arguments\n", argv[0]);
  return 2;
}
