// Runs every intercepted call on its success and failure paths and prints
// each return value and errno; the driver runs it with and without the
// library and compares the outputs line by line. errno is set to 12345
// before each call, so that a success path that changes errno shows up.
// fds are printed as numbers: the library must not change which fds the
// program gets. Ports and addresses are not printed (they differ per run).
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "testutil.h"

#define SENTINEL 12345

// Evaluates EXPR with errno = SENTINEL and prints "NAME: ret=R errno=E".
#define CALL(name, expr)                                                   \
  ({                                                                       \
    errno = SENTINEL;                                                      \
    long r_ = (long)(expr);                                                \
    int e_ = errno;                                                        \
    if (e_ == SENTINEL) printf("%s: ret=%ld errno=unchanged\n", name, r_); \
    else printf("%s: ret=%ld errno=%s\n", name, r_, errname(e_));         \
    r_;                                                                    \
  })


static void tcp_calls(void) {
  int lport;
  struct sockaddr_storage ss;
  socklen_t len;
  int lfd = (int)CALL("socket tcp", socket(AF_INET, SOCK_STREAM, 0));
  len = loopback(AF_INET, 0, &ss);
  CALL("bind port 0", bind(lfd, (struct sockaddr*)&ss, len));
  CALL("bind again", bind(lfd, (struct sockaddr*)&ss, len));
  CALL("accept4 before listen", accept4(lfd, NULL, NULL, 0));
  CALL("listen", listen(lfd, 8));
  lport = port_of(lfd);

  int other = (int)CALL("socket tcp", socket(AF_INET, SOCK_STREAM, 0));
  len = loopback(AF_INET, lport, &ss);
  CALL("bind in use", bind(other, (struct sockaddr*)&ss, len));
  CALL("shutdown unconnected", shutdown(other, SHUT_RDWR));
  CALL("close", close(other));

  int cport;
  int holder = bound_socket(AF_INET, 0, &cport);
  int refused = (int)CALL("socket tcp", socket(AF_INET, SOCK_STREAM, 0));
  len = loopback(AF_INET, cport, &ss);
  CALL("connect refused", connect(refused, (struct sockaddr*)&ss, len));
  CALL("close", close(refused));

  int nb = (int)CALL("socket tcp nonblocking", socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
  errno = 0;
  int r = connect(nb, (struct sockaddr*)&ss, len);
  if (r < 0 && errno == EINPROGRESS) {
    struct pollfd p = {nb, POLLOUT, 0};
    CALL("poll nonblocking connect", poll(&p, 1, 10000));
    printf("revents: %s\n", (p.revents & (POLLERR | POLLHUP)) ? "error" : "other");
    int so = -1;
    socklen_t so_len = sizeof(so);
    CALL("getsockopt SO_ERROR", getsockopt(nb, SOL_SOCKET, SO_ERROR, &so, &so_len));
    printf("nonblocking connect outcome: %s\n", errname(so));
    CALL("getsockopt SO_ERROR again", getsockopt(nb, SOL_SOCKET, SO_ERROR, &so, &so_len));
    printf("SO_ERROR after reading it: %s\n", errname(so));
  } else {
    printf("nonblocking connect outcome: %s\n", r < 0 ? errname(errno) : "OK");
    printf("SO_ERROR after reading it: OK\n");
  }
  CALL("close", close(nb));
  close(holder);

  int c = (int)CALL("socket tcp", socket(AF_INET, SOCK_STREAM, 0));
  len = loopback(AF_INET, lport, &ss);
  CALL("connect", connect(c, (struct sockaddr*)&ss, len));
  CALL("connect again", connect(c, (struct sockaddr*)&ss, len));
  int s = (int)CALL("accept", accept(lfd, NULL, NULL));

  char buf[64];
  CALL("send", send(c, "hello", 5, 0));
  CALL("recv", recv(s, buf, sizeof(buf), 0));
  CALL("recv nothing MSG_DONTWAIT", recv(s, buf, sizeof(buf), MSG_DONTWAIT));
  CALL("write", write(s, "world", 5));
  CALL("read", read(c, buf, sizeof(buf)));
  struct iovec iov[2] = {{"ab", 2}, {"cde", 3}};
  CALL("writev", writev(c, iov, 2));
  char a[2], b[8];
  struct iovec in[2] = {{a, 2}, {b, sizeof(b)}};
  CALL("readv", readv(s, in, 2));
  struct msghdr mh = {0};
  mh.msg_iov = iov;
  mh.msg_iovlen = 2;
  CALL("sendmsg", sendmsg(s, &mh, 0));
  struct msghdr rh = {0};
  rh.msg_iov = in;
  rh.msg_iovlen = 2;
  CALL("recvmsg", recvmsg(c, &rh, 0));
  CALL("recvfrom", (send(c, "xyz", 3, 0), recvfrom(s, buf, sizeof(buf), 0, NULL, NULL)));

  struct pollfd pf = {s, POLLIN, 0};
  CALL("poll timeout", poll(&pf, 1, 0));
  send(c, "p", 1, 0);
  CALL("poll ready", poll(&pf, 1, 10000));
  printf("poll revents: %d\n", pf.revents);
  struct timespec zero = {0, 0};
  CALL("ppoll", ppoll(&pf, 1, &zero, NULL));
  fd_set rs;
  FD_ZERO(&rs);
  FD_SET(s, &rs);
  struct timeval tv = {0, 0};
  CALL("select", select(s + 1, &rs, NULL, NULL, &tv));
  FD_ZERO(&rs);
  FD_SET(s, &rs);
  CALL("pselect", pselect(s + 1, &rs, NULL, NULL, &zero, NULL));
  recv(s, buf, 1, 0);

  int ep = (int)CALL("epoll_create1", epoll_create1(0));
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = s};
  CALL("epoll_ctl add", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
  CALL("epoll_ctl add again", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
  CALL("epoll_ctl bad fd", epoll_ctl(ep, EPOLL_CTL_ADD, 999, &ev));
  struct epoll_event out[4];
  CALL("epoll_wait empty", epoll_wait(ep, out, 4, 0));
  send(c, "e", 1, 0);
  CALL("epoll_wait ready", epoll_wait(ep, out, 4, 10000));
  CALL("epoll_pwait ready", epoll_pwait(ep, out, 4, 0, NULL));
  recv(s, buf, 1, 0);
  CALL("close epoll", close(ep));

  int one = 1;
  CALL("setsockopt SO_REUSEADDR", setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)));
  CALL("setsockopt short optlen", setsockopt(c, SOL_SOCKET, SO_RCVBUF, &one, 1));
  int val = -1;
  socklen_t vlen = sizeof(val);
  CALL("getsockopt SO_TYPE", getsockopt(c, SOL_SOCKET, SO_TYPE, &val, &vlen));
  printf("SO_TYPE: %d\n", val);
  CALL("getsockopt unknown option", getsockopt(c, SOL_SOCKET, 9999, &val, &vlen));

  int d = (int)CALL("dup", dup(c));
  CALL("dup2", dup2(c, 100));
  CALL("dup3 same fd", dup3(c, c, 0));
  CALL("dup3", dup3(c, 101, O_CLOEXEC));
  CALL("fcntl F_DUPFD", fcntl(c, F_DUPFD, 50));
  CALL("fcntl F_DUPFD_CLOEXEC", fcntl(c, F_DUPFD_CLOEXEC, 60));
  CALL("fcntl F_GETFD", fcntl(101, F_GETFD));
  CALL("fcntl F_GETFL", fcntl(c, F_GETFL));
  CALL("fcntl bad fd", fcntl(999, F_GETFL));
  CALL("send through dup", send(100, "d", 1, 0));
  CALL("recv", recv(s, buf, sizeof(buf), 0));
  CALL("close dup", close(d));
  CALL("close_range", close_range(100, 101, 0));
  CALL("close_range empty", close_range(200, 300, 0));
  CALL("close F_DUPFD", close(50));
  CALL("close F_DUPFD_CLOEXEC", close(60));

  CALL("shutdown write", shutdown(c, SHUT_WR));
  CALL("recv eof", recv(s, buf, sizeof(buf), 0));
  CALL("recv eof again", recv(s, buf, sizeof(buf), 0));
  CALL("send after shutdown", send(c, "x", 1, 0));
  CALL("close", close(c));
  CALL("close", close(s));

  int rc, rs_;
  tcp_pair(AF_INET, &rc, &rs_);
  CALL("send unread", send(rc, "unread", 6, 0));
  abort_on_close(rs_);
  CALL("close with RST", close(rs_));
  CALL("recv reset", recv(rc, buf, sizeof(buf), 0));
  CALL("recv after reset", recv(rc, buf, sizeof(buf), 0));
  CALL("close", close(rc));
  CALL("close", close(lfd));
}

