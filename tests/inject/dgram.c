// A datagram sender and receiver in one process, for the datagram faults
// (drop, duplicate, reorder, truncate): socket B sends to socket A, both
// under the library, so a rule on output acts on B and one on input on A.
//
//   dgram udp|unix STEP...
//     send N SIZE       N datagrams of SIZE bytes, one sendto (udp) or send (unix) each
//     sendmsg N SIZE    the same with sendmsg, each datagram in two iovecs
//     sendmmsg N SIZE   one sendmmsg of N datagrams
//     recv N BUF        N blocking recvfrom into BUF bytes (SO_RCVTIMEO 1 s bounds each)
//     recvnb N BUF      N recvfrom with MSG_DONTWAIT
//     recvmsg N BUF     N blocking recvmsg (says MSG_TRUNC)
//     recvmmsg N BUF    one recvmmsg of up to N, MSG_WAITFORONE
//     poll MS           poll A for input, up to MS ms
//     select MS         the same with select
//     epollet MS        the same with epoll_wait, A registered edge-triggered
//     epolloneshot MS   the same, A registered one-shot (armed again after each report)
//     sleep MS
//     closeb            close B (datagrams held back for it go out)
//     target PORT       B sends to 127.0.0.1:PORT from now on (udp), not to A
// Prints one line per datagram or call:
//   sent ret=R                 (sendmmsg: sent ret=R lens=L,L,...)
//   got seq=S len=L trunc=0|1 src=ok|bad|none
//   err call=recv errno=NAME
//   poll ready=0|1             (select, epollet: the same)
// Each datagram's first 4 bytes are its sequence number (from 0), the rest
// the pattern; src=ok: the source address is B's.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "inject_util.h"

static int a_fd = -1, b_fd = -1, udp = 1;
static struct sockaddr_in a_addr, b_addr;
static uint32_t next_seq = 0;

static void fill(unsigned char* buf, size_t size) {
  pattern_fill(buf, size, 0);
  if (size >= 4) memcpy(buf, &next_seq, 4);
  ++next_seq;
}

static const char* src_of(const struct sockaddr_storage* from, socklen_t len) {
  if (!udp) return "none";
  const struct sockaddr_in* in = (const struct sockaddr_in*)from;
  return len >= sizeof(*in) && in->sin_family == AF_INET && in->sin_port == b_addr.sin_port ? "ok" : "bad";
}

static void print_got(const unsigned char* buf, ssize_t n, size_t cap, int trunc, const char* src) {
  uint32_t seq = 0;
  size_t have = (size_t)n < cap ? (size_t)n : cap;
  if (have >= 4) memcpy(&seq, buf, 4);
  printf("got seq=%u len=%zd trunc=%d src=%s\n", have >= 4 ? seq : 999999u, n, trunc, src);
}

static void print_err(const char* call) { printf("err call=%s errno=%s\n", call, errname(errno)); }

static void do_send(const char* how, int n, size_t size) {
  unsigned char* buf = malloc(size ? size : 1);
  for (int i = 0; i < n; ++i) {
    fill(buf, size);
    ssize_t r;
    if (strcmp(how, "sendmsg") == 0) {
      struct iovec iov[2] = {{buf, size / 2}, {buf + size / 2, size - size / 2}};
      struct msghdr m = {0};
      m.msg_iov = iov;
      m.msg_iovlen = 2;
      if (udp) {
        m.msg_name = &a_addr;
        m.msg_namelen = sizeof(a_addr);
      }
      r = sendmsg(b_fd, &m, 0);
    } else if (udp) {
      r = sendto(b_fd, buf, size, 0, (struct sockaddr*)&a_addr, sizeof(a_addr));
    } else {
      r = send(b_fd, buf, size, 0);
    }
    if (r < 0) print_err(how);
    else printf("sent ret=%zd\n", r);
  }
  free(buf);
}

static void do_sendmmsg(int n, size_t size) {
  struct mmsghdr* v = calloc((size_t)n, sizeof(*v));
  struct iovec* iov = calloc((size_t)n, sizeof(*iov));
  unsigned char* bufs = malloc((size_t)n * size);
  for (int i = 0; i < n; ++i) {
    fill(bufs + (size_t)i * size, size);
    iov[i].iov_base = bufs + (size_t)i * size;
    iov[i].iov_len = size;
    v[i].msg_hdr.msg_iov = &iov[i];
    v[i].msg_hdr.msg_iovlen = 1;
    if (udp) {
      v[i].msg_hdr.msg_name = &a_addr;
      v[i].msg_hdr.msg_namelen = sizeof(a_addr);
    }
  }
  int r = sendmmsg(b_fd, v, (unsigned)n, 0);
  if (r < 0) {
    print_err("sendmmsg");
  } else {
    printf("sent ret=%d lens=", r);
    for (int i = 0; i < r; ++i) printf("%s%u", i ? "," : "", v[i].msg_len);
    printf("\n");
  }
  free(v);
  free(iov);
  free(bufs);
}

static void do_recv(const char* how, int n, size_t cap) {
  unsigned char* buf = malloc(cap ? cap : 1);
  for (int i = 0; i < n; ++i) {
    struct sockaddr_storage from;
    socklen_t len = sizeof(from);
    memset(&from, 0, sizeof(from));
    ssize_t r;
    int trunc = 0;
    if (strcmp(how, "recvmsg") == 0) {
      struct iovec iov = {buf, cap};
      struct msghdr m = {0};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      m.msg_name = &from;
      m.msg_namelen = len;
      r = recvmsg(a_fd, &m, 0);
      len = m.msg_namelen;
      trunc = (m.msg_flags & MSG_TRUNC) != 0;
    } else {
      r = recvfrom(a_fd, buf, cap, strcmp(how, "recvnb") == 0 ? MSG_DONTWAIT : 0, (struct sockaddr*)&from, &len);
    }
    if (r < 0) print_err(how);
    else print_got(buf, r, cap, trunc, src_of(&from, len));
  }
  free(buf);
}

