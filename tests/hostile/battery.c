/* Every hooked function called with hostile arguments: NULL, (void*)1, an
 * unmapped page, a read-only page, an object cut short by an unmapped page,
 * and counts out of range, one argument at a time with the others valid, on
 * fresh sockets of several kinds and on bad fds. The calls come from
 * shim/core/hooks.def (battery_calls.h, written by gen_battery.py); each
 * parameter's values are chosen here from its type and name, so a new hook
 * is called without any change to this file.
 *
 * Each call runs in a forked child that makes its own fixtures, so that a
 * crash, a close of every fd or a blocking call is one result line and
 * never disturbs the next call. One line per call on stdout:
 *   connect(fd=tcp, addr=unmapped, len=16) = -1 EFAULT
 *   recv(...) = signal 11
 * The driver compares the lines of a run without the library and with it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

union word {
  int i;
  unsigned int u;
  long l;
  size_t z;
  socklen_t sl;
  nfds_t nf;
  void* p;
};

struct param {
  const char* type;
  const char* name;
};

struct hook {
  const char* name;
  int returns_void;
  int nparams;
  const struct param* params;
  long (*invoke)(const union word*);
};

#include "battery_calls.h"

#define NHOOKS (sizeof(hooks) / sizeof(hooks[0]))
#define MAXP 8
#define PAGE 4096

/* ---- Values ------------------------------------------------------------ */

enum vkind {
  V_NUM,       /* a number */
  V_FD,        /* one of the fixture's fds (num: which) */
  V_VALID,     /* a valid object of the parameter's type */
  V_NULL,
  V_ONE,       /* (void*)1 */
  V_UNMAPPED,  /* an address mmap gave and munmap took back */
  V_READONLY,  /* a valid object in a read-only page */
  V_EDGE,      /* a valid object of which only the first 2 bytes are mapped */
  V_TIGHT,     /* an address buffer of 2 mapped bytes, and a length that says 2 */
  V_EMPTY,     /* valid iovecs (a msghdr's) of no byte */
};

struct value {
  enum vkind kind;
  long num;
  const char* label;
};

enum fixture_fd { FD_UNIX, FD_TCP, FD_LISTEN, FD_UDP, FD_FILE, FD_EPOLL, FD_COUNT };
static const char* const fd_labels[FD_COUNT] = {"unix", "tcp", "listener", "udp", "file", "epoll"};

#define MAXV 12
struct values {
  int n;
  struct value v[MAXV];
};

static void add(struct values* vs, enum vkind kind, long num, const char* label) {
  if (vs->n < MAXV) vs->v[vs->n++] = (struct value){kind, num, label};
}

static int is_pointer(const struct param* p) { return strchr(p->type, '*') != NULL; }
static int type_has(const struct param* p, const char* what) { return strstr(p->type, what) != NULL; }
static int named(const struct param* p, const char* name) { return strcmp(p->name, name) == 0; }
static int is_fd_param(const struct param* p) { return named(p, "fd") || named(p, "epfd"); }

