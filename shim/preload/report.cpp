// From a failure to a count and a record (see report.h).
#include "report.h"
#include "self_ids.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netdb.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <new>
#include <string_view>

#include "call_identity.h"
#include "config_state.h"
#include "count_category.h"
#include "fdtable.h"
#include "hostnames.h"
#include "inject.h"
#include "log.h"
#include "progname.h"
#include "addr_text.h"
#include "record.h"
#include "summary.h"
#include "thread_block.h"

namespace sd {
namespace {

// Scratch space for one record, per thread and hook depth: records may be
// written from signal handlers running on a small alternate stack, so not on
// the stack, and not in static TLS either (thread_block.h); a handler's hook
// interrupting a record being written gets the next set (interpose.h: at
// most kObservedDepth hooks are observed).
struct Scratch {
  LineBuffer line;
  RecordCache cache;
  char local[128];
  char peer[128];
  char host[128];
  // The address `peer` holds the text of (peer_len 0: none): a failure that
  // repeats names the same peer, formatted once.
  sockaddr_storage peer_addr;
  socklen_t peer_len = 0;
};
struct ThreadScratch {
  Scratch depth[kObservedDepth];
};

// nullptr: no memory for it (the record is dropped, and counted). The exit
// summary writes outside any hook (depth 0). `tid`: self_tid().
Scratch* scratch(long tid) {
  void* block = thread_block(sizeof(ThreadScratch), [](void* m) { new (m) ThreadScratch(); }, tid);
  if (!block) return nullptr;
  return &static_cast<ThreadScratch*>(block)->depth[t_depth == 0 ? 0 : t_depth > kObservedDepth ? kObservedDepth - 1 : t_depth - 1];
}

std::string_view text_or_empty(const char* s) { return s ? std::string_view(s) : std::string_view(""); }

bool is_nonblocking(int fd) {
  int fl = real<Call::fcntl>()(fd, F_GETFL);
  return fl >= 0 && (fl & O_NONBLOCK);
}

// EAGAIN means "would block" on a non-blocking socket, but "your timeout
// expired" under SO_RCVTIMEO/SO_SNDTIMEO: the explanations differ.
uint32_t eagain_situation(const Outcome& f, CallClass cls, const Conn* c) {
  if (f.situation & sit_nonblocking) return sit_nonblocking;
  uint32_t timeo = cls == CallClass::send || cls == CallClass::connect ? cf_sndtimeo : cf_rcvtimeo;
  // No timeout was ever set on this socket: only O_NONBLOCK gives EAGAIN.
  if (c && !c->has(timeo) && cls != CallClass::connect) return sit_nonblocking;
  return is_nonblocking(f.fd) ? sit_nonblocking : sit_own_timeout;
}

// SO_REUSEADDR on the socket: its bind passes connections in TIME_WAIT, so
// an EADDRINUSE comes from a live socket.
bool reuseaddr_set(int fd) {
  int on = 0;
  socklen_t len = sizeof(on);
  return real<Call::getsockopt>()(fd, SOL_SOCKET, SO_REUSEADDR, &on, &len) == 0 && on != 0;
}

// An abstract unix name ("@name"): no file behind it, and it belongs to the
// network namespace, not the file system.
bool abstract_unix(const sockaddr* a, socklen_t len) {
  return a && a->sa_family == AF_UNIX && len > offsetof(sockaddr_un, sun_path) &&
         reinterpret_cast<const sockaddr_un*>(a)->sun_path[0] == '\0';
}

uint32_t kind_situation(Kind k) {
  uint32_t s = 0;
  if (is_datagram(k)) s |= sit_datagram;
  if (k == Kind::unix_stream || k == Kind::unix_dgram || k == Kind::unix_seqpacket) s |= sit_unix;
  return s;
}

// s.peer as the text of `addr`, formatted again only for another address.
const char* peer_in_scratch(const sockaddr* addr, socklen_t len, Scratch& s) {
  if (len == s.peer_len && std::memcmp(addr, &s.peer_addr, len) == 0) return s.peer;
  format_addr(addr, len, s.peer, sizeof(s.peer));
  s.peer_len = len <= sizeof(s.peer_addr) ? len : 0;
  if (s.peer_len) std::memcpy(&s.peer_addr, addr, len);
  return s.peer;
}

const char* peer_text(const Outcome& f, const Conn* c, Scratch& s, sockaddr_storage* ss, socklen_t* len) {
  if (f.addr) return peer_in_scratch(f.addr, f.addr_len, s);
  // The inet peer remembered at connect/accept costs no getpeername (and
  // outlives a reset, after which the kernel no longer tells it); a unix
  // peer is asked for (the cache keeps inet addresses only).
  if (cached_peer(c, ss, len)) return peer_in_scratch(reinterpret_cast<sockaddr*>(ss), *len, s);
  *len = sizeof(*ss);
  if (f.fd >= 0 && getpeername(f.fd, reinterpret_cast<sockaddr*>(ss), len) == 0 && *len > sizeof(sa_family_t))
    return peer_in_scratch(reinterpret_cast<sockaddr*>(ss), *len, s);
  s.peer[0] = '\0';
  s.peer_len = 0;
  return s.peer;
}

// No local address worth showing: an inet socket not bound yet (port 0), or
// one whose connect failed (the kernel keeps the port it picked, but not the
// source address it chose).
bool no_local_address(const sockaddr* a, CallClass cls) {
  if (a->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(a);
    return in->sin_port == 0 || (cls == CallClass::connect && in->sin_addr.s_addr == htonl(INADDR_ANY));
  }
  if (a->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(a);
    return in6->sin6_port == 0 || (cls == CallClass::connect && IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr));
  }
  return false;
}

// The local address of a record's socket, asking the kernel only where it is
// not known: remembered when the connection was made (connect, accept, a
// non-blocking connect's SO_ERROR), or of no use after a failed connect (the
// kernel dropped the address it picked; one bound by the program it keeps,
// so that one is asked for). Asked once, and remembered, for the rest: a
// listener, an unconnected datagram socket.
bool local_for_record(const Outcome& f, CallClass cls, const Conn* c, sockaddr_storage* out, socklen_t* len) {
  if (f.fd < 0) return false;
  if (cached_local(f.fd, out, len)) return !no_local_address(reinterpret_cast<sockaddr*>(out), cls);
  bool connect_failed = cls == CallClass::connect && f.code != EALREADY && f.code != EISCONN;
  if (connect_failed && !(c && c->has(cf_bound))) return false;
  *len = sizeof(*out);
  if (getsockname(f.fd, reinterpret_cast<sockaddr*>(out), len) != 0 || *len <= sizeof(sa_family_t)) return false;
  if (no_local_address(reinterpret_cast<sockaddr*>(out), cls)) return false;
  if (!connect_failed) remember_local(f.fd, reinterpret_cast<sockaddr*>(out), *len);
  return true;
}

}  // namespace

