// A scripted socket client for the fault-injection tests: the driver names
// the calls on the command line, the program makes them in order over
// loopback and prints one line per step, "STEP key=value ...", which the
// driver parses. The bytes sent are the pattern of inject_util.h; the bytes
// received are checked against it (intact=yes|no) and summed (sum=), so a
// short transfer that lost or moved data shows.
//
// Steps (the current connection is the last one opened):
//   connect HOST PORT [LPORT]   TCP: getaddrinfo(HOST), then a blocking connect
//                               (from local port LPORT if given)
//   udp HOST PORT               a connected UDP socket
//   unix PATH                   a unix stream connection
//   resolve[/HOW] HOST          getaddrinfo only; HOW: numeric (AI_NUMERICHOST),
//                               passive (AI_PASSIVE; HOST "-" is a NULL node),
//                               inet or inet6 (that family only)
//   connects K HOST PORT        K connects, each on a new socket, closed at once
//   send[/VIA] N                send N bytes, looping on short counts
//   recv[/VIA] N CHUNK          receive up to N bytes, CHUNK at most per call,
//                               until N, end of stream or an error
//   send1 N | recv1 N           one call of N bytes
//   sockopt K                   K setsockopt calls (on the connection, or on a
//                               UDP socket of their own if there is none);
//                               prints the numbers of those that failed, and why
//   sleep MS | close | say TEXT
// VIA is write|writev|sendmsg (default send) or read|readv|recvmsg|waitall
// (default recv, waitall is recv with MSG_WAITALL).
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "inject_util.h"

static int g_fd = -1;
static uint64_t g_tx, g_rx;    // bytes moved on the current connection
static uint64_t g_sum = FNV_OFFSET;
static int g_intact = 1;

static void new_connection(int fd) {
  if (g_fd >= 0) close(g_fd);
  g_fd = fd;
  g_tx = g_rx = 0;
  g_sum = FNV_OFFSET;
  g_intact = 1;
}

static const char* gai_name(int rc) {
  switch (rc) {
    case 0: return "OK";
    case EAI_AGAIN: return "EAI_AGAIN";
    case EAI_NONAME: return "EAI_NONAME";
    case EAI_FAIL: return "EAI_FAIL";
    case EAI_SYSTEM: return errname(errno);
    default: return "EAI_OTHER";
  }
}

static int lookup(const char* host, const char* port, int type, struct addrinfo** res) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = type;
  hints.ai_flags = AI_NUMERICSERV;
  return getaddrinfo(host, port, &hints, res);
}

