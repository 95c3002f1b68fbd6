// A write to a peer that is gone, with the program's own SIGPIPE
// disposition. Prints "CALL: RET ERRNAME", "handler: N" (times its handler
// ran), "pending: 0|1" (SIGPIPE pending after the write) and, when the
// handler ran with SOCKDIAG_LOG naming a file, "record_before_handler: yes|no"
// (whether the EPIPE record was already in the log when the handler ran). In
// the thread disposition also "handler_thread: writer|other". Exit 0 when the
// program is still alive after the write; a SIGPIPE at its default kills it.
// Usage: sigpipe_write TARGET DISPOSITION CALL
//   TARGET       unix (socketpair), tcp (loopback), tcp-eof (the same, after
//                reading the peer's end of stream), pipe, fifo
//   DISPOSITION  dfl, handler, ign, blocked (SIG_DFL, blocked in the writing
//                thread), thread (handler; the write made by a second thread)
//   CALL         write, writev, send, sendto, sendmsg (sockets only);
//                send-nosignal: send with the program's own MSG_NOSIGNAL
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#include "testutil.h"

static volatile sig_atomic_t handler_runs;
static volatile sig_atomic_t handler_tid;
static volatile sig_atomic_t record_before_handler = -1;
static const char* log_path;

// Async-signal-safe: open/read/close only. Looks for the EPIPE record
// (either log format names the code).
static void on_sigpipe(int sig) {
  (void)sig;
  ++handler_runs;
  handler_tid = (sig_atomic_t)syscall(SYS_gettid);
  if (!log_path) return;
  int fd = open(log_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    record_before_handler = 0;
    return;
  }
  static char buf[1 << 16];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  record_before_handler = strstr(buf, "EPIPE") != NULL;
}

static const char* call;
static int target_fd;
static long result;
static int result_errno;
static int pending;
static sig_atomic_t writer_tid;

static long write_once(void) {
  static char data[] = "data";
  struct iovec iov = {data, 4};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (strcmp(call, "write") == 0) return write(target_fd, data, 4);
  if (strcmp(call, "writev") == 0) return writev(target_fd, &iov, 1);
  if (strcmp(call, "send") == 0) return send(target_fd, data, 4, 0);
  if (strcmp(call, "send-nosignal") == 0) return send(target_fd, data, 4, MSG_NOSIGNAL);
  if (strcmp(call, "sendto") == 0) return sendto(target_fd, data, 4, 0, NULL, 0);
  return sendmsg(target_fd, &msg, 0);
}

// Writes until EPIPE. A TCP peer's close needs a few writes to show: the
// first is answered with RST, the next fails with ECONNRESET, then EPIPE.
static void* writer(void* arg) {
  (void)arg;
  writer_tid = (sig_atomic_t)syscall(SYS_gettid);
  for (int i = 0; i < 200; ++i) {
    result = write_once();
    result_errno = errno;
    if (result < 0 && result_errno == EPIPE) break;
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  sigset_t set;
  sigpending(&set);
  pending = sigismember(&set, SIGPIPE);
  return NULL;
}

static void open_target(const char* target) {
  int fds[2];
  if (strcmp(target, "unix") == 0) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) die("socketpair");
  } else if (strcmp(target, "tcp") == 0 || strcmp(target, "tcp-eof") == 0) {
    tcp_pair(AF_INET, &fds[0], &fds[1]);
  } else if (strcmp(target, "pipe") == 0) {
    if (pipe2(fds, O_CLOEXEC) != 0) die("pipe");
    int t = fds[0];  // the read end is the one to close
    fds[0] = fds[1];
    fds[1] = t;
  } else if (strcmp(target, "fifo") == 0) {
    char dir[] = "/tmp/sigpipe_fifo.XXXXXX";
    if (!mkdtemp(dir)) die("mkdtemp");
    char path[64];
    snprintf(path, sizeof(path), "%s/fifo", dir);
    if (mkfifo(path, 0600) != 0) die("mkfifo");
    fds[1] = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    fds[0] = open(path, O_WRONLY | O_CLOEXEC);
    if (fds[0] < 0 || fds[1] < 0) die("open fifo");
    unlink(path);
    rmdir(dir);
  } else {
    fprintf(stderr, "unknown target '%s'; accepted: unix, tcp, tcp-eof, pipe, fifo\n", target);
    exit(2);
  }
  target_fd = fds[0];
  close(fds[1]);  // the peer, or the pipe's reader, goes away
  if (strcmp(target, "tcp-eof") == 0) {
    char c;
    if (recv(target_fd, &c, 1, 0) != 0) die("recv: no end of stream");
  }
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s unix|tcp|tcp-eof|pipe|fifo dfl|handler|ign|blocked|thread "
            "write|writev|send|send-nosignal|sendto|sendmsg\n",
            argc > 0 ? argv[0] : "sigpipe_write");
    return 2;
  }
  const char* disp = argv[2];
  call = argv[3];
  const char* log = getenv("SOCKDIAG_LOG");
  if (log && log[0] == '/') log_path = log;

  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = SIG_DFL;  // whatever the test runner left us
  if (strcmp(disp, "handler") == 0 || strcmp(disp, "thread") == 0) sa.sa_handler = on_sigpipe;
  else if (strcmp(disp, "ign") == 0) sa.sa_handler = SIG_IGN;
  else if (strcmp(disp, "dfl") != 0 && strcmp(disp, "blocked") != 0) {
    fprintf(stderr, "unknown disposition '%s'; accepted: dfl, handler, ign, blocked, thread\n", disp);
    return 2;
  }
  if (sigaction(SIGPIPE, &sa, NULL) != 0) die("sigaction");
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(strcmp(disp, "blocked") == 0 ? SIG_BLOCK : SIG_UNBLOCK, &pipe_set, NULL);

  open_target(argv[1]);
  if (strcmp(disp, "thread") == 0) {
    pthread_t t;
    if (pthread_create(&t, NULL, writer, NULL) != 0) die("pthread_create");
    pthread_join(t, NULL);
  } else {
    writer(NULL);
  }
  report(call, result, result_errno);
  printf("handler: %d\n", (int)handler_runs);
  printf("pending: %d\n", pending);
  if (handler_runs && record_before_handler >= 0)
    printf("record_before_handler: %s\n", record_before_handler ? "yes" : "no");
  if (strcmp(disp, "thread") == 0 && handler_runs)
    printf("handler_thread: %s\n", handler_tid == writer_tid ? "writer" : "other");
  return 0;
}