static void udp_calls(void) {
  int u1 = (int)CALL("socket udp", socket(AF_INET, SOCK_DGRAM, 0));
  int u2 = (int)CALL("socket udp", socket(AF_INET, SOCK_DGRAM, 0));
  struct sockaddr_storage ss;
  socklen_t len = loopback(AF_INET, 0, &ss);
  CALL("bind udp", bind(u1, (struct sockaddr*)&ss, len));
  CALL("bind udp", bind(u2, (struct sockaddr*)&ss, len));
  CALL("listen udp", listen(u1, 1));
  struct sockaddr_storage to;
  socklen_t to_len = loopback(AF_INET, port_of(u2), &to);
  CALL("sendto", sendto(u1, "dgram", 5, 0, (struct sockaddr*)&to, to_len));
  char buf[64];
  struct sockaddr_storage from;
  socklen_t from_len = sizeof(from);
  CALL("recvfrom", recvfrom(u2, buf, sizeof(buf), 0, (struct sockaddr*)&from, &from_len));
  CALL("connect udp", connect(u1, (struct sockaddr*)&to, to_len));
  struct iovec iov[2] = {{"one", 3}, {"two", 3}};
  struct mmsghdr msgs[2];
  memset(msgs, 0, sizeof(msgs));
  msgs[0].msg_hdr.msg_iov = &iov[0];
  msgs[0].msg_hdr.msg_iovlen = 1;
  msgs[1].msg_hdr.msg_iov = &iov[1];
  msgs[1].msg_hdr.msg_iovlen = 1;
  CALL("sendmmsg", sendmmsg(u1, msgs, 2, 0));
  char b1[8], b2[8];
  struct iovec rv[2] = {{b1, sizeof(b1)}, {b2, sizeof(b2)}};
  struct mmsghdr rm[2];
  memset(rm, 0, sizeof(rm));
  rm[0].msg_hdr.msg_iov = &rv[0];
  rm[0].msg_hdr.msg_iovlen = 1;
  rm[1].msg_hdr.msg_iov = &rv[1];
  rm[1].msg_hdr.msg_iovlen = 1;
  CALL("recvmmsg", recvmmsg(u2, rm, 2, MSG_WAITFORONE, NULL));
  CALL("recvmmsg nothing", recvmmsg(u2, rm, 2, MSG_DONTWAIT, NULL));
  CALL("close", close(u1));
  CALL("close", close(u2));
}

