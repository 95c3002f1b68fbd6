// A daemon that closes every fd while another thread is logging. A logger
// thread makes refused connects without pause (one record each) on two fds
// of its own, kept at 900 and 901. The main thread closes everything else
// (MODE loop: close(fd) for 0..899 and 902..1023; close_range: the same as
// two close_range calls), opens a socketpair (fds 0 and 1), dup2()s one end
// over stderr (fd 2) as a daemon redirects its output, opens a pipe and a
// file, then ROUNDS times finds the fd that refers to the log (its
// /proc/self/fd link, saved at start from LOG's path or from fd 2) and
// dup2()s its own socket onto that number. The library must move its log
// away each time, and no record may reach the program's socketpair, pipe or
// file.
// Writes to RESULT: "log fd found N" (rounds in which the log still had an
// fd), "dup2 ok N", "own fds quiet" or what arrived, "logger refused N",
// "main refused 1".
// Usage: close_storm loop|close_range ROUNDS RESULT LOG   (LOG: path or "stderr")
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "testutil.h"

enum { LOGGER_HOLDER = 900, LOGGER_SOCKET = 901, FD_TOP = 1024 };

static atomic_int g_stop;
static int g_port;

static int refused_on(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = loopback(AF_INET, g_port, &ss);
  return connect(fd, (struct sockaddr*)&ss, len) < 0 && errno == ECONNREFUSED;
}

// A TCP socket whose connect was refused is closed again and may connect
// anew: the logger reuses one socket, so that its fd never moves.
static void* logger(void* arg) {
  long* count = arg;
  while (!atomic_load(&g_stop)) *count += refused_on(LOGGER_SOCKET);
  return NULL;
}

static void link_of(int fd, char* out, size_t cap) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, out, cap - 1);
  out[n < 0 ? 0 : n] = '\0';
}

// The fd other than `skip` whose link is `target`, or -1.
static int find_linked(const char* target, int skip) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  int found = -1;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd == dirfd(d) || fd == skip) continue;
    char link[PATH_MAX];
    link_of(fd, link, sizeof(link));
    if (strcmp(link, target) == 0) found = fd;
  }
  closedir(d);
  return found;
}

static void close_all_but_logger(int use_range) {
  if (use_range) {
    if (close_range(0, LOGGER_HOLDER - 1, 0) != 0 || close_range(LOGGER_SOCKET + 1, ~0U, 0) != 0) _exit(5);
    return;
  }
  for (int fd = 0; fd < FD_TOP; ++fd)
    if (fd != LOGGER_HOLDER && fd != LOGGER_SOCKET) close(fd);
}

int main(int argc, char** argv) {
  if (argc != 5 || (strcmp(argv[1], "loop") && strcmp(argv[1], "close_range")) || atoi(argv[2]) < 1) {
    fprintf(stderr, "usage: %s loop|close_range ROUNDS(>0) RESULT LOG\n", argv[0]);
    return 2;
  }
  int rounds = atoi(argv[2]);
  const char* result = argv[3];
  char target[PATH_MAX] = "";
  if (strcmp(argv[4], "stderr") == 0) link_of(STDERR_FILENO, target, sizeof(target));
  else if (!realpath(argv[4], target)) snprintf(target, sizeof(target), "%s", argv[4]);

  int holder = bound_socket(AF_INET, 0, &g_port);
  if (dup2(holder, LOGGER_HOLDER) != LOGGER_HOLDER) die("dup2 holder");
  close(holder);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0 || dup2(s, LOGGER_SOCKET) != LOGGER_SOCKET) die("logger socket");
  close(s);
  long logger_count = 0;
  pthread_t t;
  if (pthread_create(&t, NULL, logger, &logger_count) != 0) die("pthread_create");

  close_all_but_logger(strcmp(argv[1], "close_range") == 0);
  int sp[2], pp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0 || dup2(sp[0], STDERR_FILENO) != STDERR_FILENO) _exit(6);
  if (pipe2(pp, O_NONBLOCK) != 0) _exit(6);
  int out = open(result, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (out < 0) _exit(6);

  int found = 0, dup_ok = 0;
  for (int i = 0; i < rounds; ++i) {
    int log_fd = find_linked(target, -1);
    if (log_fd < 0) continue;
    ++found;
    dup_ok += dup2(sp[0], log_fd) == log_fd;
    if (log_fd > STDERR_FILENO) close(log_fd);  // the program's copy; the library must have kept its own
  }
  atomic_store(&g_stop, 1);
  pthread_join(t, NULL);
  int main_refused = refused_on(LOGGER_SOCKET);

  char buf[4096];
  ssize_t from_socket = recv(sp[1], buf, sizeof(buf), MSG_DONTWAIT);
  ssize_t from_pipe = read(pp[0], buf, sizeof(buf));
  struct stat st;
  fstat(out, &st);
  dprintf(out, "log fd found %d\ndup2 ok %d\n", found, dup_ok);
  if (from_socket < 0 && from_pipe < 0 && st.st_size == 0) dprintf(out, "own fds quiet\n");
  else
    dprintf(out, "own fds got: socket %zd bytes, pipe %zd bytes, file %lld bytes; socket: %.*s\n", from_socket,
            from_pipe, (long long)st.st_size, from_socket > 0 ? (int)from_socket : 0, buf);
  dprintf(out, "logger refused %ld\nmain refused %d\n", logger_count, main_refused);
  return 0;
}
