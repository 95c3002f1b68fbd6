// A daemon-style program that closes every fd it may have inherited, then
// opens its own files and sockets (they take the lowest numbers, where the
// library's log fd may have been) and makes refused connects. It reports
// into RESULT whether anything it did not write itself arrived in its
// sockets, pipe or files. Then it finds the fd that refers to the log
// (/proc/self/fd, link equal to LOG's) and dup2()s a file of its own onto
// that number, and fails once more.
//   loop         close(fd) for fd 0..1023
//   close_range  close_range(3, ~0U, 0)
// Usage: close_all loop|close_range RESULT LOG   (LOG: a path or "stderr")
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "testutil.h"

static int g_out = -1;

static void refused_connect(void) {
  int port;
  int holder = bound_socket(AF_INET, 0, &port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_storage ss;
  socklen_t len = loopback(AF_INET, port, &ss);
  int r = connect(fd, (struct sockaddr*)&ss, len);
  dprintf(g_out, "connect: %d %s\n", r, r < 0 ? errname(errno) : "OK");
  close(fd);
  close(holder);
}

static void expect_nothing_to_read(const char* what, int fd, int is_socket) {
  char buf[4096];
  // The pipe is non-blocking already; the sockets are asked not to block.
  ssize_t n = is_socket ? recv(fd, buf, sizeof(buf), MSG_DONTWAIT) : read(fd, buf, sizeof(buf));
  if (n < 0 && errno == EAGAIN) dprintf(g_out, "%s: quiet\n", what);
  else dprintf(g_out, "%s: received %zd bytes: %.*s\n", what, n, n > 0 ? (int)n : 0, buf);
}

static void expect_empty(const char* what, int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat");
  if (st.st_size == 0) dprintf(g_out, "%s: quiet\n", what);
  else dprintf(g_out, "%s: %lld bytes written by someone else\n", what, (long long)st.st_size);
}

// The fd (not one of the program's own, listed in `mine`) whose
// /proc/self/fd link is `target`.
static int find_fd_linked_to(const char* target, const int* mine, int n_mine) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) die("opendir");
  int found = -1;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    int own = fd == dirfd(d);
    for (int i = 0; i < n_mine; ++i) own |= fd == mine[i];
    if (own) continue;
    char path[64], link[PATH_MAX];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    if (n < 0) continue;
    link[n] = '\0';
    if (strcmp(link, target) == 0) found = fd;
  }
  closedir(d);
  return found;
}

static void link_of(const char* path, char* out, size_t cap) {
  ssize_t n = readlink(path, out, cap - 1);
  out[n < 0 ? 0 : n] = '\0';
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s loop|close_range RESULT LOG\n", argv[0]);
    return 2;
  }
  const char* mode = argv[1];
  const char* result = argv[2];
  char target[PATH_MAX] = "";
  if (strcmp(argv[3], "stderr") == 0) link_of("/proc/self/fd/2", target, sizeof(target));
  else if (!realpath(argv[3], target)) snprintf(target, sizeof(target), "%s", argv[3]);

  if (strcmp(mode, "loop") == 0) {
    for (int fd = 0; fd < 1024; ++fd) close(fd);
  } else if (strcmp(mode, "close_range") == 0) {
    if (close_range(3, ~0U, 0) != 0) die("close_range");
  } else {
    fprintf(stderr, "unknown mode '%s'\n", mode);
    return 2;
  }

  g_out = open(result, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (g_out < 0) _exit(3);
  int sp[2], pp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) die("socketpair");
  if (pipe2(pp, O_CLOEXEC | O_NONBLOCK) != 0) die("pipe2");
  char scratch_path[PATH_MAX], dup_path[PATH_MAX];
  snprintf(scratch_path, sizeof(scratch_path), "%s.scratch", result);
  snprintf(dup_path, sizeof(dup_path), "%s.dup2", result);
  int scratch = open(scratch_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (scratch < 0) die("open scratch");
  dprintf(g_out, "own fds: result=%d socketpair=%d,%d pipe=%d,%d scratch=%d\n", g_out, sp[0], sp[1], pp[0], pp[1],
          scratch);

  refused_connect();
  expect_nothing_to_read("socketpair[0]", sp[0], 1);
  expect_nothing_to_read("socketpair[1]", sp[1], 1);
  expect_nothing_to_read("pipe", pp[0], 0);
  expect_empty("scratch", scratch);

  int mine[] = {g_out, sp[0], sp[1], pp[0], pp[1], scratch};
  int log_fd = find_fd_linked_to(target, mine, 6);
  if (log_fd < 0) {
    dprintf(g_out, "log fd: none\n");
    return 0;
  }
  dprintf(g_out, "log fd: found\n");
  int replacement = open(dup_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (replacement < 0) die("open dup2 file");
  int r = dup2(replacement, log_fd);
  dprintf(g_out, "dup2 onto log fd: %s\n", r == log_fd ? "OK" : errname(errno));
  refused_connect();
  char path[64], link[PATH_MAX], want[PATH_MAX];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", log_fd);
  link_of(path, link, sizeof(link));
  if (!realpath(dup_path, want)) die("realpath");
  dprintf(g_out, "fd after dup2: %s\n", strcmp(link, want) == 0 ? "the program's file" : link);
  expect_empty("dup2 file", replacement);
  expect_empty("scratch", scratch);
  expect_nothing_to_read("socketpair[0]", sp[0], 1);
  expect_nothing_to_read("pipe", pp[0], 0);
  return 0;
}
