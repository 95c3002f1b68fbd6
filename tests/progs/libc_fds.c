// What libc changes behind the close and dup2 hooks (fclose, freopen, a
// new RLIMIT_FSIZE) and children that skip the atfork handlers: each mode
// prints what the program itself saw, so that the driver compares the run
// with and without the library.
//   fclose-open FILE   fclose(stderr); open FILE (takes fd 2), refused
//                      connect, a line written into FILE
//   freopen FILE       freopen(FILE, "w", stderr), refused connect, a line
//                      into stderr
//   fsize FILE HOW     stderr becomes FILE (dup2), refused connect; then
//                      RLIMIT_FSIZE 64 bytes through HOW (setrlimit,
//                      prlimit or syscall: syscall(SYS_prlimit64)), two
//                      refused connects, "alive"
//   fork HOW           "parent PID", refused connect; a child made by HOW
//                      (fork, _Fork or syscall: syscall(SYS_fork), the last
//                      two without atfork handlers) prints "child PID" and
//                      makes a refused connect; the parent waits for it
//   daemon PIDFILE     refused connect; a child calls daemon(1, 0), and the
//                      daemon makes a refused connect and writes its pid
//                      to PIDFILE, which the program waits for
//   login_tty          a child takes a new pseudo-terminal as its stdio
//                      (login_tty), makes a refused connect and prints
//                      "child done"; the parent prints every line the
//                      terminal showed, then "parent done"
//   refused N          N refused connects, nothing printed
#include <fcntl.h>
#include <pty.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <utmp.h>

#include "testutil.h"

static int refused_connect(void) {
  int port;
  int holder = bound_socket(AF_INET, 0, &port);
  int r = connect_is_refused(AF_INET, port);
  close(holder);
  return r;
}

static int fclose_open(const char* path) {
  if (fclose(stderr) != 0) die("fclose");
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  printf("open: fd %d\n", fd);
  printf("connect refused: %d\n", refused_connect());
  static const char line[] = "program line\n";
  if (write(fd, line, sizeof line - 1) != (ssize_t)(sizeof line - 1)) die("write");
  return 0;
}

static int freopen_stderr(const char* path) {
  if (!freopen(path, "w", stderr)) die("freopen");
  printf("stderr fd: %d\n", fileno(stderr));
  printf("connect refused: %d\n", refused_connect());
  fputs("program line\n", stderr);
  fflush(stderr);
  return 0;
}

static int fsize(const char* path, const char* how) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || dup2(fd, 2) != 2) die("stderr to FILE");
  close(fd);
  printf("connect refused: %d\n", refused_connect());
  struct rlimit rl;
  if (getrlimit(RLIMIT_FSIZE, &rl) != 0) die("getrlimit");
  rl.rlim_cur = 64;
  int r;
  if (strcmp(how, "setrlimit") == 0) r = setrlimit(RLIMIT_FSIZE, &rl);
  else if (strcmp(how, "prlimit") == 0) r = prlimit(0, RLIMIT_FSIZE, &rl, NULL);
  else r = (int)syscall(SYS_prlimit64, 0, RLIMIT_FSIZE, &rl, NULL);
  if (r != 0) die(how);
  printf("connect refused: %d\n", refused_connect());
  printf("connect refused: %d\n", refused_connect());
  printf("alive\n");
  return 0;
}

static pid_t make_child(const char* how) {
  if (strcmp(how, "fork") == 0) return fork();
  if (strcmp(how, "_Fork") == 0) return _Fork();
  return (pid_t)syscall(SYS_fork);
}

static int forks(const char* how) {
  printf("parent %ld\n", (long)getpid());
  fflush(stdout);
  refused_connect();
  pid_t child = make_child(how);
  if (child < 0) die(how);
  if (child == 0) {
    printf("child %ld\n", (long)syscall(SYS_getpid));
    fflush(stdout);
    refused_connect();
    _exit(0);
  }
  int status;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) die("child");
  return 0;
}

static int daemonize(const char* pidfile) {
  printf("connect refused: %d\n", refused_connect());
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    if (daemon(1, 0) != 0) _exit(3);
    refused_connect();
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", pidfile);
    FILE* f = fopen(tmp, "w");
    if (!f) _exit(3);
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) != 0 || rename(tmp, pidfile) != 0) _exit(3);
    _exit(0);
  }
  int status;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) die("daemon");
  // The test's process group outlives this process only as long as it runs:
  // it waits for the daemon's pid file (10 s at most).
  for (int i = 0; i < 1000 && access(pidfile, F_OK) != 0; ++i) usleep(10000);
  printf("daemon wrote its pid: %s\n", access(pidfile, F_OK) == 0 ? "yes" : "no");
  return 0;
}

static int take_tty(void) {
  int master, slave;
  if (openpty(&master, &slave, NULL, NULL, NULL) != 0) die("openpty");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(master);
    if (login_tty(slave) != 0) _exit(3);
    refused_connect();
    printf("child done\n");
    fflush(stdout);
    _exit(0);
  }
  close(slave);
  char text[8192];
  size_t got = 0;
  for (;;) {  // until the child's end closes the terminal (EIO)
    ssize_t n = read(master, text + got, sizeof text - 1 - got);
    if (n <= 0) break;
    got += (size_t)n;
    if (got == sizeof text - 1) break;
  }
  text[got] = '\0';
  int status;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) die("child");
  for (char* line = strtok(text, "\r\n"); line; line = strtok(NULL, "\r\n")) printf("tty: %s\n", line);
  printf("parent done\n");
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "fclose-open") == 0) return fclose_open(argv[2]);
  if (argc == 3 && strcmp(argv[1], "freopen") == 0) return freopen_stderr(argv[2]);
  if (argc == 4 && strcmp(argv[1], "fsize") == 0) return fsize(argv[2], argv[3]);
  if (argc == 3 && strcmp(argv[1], "fork") == 0) return forks(argv[2]);
  if (argc == 3 && strcmp(argv[1], "daemon") == 0) return daemonize(argv[2]);
  if (argc == 2 && strcmp(argv[1], "login_tty") == 0) return take_tty();
  if (argc == 3 && strcmp(argv[1], "refused") == 0) {
    for (int i = atoi(argv[2]); i > 0; --i) refused_connect();
    return 0;
  }
  fprintf(stderr, "usage: libc_fds fclose-open FILE | freopen FILE | fsize FILE setrlimit|prlimit|syscall | "
                  "fork fork|_Fork|syscall | daemon PIDFILE | login_tty | refused N\n");
  return 2;
}