// A new socket connected to HOST:PORT; prints the step's line. Returns the
// fd, or -1 when the lookup or the connect failed.
static int open_connection(const char* step, const char* host, const char* port, int type, int lport) {
  long t0 = now_ms();
  struct addrinfo* res;
  int rc = lookup(host, port, type, &res);
  if (rc != 0) {
    printf("%s ret=-1 err=%s ms=%ld\n", step, gai_name(rc), now_ms() - t0);
    return -1;
  }
  int fd = socket(res->ai_family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  if (lport > 0) {
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) die("setsockopt SO_REUSEADDR");
    struct sockaddr_storage local;
    memset(&local, 0, sizeof(local));
    local.ss_family = (sa_family_t)res->ai_family;
    if (res->ai_family == AF_INET6) ((struct sockaddr_in6*)&local)->sin6_port = htons((uint16_t)lport);
    else ((struct sockaddr_in*)&local)->sin_port = htons((uint16_t)lport);
    socklen_t len = res->ai_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (struct sockaddr*)&local, len) != 0) die("bind to the local port");
  }
  int r = connect(fd, res->ai_addr, res->ai_addrlen);
  int err = errno;
  freeaddrinfo(res);
  printf("%s ret=%d err=%s ms=%ld\n", step, r, r < 0 ? errname(err) : "OK", now_ms() - t0);
  if (r < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static ssize_t send_via(const char* via, const unsigned char* buf, size_t n) {
  if (strcmp(via, "send") == 0) return send(g_fd, buf, n, MSG_NOSIGNAL);
  if (strcmp(via, "write") == 0) return write(g_fd, buf, n);
  // Three pieces of unequal size, so a short count can end in any of them.
  size_t a = n / 5, b = n / 2;
  struct iovec iov[3] = {{(void*)buf, a}, {(void*)(buf + a), b}, {(void*)(buf + a + b), n - a - b}};
  if (strcmp(via, "writev") == 0) return writev(g_fd, iov, 3);
  if (strcmp(via, "sendmsg") == 0) {
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = 3;
    return sendmsg(g_fd, &msg, MSG_NOSIGNAL);
  }
  fprintf(stderr, "unknown way to send '%s'\n", via);
  exit(2);
}

static ssize_t recv_via(const char* via, unsigned char* buf, size_t n) {
  if (strcmp(via, "recv") == 0) return recv(g_fd, buf, n, 0);
  if (strcmp(via, "waitall") == 0) return recv(g_fd, buf, n, MSG_WAITALL);
  if (strcmp(via, "read") == 0) return read(g_fd, buf, n);
  size_t a = n / 5, b = n / 2;
  struct iovec iov[3] = {{buf, a}, {buf + a, b}, {buf + a + b, n - a - b}};
  if (strcmp(via, "readv") == 0) return readv(g_fd, iov, 3);
  if (strcmp(via, "recvmsg") == 0) {
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = 3;
    return recvmsg(g_fd, &msg, 0);
  }
  fprintf(stderr, "unknown way to receive '%s'\n", via);
  exit(2);
}

static void note_received(const unsigned char* buf, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (buf[i] != pattern_byte(g_rx + i)) g_intact = 0;
  g_sum = fnv1a(g_sum, buf, n);
  g_rx += n;
}

static void step_send(size_t n, const char* via, int once) {
  unsigned char* buf = malloc(n ? n : 1);
  if (!buf) die("malloc");
  pattern_fill(buf, n, g_tx);
  long t0 = now_ms();
  size_t sent = 0, calls = 0, max = 0;
  int err = 0;
  do {
    ssize_t r = send_via(via, buf + sent, n - sent);
    ++calls;
    if (r < 0) {
      err = errno;
      break;
    }
    sent += (size_t)r;
    if ((size_t)r > max) max = (size_t)r;
  } while (!once && sent < n);
  g_tx += sent;
  printf("%s sent=%zu calls=%zu max=%zu err=%s ms=%ld\n", once ? "send1" : "send", sent, calls, max, errname(err),
         now_ms() - t0);
  free(buf);
}

static void step_recv(size_t n, size_t chunk, const char* via, int once) {
  unsigned char* buf = malloc(chunk ? chunk : 1);
  if (!buf) die("malloc");
  long t0 = now_ms();
  size_t got = 0, calls = 0, max = 0;
  const char* end = "OK";
  do {
    size_t want = n - got < chunk ? n - got : chunk;
    ssize_t r = recv_via(via, buf, want);
    ++calls;
    if (r < 0) {
      end = errname(errno);
      break;
    }
    if (r == 0) {
      end = "EOF";
      break;
    }
    note_received(buf, (size_t)r);
    got += (size_t)r;
    if ((size_t)r > max) max = (size_t)r;
  } while (!once && got < n);
  printf("%s got=%zu calls=%zu max=%zu end=%s sum=%016llx intact=%s ms=%ld\n", once ? "recv1" : "recv", got, calls,
         max, end, (unsigned long long)g_sum, g_intact ? "yes" : "no", now_ms() - t0);
  free(buf);
}

static void step_sockopt(long k) {
  int fd = g_fd >= 0 ? g_fd : socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  char failed[8192] = "", errs[8192] = "";
  size_t fl = 0, el = 0;
  for (long i = 1; i <= k; ++i) {
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) != 0) {
      if (fl + 32 > sizeof(failed) || el + 32 > sizeof(errs)) {
        fprintf(stderr, "sockopt: too many failures to list\n");
        exit(2);
      }
      fl += (size_t)snprintf(failed + fl, sizeof(failed) - fl, "%s%ld", fl ? "," : "", i);
      el += (size_t)snprintf(errs + el, sizeof(errs) - el, "%s%s", el ? "," : "", errname(errno));
    }
  }
  printf("sockopt failed=%s errs=%s\n", failed, errs);
  if (fd != g_fd) close(fd);
}