/* The values of one parameter; the first is the valid one the other calls use. */
static struct values values_of(const struct hook* h, const struct param* p) {
  struct values vs = {0};
  if (is_pointer(p)) {
    /* The optional word of the fcntl family is a number to these commands. */
    add(&vs, V_VALID, 0, "valid");
    add(&vs, V_NULL, 0, "NULL");
    add(&vs, V_ONE, 0, "(void*)1");
    add(&vs, V_UNMAPPED, 0, "unmapped");
    add(&vs, V_READONLY, 0, "readonly");
    add(&vs, V_EDGE, 0, "cut-by-unmapped");
    if (type_has(p, "iovec*") || type_has(p, "msghdr*")) add(&vs, V_EMPTY, 0, "valid-0-bytes");
    if (type_has(p, "struct sockaddr*") && !type_has(p, "const")) add(&vs, V_TIGHT, 0, "2-bytes+len-2");
    return vs;
  }
  if (is_fd_param(p)) {
    if (named(p, "epfd")) add(&vs, V_FD, FD_EPOLL, fd_labels[FD_EPOLL]);
    for (int k = 0; k < FD_COUNT; ++k)
      if (!(named(p, "epfd") && k == FD_EPOLL)) add(&vs, V_FD, k, fd_labels[k]);
    add(&vs, V_NUM, -1, "-1");
    add(&vs, V_NUM, 1 << 20, "1048576");
    add(&vs, V_NUM, INT_MIN, "INT_MIN");
    return vs;
  }
  (void)h;
  const char* t = p->type;
  if (named(p, "newfd")) {
    add(&vs, V_NUM, 200, "200");
    add(&vs, V_NUM, -1, "-1");
    add(&vs, V_NUM, 1 << 30, "1<<30");
  } else if (named(p, "lowfd") || named(p, "first")) {
    add(&vs, V_NUM, 3, "3");
    add(&vs, V_NUM, -1, "-1");
    add(&vs, V_NUM, INT_MAX, "INT_MAX");
  } else if (named(p, "last")) {
    add(&vs, V_NUM, (long)~0u, "~0");
    add(&vs, V_NUM, 0, "0");
  } else if (named(p, "len") && !strcmp(t, "socklen_t")) {
    add(&vs, V_NUM, sizeof(struct sockaddr_in), "16");
    add(&vs, V_NUM, 0, "0");
    add(&vs, V_NUM, 1, "1");
    add(&vs, V_NUM, sizeof(struct sockaddr_storage) + 1, "129");
    add(&vs, V_NUM, 0x7fffffff, "0x7fffffff");
    add(&vs, V_NUM, (long)0xffffffffu, "0xffffffff");
  } else if (named(p, "buflen")) {
    add(&vs, V_NUM, PAGE, "4096");
    add(&vs, V_NUM, 0, "0");
  } else if (named(p, "fdslen")) {
    add(&vs, V_NUM, 2 * sizeof(struct pollfd), "16");
    add(&vs, V_NUM, 0, "0");
  } else if (!strcmp(t, "size_t")) {
    add(&vs, V_NUM, 64, "64");
    add(&vs, V_NUM, 0, "0");
    add(&vs, V_NUM, PAGE + 1, "4097");
    add(&vs, V_NUM, (long)SSIZE_MAX, "SSIZE_MAX");
    add(&vs, V_NUM, (long)((size_t)SSIZE_MAX + 1), "SSIZE_MAX+1");
    add(&vs, V_NUM, (long)SIZE_MAX, "SIZE_MAX");
  } else if (!strcmp(t, "nfds_t")) {
    add(&vs, V_NUM, 2, "2");
    add(&vs, V_NUM, 0, "0");
    add(&vs, V_NUM, 1 << 20, "1048576");
    add(&vs, V_NUM, -1, "~0");
  } else if (named(p, "iovcnt") || named(p, "vlen")) {
    add(&vs, V_NUM, 2, "2");
    add(&vs, V_NUM, 0, "0");
    add(&vs, V_NUM, -1, "-1");
    add(&vs, V_NUM, 1024, "1024");
    add(&vs, V_NUM, 1025, "1025");
    add(&vs, V_NUM, INT_MAX, "INT_MAX");
  } else if (named(p, "timeout")) {
    add(&vs, V_NUM, 0, "0");  /* a negative one would wait forever */
  } else if (named(p, "max")) {
    add(&vs, V_NUM, 4, "4");
    add(&vs, V_NUM, 0, "0");
    add(&vs, V_NUM, -1, "-1");
    add(&vs, V_NUM, INT_MAX, "INT_MAX");
  } else if (named(p, "n")) { /* select's highest fd + 1 */
    add(&vs, V_NUM, 64, "64");
    add(&vs, V_NUM, -1, "-1");
    add(&vs, V_NUM, 1025, "1025");
    add(&vs, V_NUM, INT_MAX, "INT_MAX");
  } else if (named(p, "domain")) {
    add(&vs, V_NUM, AF_UNIX, "AF_UNIX");
    add(&vs, V_NUM, AF_INET, "AF_INET");
    add(&vs, V_NUM, -1, "-1");
    add(&vs, V_NUM, 12345, "12345");
  } else if (named(p, "type")) {
    add(&vs, V_NUM, SOCK_STREAM | SOCK_NONBLOCK, "SOCK_STREAM|SOCK_NONBLOCK");
    add(&vs, V_NUM, SOCK_DGRAM, "SOCK_DGRAM");
    add(&vs, V_NUM, -1, "-1");
  } else if (named(p, "backlog")) {
    add(&vs, V_NUM, 1, "1");
    add(&vs, V_NUM, -1, "-1");
    add(&vs, V_NUM, INT_MAX, "INT_MAX");
  } else if (named(p, "how")) {
    add(&vs, V_NUM, SHUT_RDWR, "SHUT_RDWR");
    add(&vs, V_NUM, -1, "-1");
    add(&vs, V_NUM, 3, "3");
  } else if (named(p, "level")) {
    add(&vs, V_NUM, SOL_SOCKET, "SOL_SOCKET");
    add(&vs, V_NUM, -1, "-1");
  } else if (named(p, "name")) {
    add(&vs, V_NUM, SO_RCVTIMEO, "SO_RCVTIMEO");
    add(&vs, V_NUM, SO_ERROR, "SO_ERROR");
    add(&vs, V_NUM, -1, "-1");
  } else if (named(p, "op")) {
    add(&vs, V_NUM, EPOLL_CTL_ADD, "EPOLL_CTL_ADD");
    add(&vs, V_NUM, EPOLL_CTL_MOD, "EPOLL_CTL_MOD");
    add(&vs, V_NUM, -1, "-1");
  } else if (named(p, "cmd")) {
    add(&vs, V_NUM, F_DUPFD, "F_DUPFD");
    add(&vs, V_NUM, F_DUPFD_CLOEXEC, "F_DUPFD_CLOEXEC");
    add(&vs, V_NUM, F_GETFL, "F_GETFL");
    add(&vs, V_NUM, F_SETLK, "F_SETLK");
    add(&vs, V_NUM, -1, "-1");
  } else if (named(p, "arg")) {
    add(&vs, V_NUM, 0, "0");
    add(&vs, V_NUM, 1, "1");
    add(&vs, V_NUM, -1, "-1");
    add(&vs, V_NUM, 1L << 30, "1<<30");
  } else if (!strcmp(t, "unsigned int")) {
    add(&vs, V_NUM, 0, "0");
    add(&vs, V_NUM, (long)UINT_MAX, "UINT_MAX");
  } else { /* int flags, protocol, and any int a new hook brings */
    add(&vs, V_NUM, 0, "0");
    add(&vs, V_NUM, -1, "-1");
    add(&vs, V_NUM, INT_MAX, "INT_MAX");
    add(&vs, V_NUM, INT_MIN, "INT_MIN");
  }
  return vs;
}

