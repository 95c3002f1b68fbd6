// A program that confines itself with a seccomp filter, as OpenSSH's
// pre-authentication child does, then writes to and reads from a socket
// with write() and read().
//   seccomp_strict prctl    filter through prctl(PR_SET_SECCOMP): read,
//                           write and exit only, any other system call
//                           kills the process (SIGSYS)
//   seccomp_strict syscall  the same filter through syscall(SYS_seccomp)
//   seccomp_strict refused  a filter the kernel refuses (an empty program:
//                           EINVAL), then the same I/O unconfined
//   seccomp_strict exec     a filter that kills on sendto, sendmsg and
//                           sendmmsg and allows the rest, then exec of
//                           `seccomp_strict io`, which inherits it
//   seccomp_strict io       the I/O alone
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "testutil.h"

#define ALLOW(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define KILL(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)
#define LOAD_ARCH_CHECK                                               \
  BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)), \
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),      \
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),               \
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))

static struct sock_filter strict[] = {
    LOAD_ARCH_CHECK, ALLOW(__NR_read), ALLOW(__NR_write), ALLOW(__NR_exit), ALLOW(__NR_exit_group),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
};
static struct sock_filter no_send[] = {
    LOAD_ARCH_CHECK, KILL(__NR_sendto), KILL(__NR_sendmsg), KILL(__NR_sendmmsg),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

// write() and read() through a socket pair made before the filter; no
// stdio (it may call fstat), the process ends with _exit (exit_group).
static void socket_io(int sv[2]) {
  static const char msg[] = "through the socket";
  char buf[64];
  ssize_t sent = write(sv[0], msg, sizeof(msg) - 1);
  ssize_t got = read(sv[1], buf, sizeof(buf));
  static const char ok[] = "write and read on the socket: ok\n";
  static const char bad[] = "write and read on the socket: wrong count\n";
  if (sent == (ssize_t)sizeof(msg) - 1 && got == sent) write(1, ok, sizeof(ok) - 1);
  else write(1, bad, sizeof(bad) - 1);
  _exit(0);
}

int main(int argc, char** argv) {
  const char* how = argc > 1 ? argv[1] : "prctl";
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) die("socketpair");
  if (strcmp(how, "io") == 0) socket_io(sv);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("PR_SET_NO_NEW_PRIVS");
  printf("confining with %s\n", how);
  fflush(stdout);
  struct sock_fprog prog = {sizeof(strict) / sizeof(strict[0]), strict};
  long r;
  if (strcmp(how, "syscall") == 0) {
    r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
  } else if (strcmp(how, "refused") == 0) {
    struct sock_fprog empty = {0, strict};
    r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &empty);
    report("refused filter", r, errno);
    r = 0;
  } else if (strcmp(how, "exec") == 0) {
    struct sock_fprog deny = {sizeof(no_send) / sizeof(no_send[0]), no_send};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &deny) != 0) die("seccomp");
    execl(argv[0], argv[0], "io", (char*)NULL);
    die("exec");
  } else {
    r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
  }
  if (r != 0) die("seccomp");
  socket_io(sv);
}