static void do_recvmmsg(int n, size_t cap) {
  struct mmsghdr* v = calloc((size_t)n, sizeof(*v));
  struct iovec* iov = calloc((size_t)n, sizeof(*iov));
  struct sockaddr_storage* from = calloc((size_t)n, sizeof(*from));
  unsigned char* bufs = malloc((size_t)n * cap);
  for (int i = 0; i < n; ++i) {
    iov[i].iov_base = bufs + (size_t)i * cap;
    iov[i].iov_len = cap;
    v[i].msg_hdr.msg_iov = &iov[i];
    v[i].msg_hdr.msg_iovlen = 1;
    v[i].msg_hdr.msg_name = &from[i];
    v[i].msg_hdr.msg_namelen = sizeof(from[i]);
  }
  int r = recvmmsg(a_fd, v, (unsigned)n, MSG_WAITFORONE, NULL);
  if (r < 0) print_err("recvmmsg");
  else printf("recvmmsg ret=%d\n", r);
  for (int i = 0; i < r; ++i)
    print_got(bufs + (size_t)i * cap, v[i].msg_len, cap, (v[i].msg_hdr.msg_flags & MSG_TRUNC) != 0,
              src_of(&from[i], v[i].msg_hdr.msg_namelen));
  free(v);
  free(iov);
  free(from);
  free(bufs);
}

// Whether A is readable within `ms`, by the wait named.
static int wait_readable(const char* how, int ms) {
  if (strcmp(how, "poll") == 0) {
    struct pollfd p = {a_fd, POLLIN, 0};
    return poll(&p, 1, ms) > 0 && (p.revents & POLLIN);
  }
  if (strcmp(how, "select") == 0) {
    fd_set r;
    FD_ZERO(&r);
    FD_SET(a_fd, &r);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return select(a_fd + 1, &r, NULL, NULL, &tv) > 0 && FD_ISSET(a_fd, &r);
  }
  int oneshot = strcmp(how, "epolloneshot") == 0;
  static int eps[2] = {-1, -1};
  int* ep = &eps[oneshot];
  struct epoll_event ev = {EPOLLIN | (oneshot ? EPOLLONESHOT : EPOLLET), {.fd = a_fd}};
  if (*ep < 0 && ((*ep = epoll_create1(0)) < 0 || epoll_ctl(*ep, EPOLL_CTL_ADD, a_fd, &ev) != 0)) die("epoll");
  struct epoll_event got;
  int ready = epoll_wait(*ep, &got, 1, ms) == 1 && (got.events & EPOLLIN);
  if (ready && oneshot && epoll_ctl(*ep, EPOLL_CTL_MOD, a_fd, &ev) != 0) die("epoll_ctl");
  return ready;
}

static void setup(void) {
  if (udp) {
    a_fd = socket(AF_INET, SOCK_DGRAM, 0);
    b_fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in any = {0};
    any.sin_family = AF_INET;
    any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a_addr);
    if (a_fd < 0 || b_fd < 0 || bind(a_fd, (struct sockaddr*)&any, sizeof(any)) != 0 ||
        bind(b_fd, (struct sockaddr*)&any, sizeof(any)) != 0 || getsockname(a_fd, (struct sockaddr*)&a_addr, &len) != 0 ||
        (len = sizeof(b_addr), getsockname(b_fd, (struct sockaddr*)&b_addr, &len)) != 0)
      die("udp sockets");
  } else {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) != 0) die("socketpair");
    a_fd = sv[0];
    b_fd = sv[1];
  }
  // A blocking read that would wait for ever ends after 1 s (EAGAIN).
  struct timeval tv = {1, 0};
  setsockopt(a_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) die("usage: dgram udp|unix STEP...");
  udp = strcmp(argv[1], "udp") == 0;
  setup();
  for (int i = 2; i < argc; ++i) {
    const char* s = argv[i];
    if (strcmp(s, "closeb") == 0) {
      close(b_fd);
      continue;
    }
    if (i + 1 >= argc) die("a step lacks its argument");
    long x = atol(argv[i + 1]);
    if (strcmp(s, "target") == 0) {
      a_addr.sin_port = htons((uint16_t)x);
      ++i;
      continue;
    }
    if (strcmp(s, "sleep") == 0) {
      usleep((useconds_t)x * 1000);
      ++i;
      continue;
    }
    if (strcmp(s, "poll") == 0 || strcmp(s, "select") == 0 || strcmp(s, "epollet") == 0 ||
        strcmp(s, "epolloneshot") == 0) {
      printf("%s ready=%d\n", s, wait_readable(s, (int)x));
      ++i;
      continue;
    }
    if (i + 2 >= argc) die("a step lacks its arguments");
    size_t y = (size_t)atol(argv[i + 2]);
    if (strcmp(s, "send") == 0 || strcmp(s, "sendmsg") == 0) do_send(s, (int)x, y);
    else if (strcmp(s, "sendmmsg") == 0) do_sendmmsg((int)x, y);
    else if (strcmp(s, "recv") == 0 || strcmp(s, "recvnb") == 0 || strcmp(s, "recvmsg") == 0) do_recv(s, (int)x, y);
    else if (strcmp(s, "recvmmsg") == 0) do_recvmmsg((int)x, y);
    else die("unknown step");
    i += 2;
  }
  return 0;
}