/* ---- Fixtures (made in each child) ----------------------------------- */

struct fixture {
  int fd[FD_COUNT];
  struct sockaddr_in refused;  /* a loopback port bound, never listening */
  char* aux;                   /* valid memory that valid objects point into */
};

static void die(const char* what) {
  perror(what);
  _exit(120);
}

static void make_fixture(struct fixture* fx) {
  int sv[2];
  /* A connected pair with 5 bytes waiting: reads have something to copy. */
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) die("socketpair");
  /* One byte at a time where a rule shortens writes. */
  for (const char* b = "hello"; *b;) {
    ssize_t n = write(sv[1], b, strlen(b));
    if (n <= 0) die("write");
    b += n;
  }
  fx->fd[FD_UNIX] = sv[0];
  /* Blocking, never connected: connect to the refused port fails at once. */
  fx->fd[FD_TCP] = socket(AF_INET, SOCK_STREAM, 0);
  int holder = socket(AF_INET, SOCK_STREAM, 0);
  memset(&fx->refused, 0, sizeof(fx->refused));
  fx->refused.sin_family = AF_INET;
  fx->refused.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(fx->refused);
  if (holder < 0 || bind(holder, (struct sockaddr*)&fx->refused, len) != 0 ||
      getsockname(holder, (struct sockaddr*)&fx->refused, &len) != 0)
    die("refused port");
  /* Non-blocking, with one connection waiting to be accepted. */
  fx->fd[FD_LISTEN] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in la = fx->refused;
  la.sin_port = 0;
  len = sizeof(la);
  if (bind(fx->fd[FD_LISTEN], (struct sockaddr*)&la, len) != 0 || listen(fx->fd[FD_LISTEN], 4) != 0 ||
      getsockname(fx->fd[FD_LISTEN], (struct sockaddr*)&la, &len) != 0)
    die("listener");
  int client = socket(AF_INET, SOCK_STREAM, 0);
  if (client < 0 || connect(client, (struct sockaddr*)&la, len) != 0) die("client");
  fx->fd[FD_UDP] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  fx->fd[FD_FILE] = open("/dev/null", O_RDWR);
  fx->fd[FD_EPOLL] = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data = {.fd = sv[0]}};
  if (epoll_ctl(fx->fd[FD_EPOLL], EPOLL_CTL_ADD, sv[0], &ev) != 0) die("epoll_ctl");
  for (int k = 0; k < FD_COUNT; ++k)
    if (fx->fd[k] < 0) die(fd_labels[k]);
  fx->aux = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (fx->aux == MAP_FAILED) die("mmap");
  memset(fx->aux, 'x', PAGE);
}

