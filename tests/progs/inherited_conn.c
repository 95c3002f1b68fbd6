/* A connection handed to an exec'd child as its fd 0, as inetd and git
 * daemon do: the child never connected or accepted it.
 *   inherited_conn rst|eof FAMILY(4|6)
 * The parent accepts a loopback connection, execs itself as the child with
 * the accepted socket on fd 0, sends it 29 bytes and waits for one byte
 * back, then closes its end: with SO_LINGER 0 (an RST) or normally (EOF).
 * The child reads the 29 bytes, answers, and reads again, printing what
 * each read returned. Prints "peer: ADDR:PORT" (the parent's end, the
 * child's peer) and "local: ADDR:PORT" (the child's end). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static void show(const char* label, const struct sockaddr_storage* ss) {
  char text[INET6_ADDRSTRLEN];
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in* in = (const struct sockaddr_in*)ss;
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    printf("%s: %s:%u\n", label, text, ntohs(in->sin_port));
  } else {
    const struct sockaddr_in6* in6 = (const struct sockaddr_in6*)ss;
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    printf("%s: [%s]:%u\n", label, text, ntohs(in6->sin6_port));
  }
}

static int child(void) {
  char buf[64];
  size_t got = 0;
  while (got < 29) {
    ssize_t n = read(0, buf, sizeof(buf));
    if (n <= 0) die("first read");
    got += (size_t)n;
  }
  printf("read: %zu\n", got);
  fflush(stdout);
  if (write(0, "k", 1) != 1) die("answer");
  ssize_t n = read(0, buf, sizeof(buf));
  if (n < 0) printf("read: -1 %s\n", errno == ECONNRESET ? "ECONNRESET" : strerror(errno));
  else printf("read: %zd\n", n);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "child") == 0) return child();
  if (argc != 3) {
    fprintf(stderr, "usage: inherited_conn rst|eof 4|6\n");
    return 2;
  }
  int rst = strcmp(argv[1], "rst") == 0;
  int family = strcmp(argv[2], "6") == 0 ? AF_INET6 : AF_INET;
  struct sockaddr_storage ss;
  socklen_t len = loopback(family, 0, &ss);
  int l = socket(family, SOCK_STREAM, 0);
  if (l < 0 || bind(l, (struct sockaddr*)&ss, len) != 0 || listen(l, 1) != 0) die("listen");
  socklen_t alen = sizeof(ss);
  if (getsockname(l, (struct sockaddr*)&ss, &alen) != 0) die("getsockname");
  int c = socket(family, SOCK_STREAM, 0);
  if (c < 0 || connect(c, (struct sockaddr*)&ss, alen) != 0) die("connect");
  int a = accept(l, NULL, NULL);
  if (a < 0) die("accept");
  struct sockaddr_storage mine, theirs;
  socklen_t mlen = sizeof(mine), tlen = sizeof(theirs);
  getsockname(c, (struct sockaddr*)&theirs, &tlen);
  getsockname(a, (struct sockaddr*)&mine, &mlen);
  show("peer", &theirs);
  show("local", &mine);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    if (dup2(a, 0) != 0) die("dup2");
    close(a);
    close(c);
    close(l);
    execl("/proc/self/exe", argv[0], "child", (char*)NULL);
    die("exec");
  }
  close(a);
  close(l);
  if (write(c, "twenty-nine bytes of request!", 29) != 29) die("write");
  char k;
  if (read(c, &k, 1) != 1) die("read answer");
  if (rst) {
    struct linger lg = {1, 0};
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  close(c);
  int status;
  if (waitpid(pid, &status, 0) != pid) die("waitpid");
  printf("child: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return 0;
}
