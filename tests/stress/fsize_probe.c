// The log file grows past RLIMIT_FSIZE: the library's write fails with
// EFBIG and the kernel raises SIGXFSZ, whose default action would kill the
// program. The program sets RLIMIT_FSIZE to LIMIT bytes itself, then:
// 1. makes ROUNDS ping-pongs on a loopback connection (at trace level, the
//    log passes LIMIT early on) and says it is alive;
// 2. blocks SIGXFSZ, writes its own file past LIMIT (EFBIG, and its own
//    SIGXFSZ is now pending), makes ROUNDS more ping-pongs, and says whether
//    its SIGXFSZ is still pending (the library must not consume it);
// 3. unblocks SIGXFSZ: the pending signal kills it, as without the library.
// Usage: fsize_probe LIMIT ROUNDS FILE
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>

#include "testutil.h"

static void pingpong(int a, int b, int rounds) {
  char buf[32] = "ping";
  for (int i = 0; i < rounds; ++i) {
    if (send(a, buf, sizeof(buf), 0) != sizeof(buf) || recv(b, buf, sizeof(buf), MSG_WAITALL) != sizeof(buf) ||
        send(b, buf, sizeof(buf), 0) != sizeof(buf) || recv(a, buf, sizeof(buf), MSG_WAITALL) != sizeof(buf))
      die("pingpong");
  }
}

int main(int argc, char** argv) {
  if (argc != 4 || atol(argv[1]) < 1 || atoi(argv[2]) < 1) {
    fprintf(stderr, "usage: %s LIMIT(>0) ROUNDS(>0) FILE\n", argv[0]);
    return 2;
  }
  long limit = atol(argv[1]);
  int rounds = atoi(argv[2]);
  struct rlimit rl = {(rlim_t)limit, (rlim_t)limit};
  if (setrlimit(RLIMIT_FSIZE, &rl) != 0) die("setrlimit");
  int a, b;
  tcp_pair(AF_INET, &a, &b);
  pingpong(a, b, rounds);
  printf("alive after %d ping-pongs\n", rounds);

  sigset_t xfsz;
  sigemptyset(&xfsz);
  sigaddset(&xfsz, SIGXFSZ);
  sigprocmask(SIG_BLOCK, &xfsz, NULL);
  int fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("open");
  char chunk[4096];
  memset(chunk, 'x', sizeof(chunk));
  ssize_t r = 0;
  for (long written = 0; written <= limit && r >= 0; written += r) r = write(fd, chunk, sizeof(chunk));
  printf("own write past the limit: %s\n", r < 0 ? errname(errno) : "succeeded");
  pingpong(a, b, rounds);
  sigset_t pending;
  sigpending(&pending);
  printf("own SIGXFSZ pending after %d more ping-pongs: %s\n", rounds, sigismember(&pending, SIGXFSZ) ? "yes" : "no");
  fflush(stdout);
  sigprocmask(SIG_UNBLOCK, &xfsz, NULL);
  printf("still running after unblocking SIGXFSZ\n");
  return 0;
}