/* Two pages, the second unmapped: objects end where the mapping ends. */
static char* guarded_page(void) {
  char* p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) die("mmap");
  munmap(p + PAGE, PAGE);
  memset(p, 0, PAGE);
  return p;
}

/* A valid object of the parameter's type at `at` (room to the page's end). */
static void fill_valid(const struct param* p, char* at, size_t room, const struct fixture* fx, socklen_t addr_len,
                       size_t iov_len) {
  char* aux = fx->aux;
  struct iovec* aux_iov = (struct iovec*)(aux + 2048);
  aux_iov[0] = (struct iovec){aux, iov_len};
  aux_iov[1] = (struct iovec){aux + 32, iov_len};
  if (type_has(p, "socklen_t*")) {
    *(socklen_t*)at = addr_len;
  } else if (type_has(p, "sockaddr*")) {
    if (type_has(p, "const")) memcpy(at, &fx->refused, sizeof(fx->refused));
  } else if (type_has(p, "mmsghdr*")) {
    struct mmsghdr* m = (struct mmsghdr*)at;
    for (int i = 0; i < 2; ++i) m[i].msg_hdr = (struct msghdr){.msg_iov = aux_iov, .msg_iovlen = 2};
  } else if (type_has(p, "msghdr*")) {
    *(struct msghdr*)at = (struct msghdr){.msg_iov = aux_iov, .msg_iovlen = 2};
  } else if (type_has(p, "iovec*")) {
    memcpy(at, aux_iov, 2 * sizeof(struct iovec));
  } else if (type_has(p, "pollfd*")) {
    struct pollfd* f = (struct pollfd*)at;
    f[0] = (struct pollfd){fx->fd[FD_UNIX], POLLIN, 0};
    f[1] = (struct pollfd){fx->fd[FD_UDP], POLLIN, 0};
  } else if (type_has(p, "fd_set*")) {
    FD_SET(fx->fd[FD_UNIX], (fd_set*)at);
  } else if (type_has(p, "epoll_event*")) {
    ((struct epoll_event*)at)->events = EPOLLIN;
  } else if (type_has(p, "addrinfo**")) {
    /* zero: a null result pointer */
  } else if (type_has(p, "addrinfo*")) {
    struct addrinfo* hints = (struct addrinfo*)at;
    hints->ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    hints->ai_family = AF_INET;
    hints->ai_socktype = SOCK_STREAM;
  } else if (type_has(p, "char*")) {
    strcpy(at, named(p, "node") ? "127.0.0.1" : "80");
  } else if (type_has(p, "timeval*") || type_has(p, "timespec*") || type_has(p, "sigset_t*")) {
    /* zero: a timeout that does not wait, an empty signal mask */
  } else if (type_has(p, "const void*")) {
    /* setsockopt's value (a timeval) or bytes to send */
    if (named(p, "val")) ((struct timeval*)at)->tv_sec = 1;
    else memset(at, 'y', room);
  }
}

/* The argument word of parameter i for value v. */
static union word make_arg(const struct param* p, const struct value* v, const struct fixture* fx, int tight) {
  union word w;
  memset(&w, 0, sizeof(w));
  if (!is_pointer(p)) {
    long n = v->kind == V_FD ? fx->fd[v->num] : v->num;
    if (tight && !strcmp(p->type, "socklen_t")) n = 2;
    if (!strcmp(p->type, "int")) w.i = (int)n;
    else if (!strcmp(p->type, "unsigned int")) w.u = (unsigned int)n;
    else if (!strcmp(p->type, "size_t")) w.z = (size_t)n;
    else if (!strcmp(p->type, "socklen_t")) w.sl = (socklen_t)n;
    else if (!strcmp(p->type, "nfds_t")) w.nf = (nfds_t)n;
    else w.l = n;
    return w;
  }
  socklen_t addr_len = tight ? 2 : sizeof(struct sockaddr_storage);
  switch (v->kind) {
    case V_NULL: w.p = NULL; break;
    case V_ONE: w.p = (void*)1; break;
    case V_UNMAPPED: {
      char* g = guarded_page();
      w.p = g + PAGE;
      break;
    }
    case V_EDGE:
    case V_TIGHT: {
      /* The valid object, of which the first 2 bytes fit before the hole. */
      char* g = guarded_page();
      char* whole = guarded_page();
      fill_valid(p, whole, PAGE, fx, addr_len, 32);
      memcpy(g + PAGE - 2, whole, 2);
      w.p = g + PAGE - 2;
      break;
    }
    case V_READONLY:
    case V_VALID:
    case V_EMPTY:
    default: {
      char* g = guarded_page();
      fill_valid(p, g, PAGE, fx, addr_len, v->kind == V_EMPTY ? 0 : 32);
      if (v->kind == V_READONLY) mprotect(g, PAGE, PROT_READ);
      w.p = g;
      break;
    }
  }
  return w;
}