static void other_calls(void) {
  CALL("socket bad family", socket(12345, SOCK_STREAM, 0));
  CALL("socket bad protocol", socket(AF_INET, SOCK_STREAM, 99));
  CALL("socket bad type", socket(AF_INET, 77, 0));
  int sv[2];
  CALL("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  printf("socketpair fds: %d %d\n", sv[0], sv[1]);
  CALL("socketpair inet", socketpair(AF_INET, SOCK_STREAM, 0, sv));
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  snprintf(un.sun_path, sizeof(un.sun_path), "/nonexistent/sockdiag-test.sock");
  int ux = (int)CALL("socket unix", socket(AF_UNIX, SOCK_STREAM, 0));
  CALL("connect unix missing", connect(ux, (struct sockaddr*)&un, sizeof(un)));
  CALL("close", close(ux));
  CALL("close socketpair", close(sv[0]));
  CALL("write to closed socketpair", write(sv[1], "x", 1));
  CALL("close socketpair", close(sv[1]));

  // write() on SOCK_SEQPACKET: each write stays one record for the reader
  // (the library turns a socket's write into send, which must keep that).
  char rec[16];
  CALL("socketpair seqpacket", socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
  CALL("write seqpacket", write(sv[0], "abc", 3));
  CALL("write seqpacket", write(sv[0], "defgh", 5));
  CALL("read seqpacket record", read(sv[1], rec, sizeof(rec)));
  CALL("read seqpacket record", read(sv[1], rec, sizeof(rec)));
  CALL("close seqpacket", close(sv[1]));
  CALL("write seqpacket no peer", write(sv[0], "x", 1));
  CALL("close seqpacket", close(sv[0]));

  int p[2];
  CALL("pipe", pipe(p));
  char buf[16];
  CALL("write pipe", write(p[1], "abc", 3));
  CALL("read pipe", read(p[0], buf, sizeof(buf)));
  CALL("recv on pipe", recv(p[0], buf, sizeof(buf), 0));
  CALL("connect on pipe", connect(p[0], NULL, 0));
  CALL("close pipe read end", close(p[0]));
  CALL("write pipe no reader", write(p[1], "abc", 3));
  CALL("close pipe", close(p[1]));

  // A socket used after its close: the number is not reused in between.
  int gone = (int)CALL("socket for use after close", socket(AF_INET, SOCK_STREAM, 0));
  printf("closed socket fd: %d\n", gone);
  CALL("close", close(gone));
  CALL("write after close", write(gone, "x", 1));
  CALL("read after close", read(gone, buf, sizeof(buf)));

  CALL("recv bad fd", recv(999, buf, sizeof(buf), 0));
  CALL("read bad fd", read(999, buf, sizeof(buf)));
  CALL("send bad fd", send(999, "x", 1, 0));
  // Negative numbers are outside the library's fd table.
  CALL("read fd -1", read(-1, buf, sizeof(buf)));
  CALL("write fd -1", write(-1, "x", 1));
  CALL("recv fd -1", recv(-1, buf, sizeof(buf), 0));
  CALL("send fd -1", send(-1, "x", 1, 0));
  CALL("close bad fd", close(999));
  CALL("close -1", close(-1));
  CALL("dup bad fd", dup(999));

  struct addrinfo hints = {0};
  hints.ai_family = AF_INET;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  struct addrinfo* res = NULL;
  CALL("getaddrinfo numeric", getaddrinfo("127.0.0.1", "80", &hints, &res));
  if (res) freeaddrinfo(res);
  res = NULL;
  CALL("getaddrinfo bad numeric", getaddrinfo("not-a-number", NULL, &hints, &res));
  CALL("getaddrinfo no name", getaddrinfo(NULL, NULL, &hints, &res));
}

int main(void) {
  // Sends to closed peers below must return EPIPE rather than kill.
  signal(SIGPIPE, SIG_IGN);
  tcp_calls();
  udp_calls();
  other_calls();
  int fd = (int)CALL("socket at the end", socket(AF_INET, SOCK_STREAM, 0));
  printf("next fd: %d\n", fd);
  return 0;
}