void report(const Outcome& f) {
  int saved_errno = errno;
  ensure_init();
  CallClass cls = f.connects ? CallClass::connect : class_of(f.call);
  Conn* conn = f.fd >= 0 ? get_conn(f.fd) : nullptr;
  // Before kind_of, which takes a closed socket's number now held by a file
  // for what it is now.
  bool closed_socket = f.kind == Kind::closed || (conn && conn->get_kind() == Kind::closed);
  Kind kind = f.kind != Kind::unknown ? f.kind : f.fd >= 0 && cls != CallClass::poll ? kind_of(f.fd) : Kind::unknown;

  // The address bind names is the local one it asked for: neither the
  // socket's (it has none after the failure) nor a peer.
  const sockaddr* bound = cls == CallClass::bind ? f.addr : nullptr;

  // What follows from an injected fault on the socket (a connect called
  // again, the EPIPE after an injected reset) is the fault's doing, marked
  // with its rule and counted as injected, at its own level; a closed
  // socket's number is clean.
  const char* rule = f.rule;
  if (!rule && conn && conn->has(cf_injected) && is_socket(conn->get_kind()))
    if (const Rule* shaped = injected_rule_of(conn)) rule = shaped->text;

  uint32_t situation = f.situation | kind_situation(kind);
  if (conn && conn->has(cf_established)) situation |= sit_established;
  if (rule) situation |= sit_injected;
  if (f.code_kind == CodeKind::errno_code && f.code == EAGAIN) situation |= eagain_situation(f, cls, conn);
  if (f.code_kind == CodeKind::errno_code && f.code == EADDRINUSE && bound && reuseaddr_set(f.fd))
    situation |= sit_reuseaddr;
  // A socket call on a descriptor the program never used as a socket is its
  // test of what the descriptor is (stdin); on one it closed, a bug.
  if (f.code_kind == CodeKind::errno_code && f.code == ENOTSOCK && !closed_socket) situation |= sit_probe;

  // The peer for the per-peer count: what the call named, or the cached one
  // (no syscall: expected-flow failures are counted on a hot-ish path). A
  // closed socket's number has no peer: its record names none either.
  sockaddr_storage ss;
  socklen_t ss_len = 0;
  const sockaddr* peer = bound ? nullptr : f.addr;
  socklen_t peer_len = bound ? 0 : f.addr_len;
  if (!peer && !bound && !closed_socket && cached_peer(conn, &ss, &ss_len)) {
    peer = reinterpret_cast<sockaddr*>(&ss);
    peer_len = ss_len;
  }
  if (abstract_unix(bound ? bound : peer, bound ? f.addr_len : peer_len)) situation |= sit_abstract;

  const Explanation* row = f.code ? explain(f.code_kind, f.code, cls, situation) : nullptr;
  Level level = f.code == 0 ? Level::trace : f.retrying ? Level::info : row ? row->level : Level::error;
  // The user asked for an injected failure: it is always recorded (its
  // notices, a delay or a short transfer, stay info: there can be many).
  if (f.rule && f.code_kind != CodeKind::event) level = Level::error;
  if (f.code != 0 && !f.retrying) count_failure(f.call, f.code_kind, f.code, level, peer, peer_len, rule != nullptr);
  if (level > config().level) {
    errno = saved_errno;
    return;
  }

  long tid = self_tid();
  Scratch* scratch_in = scratch(tid);
  if (!scratch_in) {
    count_dropped_record();
    errno = saved_errno;
    return;
  }
  Scratch& s = *scratch_in;
  RecordData r;
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  r.wall_ns = static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
  r.pid = self_pid();
  r.tid = tid;
  r.prog = program_name();
  r.level = level;
  r.call = call_name(f.call);
  r.fd = f.fd;
  r.ret = f.ret;
  r.code_kind = f.code_kind;
  r.code = f.code;
  r.notice = is_injection_notice(f.code_kind, f.code);
  r.host = text_or_empty(f.host);
  r.via = text_or_empty(f.via);
  r.injected = rule != nullptr;
  r.rule = text_or_empty(rule);
  r.retries = f.retries;
  r.retrying = f.retrying;
  r.waited_ns = f.retry_waited_ns;
  r.note = text_or_empty(f.note);
  // A fault's record says where it struck (call_identity.h): one made as
  // the fault is injected, or the failure of a non-blocking connect that
  // the program reads later (SO_ERROR, its close), while this thread's last
  // firing is still that call's.
  char conn_key[ConnIdentity::kBase + 16];
  FiringFacts fired;
  if (rule && take_firing(f.fd, rule_call(f.call), conn_key, sizeof(conn_key), &fired)) {
    r.conn = conn_key;
    r.call_n = fired.n;
    r.drawn = fired.drawn;
    r.drawn_ns = fired.drawn_ns;
  }
  if (is_socket(kind)) {
    r.kind = kind_name(kind);
    sockaddr_storage local;
    socklen_t local_len = sizeof(local);
    s.local[0] = '\0';
    if (bound) {
      format_addr(bound, f.addr_len, s.local, sizeof(s.local));
    } else if (local_for_record(f, cls, conn, &local, &local_len)) {
      format_addr(reinterpret_cast<sockaddr*>(&local), local_len, s.local, sizeof(s.local));
    }
    r.local = s.local;
    r.peer = bound ? "" : peer_text(f, conn, s, &ss, &ss_len);
    // The name the program resolved for this peer, if it did.
    if (!f.host && peer && host_of(peer, peer_len, s.host, sizeof(s.host))) r.host = s.host;
    if (conn) {
      r.have_history = true;
      r.inherited = conn->has(cf_inherited);
      r.sent = conn->tx.load(std::memory_order_relaxed);
      r.received = conn->rx.load(std::memory_order_relaxed);
      uint64_t opened = conn->opened_ns.load(std::memory_order_relaxed);
      uint64_t mono = now_mono_ns();
      r.age_ns = opened && mono > opened ? mono - opened : 0;
      if (f.peer_gone_ns && mono > f.peer_gone_ns) r.peer_gone_ago_ns = mono - f.peer_gone_ns;
    }
  } else if (bound) {
    r.local = format_addr(bound, f.addr_len, s.local, sizeof(s.local));
  } else if (f.addr) {
    r.peer = peer_text(f, conn, s, &ss, &ss_len);
  }
  if (f.code != 0) {
    r.code_name = code_name(f.code_kind, f.code);
    r.message = code_message(f.code_kind, f.code);
  }
  if (row) {
    r.explanation = row->text;
    r.advice = row->advice;
  }
  format_record(r, config().format, s.cache, s.line);
  log_write(s.line.view().data(), s.line.view().size());
  errno = saved_errno;
}

}  // namespace sd