/* ---- Running one call -------------------------------------------------- */

struct outcome {
  long ret;
  int err;
  int done;
};

static struct outcome* g_out;  /* shared with the children */

static void print_errno(int err) {
  const char* name = strerrorname_np(err);
  if (name) printf("%s", name);
  else printf("errno %d", err);
}

static void run_call(const struct hook* h, const struct value* chosen[MAXP]) {
  printf("%s(", h->name);
  for (int i = 0; i < h->nparams; ++i) printf("%s%s=%s", i ? ", " : "", h->params[i].name, chosen[i]->label);
  printf(") = ");
  fflush(stdout);
  memset(g_out, 0, sizeof(*g_out));
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    alarm(5);  /* a call that blocks is a result ("signal 14"), not a hang */
    struct fixture fx;
    make_fixture(&fx);
    union word a[MAXP];
    for (int i = 0; i < h->nparams; ++i) {
      int tight = i > 0 && chosen[i - 1]->kind == V_TIGHT;
      a[i] = make_arg(&h->params[i], chosen[i], &fx, tight);
    }
    errno = 0;
    long r = h->invoke(a);
    g_out->err = errno;
    g_out->ret = r;
    g_out->done = 1;
    _exit(0);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) die("waitpid");
  if (WIFSIGNALED(status)) {
    printf("signal %d\n", WTERMSIG(status));
  } else if (!g_out->done) {
    printf("exit %d\n", WEXITSTATUS(status));
  } else if (h->returns_void) {
    printf("void\n");
  } else if (g_out->ret < 0) {
    printf("%ld ", g_out->ret);
    print_errno(g_out->err);
    printf("\n");
  } else {
    printf("%ld\n", g_out->ret);
  }
  fflush(stdout);
}

int main(int argc, char** argv) {
  /* battery [NAME]: only the hook NAME (for a quick look at one). */
  const char* only = argc > 1 ? argv[1] : NULL;
  g_out = mmap(NULL, sizeof(*g_out), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (g_out == MAP_FAILED) die("mmap");
  static const struct value subjects[] = {
      {V_FD, FD_UNIX, "unix"}, {V_FD, FD_TCP, "tcp"}, {V_FD, FD_UDP, "udp"}, {V_FD, FD_LISTEN, "listener"}};
  const int nsubjects_of_fd = sizeof(subjects) / sizeof(subjects[0]);
  int calls = 0;
  for (size_t k = 0; k < NHOOKS; ++k) {
    const struct hook* h = &hooks[k];
    if (only && strcmp(only, h->name) != 0) continue;
    struct values vs[MAXP];
    for (int i = 0; i < h->nparams; ++i) vs[i] = values_of(h, &h->params[i]);
    /* Each parameter's values in turn, the others valid. A call on an fd
     * named `fd` (its first parameter) tries every fd value with the others
     * valid, and the others' values on a unix, a TCP, a UDP and a listening
     * socket (with a connection waiting: accept succeeds). */
    int has_subject = h->nparams > 0 && named(&h->params[0], "fd");
    const struct value* chosen[MAXP];
    if (!has_subject) {
      for (int m = 0; m < h->nparams; ++m) chosen[m] = &vs[m].v[0];
      run_call(h, chosen);
      ++calls;
    }
    for (int i = 0; i < h->nparams; ++i) {
      int subject_param = has_subject && i == 0;
      int nsubjects = has_subject && !subject_param ? nsubjects_of_fd : 1;
      for (int s = 0; s < nsubjects; ++s) {
        for (int j = subject_param ? 0 : 1; j < vs[i].n; ++j) {
          for (int m = 0; m < h->nparams; ++m) chosen[m] = &vs[m].v[0];
          if (has_subject && !subject_param) chosen[0] = &subjects[s];
          chosen[i] = &vs[i].v[j];
          run_call(h, chosen);
          ++calls;
        }
      }
    }
  }
  fprintf(stderr, "battery: %d calls\n", calls);
  return calls > 0 ? 0 : 1;
}
