// Socket calls made through syscall() rather than libc's wrappers, as
// libuv makes sendmmsg and recvmmsg: one line per call (testutil.h's
// report), compared by the driver with and without the library.
//   refused connect, a UDP datagram sent with sendmmsg and its ICMP refusal
//   met by recvmmsg, socket/bind/listen/accept4, read and write on the
//   accepted connection, fcntl(F_DUPFD_CLOEXEC), close and a double close,
//   and numbers the library does not route (getpid, futex) passing through.
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include "testutil.h"

int main(void) {
  int closed_port;
  int holder = bound_socket(AF_INET, 0, &closed_port);
  struct sockaddr_storage ss;
  socklen_t len = loopback(AF_INET, closed_port, &ss);

  long tcp = syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (tcp < 0) die("socket");
  REPORT("connect refused", syscall(SYS_connect, tcp, &ss, len));
  REPORT("close", syscall(SYS_close, tcp));
  REPORT("close again", syscall(SYS_close, tcp));

  // A UDP port nobody holds: bound, then closed again, so that a datagram
  // sent to it comes back as ICMP port unreachable.
  int gone = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_storage us;
  socklen_t ulen = loopback(AF_INET, 0, &us);
  if (gone < 0 || bind(gone, (struct sockaddr*)&us, ulen) != 0) die("bind udp");
  int udp_port = port_of(gone);
  close(gone);
  long udp = syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ulen = loopback(AF_INET, udp_port, &us);
  REPORT("udp connect", syscall(SYS_connect, udp, &us, ulen));
  char query[53];
  memset(query, 'q', sizeof(query));
  struct iovec iov = {query, sizeof(query)};
  struct mmsghdr out;
  memset(&out, 0, sizeof(out));
  out.msg_hdr.msg_iov = &iov;
  out.msg_hdr.msg_iovlen = 1;
  REPORT("sendmmsg", syscall(SYS_sendmmsg, udp, &out, 1, 0));
  printf("sendmmsg msg_len: %u\n", out.msg_len);
  char answer[512];
  struct iovec riov = {answer, sizeof(answer)};
  struct mmsghdr in;
  memset(&in, 0, sizeof(in));
  in.msg_hdr.msg_iov = &riov;
  in.msg_hdr.msg_iovlen = 1;
  struct timespec wait = {5, 0};
  // The refusal comes back at once on loopback; the timeout only bounds it.
  REPORT("recvmmsg refused", syscall(SYS_recvmmsg, udp, &in, 1, MSG_WAITFORONE, &wait));
  REPORT("close udp", syscall(SYS_close, udp));

  int port;
  long lst = syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  len = loopback(AF_INET, 0, &ss);
  REPORT("bind", syscall(SYS_bind, lst, &ss, len));
  REPORT("listen", syscall(SYS_listen, lst, 4));
  port = port_of((int)lst);
  int client = connect_to(AF_INET, port);
  long conn = syscall(SYS_accept4, lst, NULL, NULL, SOCK_CLOEXEC);
  report("accept4", conn < 0 ? conn : 0, errno);
  REPORT("write", syscall(SYS_write, conn, "hello", 5));
  char buf[16];
  REPORT("read", read(client, buf, sizeof(buf)));
  REPORT("send back", send(client, "abc", 3, 0));
  REPORT("recvfrom", syscall(SYS_recvfrom, conn, buf, sizeof(buf), 0, NULL, NULL));
  long dup = syscall(SYS_fcntl, conn, F_DUPFD_CLOEXEC, 0);
  report("fcntl dupfd", dup < 0 ? dup : 0, errno);
  REPORT("fcntl getfd", syscall(SYS_fcntl, conn, F_GETFD));
  REPORT("close dup", syscall(SYS_close, dup));
  close(client);
  REPORT("read eof", syscall(SYS_read, conn, buf, sizeof(buf)));
  REPORT("close accepted", syscall(SYS_close, conn));
  REPORT("close listener", syscall(SYS_close, lst));
  REPORT("accept4 bad fd", syscall(SYS_accept4, -1, NULL, NULL, 0));

  printf("getpid same: %s\n", syscall(SYS_getpid) == getpid() ? "yes" : "no");
  int word = 0;
  REPORT("futex wake", syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
  REPORT("unknown number", syscall(100000));
  close(holder);
  return 0;
}