static void step_connects(long k, const char* host, const char* port) {
  printf("connects results=");
  for (long i = 1; i <= k; ++i) {
    struct addrinfo* res;
    int rc = lookup(host, port, SOCK_STREAM, &res);
    if (rc != 0) {
      printf("%s%s", i > 1 ? "," : "", gai_name(rc));
      continue;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int r = connect(fd, res->ai_addr, res->ai_addrlen);
    printf("%s%s", i > 1 ? "," : "", r < 0 ? errname(errno) : "OK");
    freeaddrinfo(res);
    close(fd);
  }
  printf("\n");
}

static void step_unix(const char* path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  struct sockaddr_un sun;
  memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
  long t0 = now_ms();
  int r = connect(fd, (struct sockaddr*)&sun, sizeof(sun));
  printf("unix ret=%d err=%s ms=%ld\n", r, r < 0 ? errname(errno) : "OK", now_ms() - t0);
  if (r < 0) close(fd);
  else new_connection(fd);
}

static void step_resolve(const char* how, const char* host) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = strcmp(how, "inet") == 0 ? AF_INET : strcmp(how, "inet6") == 0 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (strcmp(how, "numeric") == 0 ? AI_NUMERICHOST : 0) |
                   (strcmp(how, "passive") == 0 ? AI_PASSIVE : 0);
  struct addrinfo* res;
  long t0 = now_ms();
  int rc = getaddrinfo(strcmp(host, "-") == 0 ? NULL : host, "80", &hints, &res);
  printf("resolve ret=%d err=%s ms=%ld\n", rc, gai_name(rc), now_ms() - t0);
  if (rc == 0) freeaddrinfo(res);
}

static const char* arg(char** argv, int argc, int i) {
  if (i >= argc) {
    fprintf(stderr, "step '%s' lacks an argument\n", argv[i - 1]);
    exit(2);
  }
  return argv[i];
}

int main(int argc, char** argv) {
  // A send on a reset connection must come back as EPIPE, not kill the run.
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (int i = 1; i < argc; ++i) {
    const char* s = argv[i];
    if (strcmp(s, "connect") == 0 || strcmp(s, "udp") == 0) {
      const char* host = arg(argv, argc, ++i);
      const char* port = arg(argv, argc, ++i);
      int lport = 0;
      if (strcmp(s, "connect") == 0 && i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9')
        lport = atoi(argv[++i]);
      int fd = open_connection(s, host, port, strcmp(s, "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM, lport);
      if (fd >= 0) new_connection(fd);
    } else if (strcmp(s, "unix") == 0) {
      step_unix(arg(argv, argc, ++i));
    } else if (strncmp(s, "resolve", 7) == 0 && (s[7] == '\0' || s[7] == '/')) {
      step_resolve(s[7] == '/' ? s + 8 : "", arg(argv, argc, ++i));
    } else if (strcmp(s, "connects") == 0) {
      long k = atol(arg(argv, argc, ++i));
      const char* host = arg(argv, argc, ++i);
      step_connects(k, host, arg(argv, argc, ++i));
    } else if (strncmp(s, "send", 4) == 0 && (s[4] == '\0' || s[4] == '/')) {
      step_send((size_t)atol(arg(argv, argc, ++i)), s[4] == '/' ? s + 5 : "send", 0);
    } else if (strcmp(s, "send1") == 0) {
      step_send((size_t)atol(arg(argv, argc, ++i)), "send", 1);
    } else if (strncmp(s, "recv", 4) == 0 && (s[4] == '\0' || s[4] == '/')) {
      size_t n = (size_t)atol(arg(argv, argc, ++i));
      size_t chunk = (size_t)atol(arg(argv, argc, ++i));
      step_recv(n, chunk, s[4] == '/' ? s + 5 : "recv", 0);
    } else if (strcmp(s, "recv1") == 0) {
      size_t n = (size_t)atol(arg(argv, argc, ++i));
      step_recv(n, n, "recv", 1);
    } else if (strcmp(s, "sockopt") == 0) {
      step_sockopt(atol(arg(argv, argc, ++i)));
    } else if (strcmp(s, "sleep") == 0) {
      usleep((useconds_t)atol(arg(argv, argc, ++i)) * 1000);
    } else if (strcmp(s, "close") == 0) {
      long t0 = now_ms();
      int r = close(g_fd);
      printf("close ret=%d err=%s ms=%ld\n", r, r < 0 ? errname(errno) : "OK", now_ms() - t0);
      g_fd = -1;
    } else if (strcmp(s, "say") == 0) {
      printf("%s\n", arg(argv, argc, ++i));
    } else {
      fprintf(stderr, "unknown step '%s'\n", s);
      return 2;
    }
  }
  return 0;
}
