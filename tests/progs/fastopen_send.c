/* TCP Fast Open: a connect and a send in one call.
 *   fastopen_send refused|listening 4|6 [sendmsg]
 * sendto(..., MSG_FASTOPEN, address) (or sendmsg with msg_name) to a
 * loopback port that refuses (bound, not listening) or that listens;
 * prints "port: P" and what the call returned ("sendto: 1" or
 * "sendto: -1 ECONNREFUSED", "sendmsg: ..."). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "testutil.h"

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: fastopen_send refused|listening 4|6 [sendmsg]\n");
    return 2;
  }
  int listening = strcmp(argv[1], "listening") == 0;
  int family = strcmp(argv[2], "6") == 0 ? AF_INET6 : AF_INET;
  struct sockaddr_storage ss;
  socklen_t len = loopback(family, 0, &ss);
  /* Bound and not listening: a SYN to it is answered by an RST. */
  int holder = socket(family, SOCK_STREAM, 0);
  if (holder < 0 || bind(holder, (struct sockaddr*)&ss, len) != 0) {
    perror("bind");
    return 1;
  }
  if (listening && listen(holder, 1) != 0) {
    perror("listen");
    return 1;
  }
  socklen_t alen = sizeof(ss);
  getsockname(holder, (struct sockaddr*)&ss, &alen);
  printf("port: %u\n", ntohs(family == AF_INET ? ((struct sockaddr_in*)&ss)->sin_port
                                               : ((struct sockaddr_in6*)&ss)->sin6_port));
  int fd = socket(family, SOCK_STREAM, 0);
  int use_sendmsg = argc == 4 && strcmp(argv[3], "sendmsg") == 0;
  ssize_t r;
  if (use_sendmsg) {
    struct iovec iov = {"x", 1};
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = &ss;
    msg.msg_namelen = alen;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    r = sendmsg(fd, &msg, MSG_FASTOPEN);
  } else {
    r = sendto(fd, "x", 1, MSG_FASTOPEN, (struct sockaddr*)&ss, alen);
  }
  const char* name = use_sendmsg ? "sendmsg" : "sendto";
  if (r < 0) printf("%s: -1 %s\n", name, errno == ECONNREFUSED ? "ECONNREFUSED" : strerror(errno));
  else printf("%s: %zd\n", name, r);
  close(fd);
  close(holder);
  return 0;
}
