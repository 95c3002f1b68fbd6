// strace's lines to records (see trace_reader.h). The library's observers
// (shim/preload/observe*.h) decide the same things from inside the process;
// this file decides them from what strace printed, call by call, keeping for
// each process what the library's fd table keeps: each socket's kind, peer,
// state and history.
#include "trace_reader.h"

#include <netinet/in.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

#include "addr_text.h"
#include "calls.h"
#include "count_category.h"
#include "explain.h"
#include "line_buffer.h"
#include "record.h"
#include "strace_args.h"
#include "strace_line.h"
#include "tree_summary.h"

namespace sdcli {

namespace {

using sd::CallClass;
using sd::CodeKind;
using sd::Level;

// What the reader keeps of one socket, as the library's Conn does.
struct Sock {
  std::string kind;  // "tcp4", "unix-stream"...; "" until known
  unsigned long inode = 0;
  bool nonblocking = false, cloexec = false;
  bool established = false, connect_pending = false, err_pending = false;
  bool eof_seen = false, peer_closed = false, shut_rd = false, shut_wr = false;
  bool rcvtimeo = false, sndtimeo = false, reuseaddr = false, bound = false;
  sockaddr_storage peer{};
  socklen_t peer_len = 0;
  int64_t opened_us = 0, peer_gone_us = 0;
  uint64_t sent = 0, received = 0;
  bool made = false;  // its making was read (socket, accept, socketpair, dup)
};

// One process's descriptors, shared by its threads (and by children cloned
// with CLONE_FILES).
struct FdTable {
  std::unordered_map<int, Sock> socks;
  // The socket a number named before the current one, while its close has
  // not been read: strace writes each thread's lines as it handles them, so
  // another thread's socket() may come out before the close that freed its
  // number, and the last calls on the old socket after that socket().
  std::unordered_map<int, Sock> older;
  std::unordered_map<int, std::unordered_map<uint64_t, int>> epoll;  // epoll fd -> data -> fd
  std::unordered_map<int, bool> closed;  // numbers of sockets the program closed
};

struct Proc {
  long pid = 0;
  std::string prog = "?";
  std::shared_ptr<FdTable> fds = std::make_shared<FdTable>();
};

// How an event surfaced and what else the record needs, as the library's Outcome.
struct Event {
  std::string_view call;
  CallClass cls = CallClass::any;
  int fd = -1;
  long ret = -1;
  CodeKind code_kind = CodeKind::errno_code;
  int code = 0;
  uint32_t situation = 0;
  const sockaddr* addr = nullptr;  // what the call named (connect, sendto); bind's local address
  socklen_t addr_len = 0;
  bool addr_is_local = false;  // bind
  std::string_view via;
  std::string_view rule;  // the injection rule, when strace injected it
  bool closed_socket = false;
  int64_t peer_gone_us = -1;  // when the peer was seen gone before this call; -1: the socket's
};

bool is_stream(const std::string& kind) {
  return kind == "tcp4" || kind == "tcp6" || kind == "unix-stream" || kind == "unix-seqpacket";
}

uint32_t kind_situation(std::string_view k) {
  uint32_t s = 0;
  if (k == "udp4" || k == "udp6" || k == "unix-dgram") s |= sd::sit_datagram;
  if (k.substr(0, 5) == "unix-") s |= sd::sit_unix;
  return s;
}

// The record's kind of a socket, from socket()'s domain and type.
std::string kind_from(int domain, int type) {
  bool v6 = domain == AF_INET6;
  switch (domain) {
    case AF_INET:
    case AF_INET6:
      if (type == SOCK_STREAM) return v6 ? "tcp6" : "tcp4";
      if (type == SOCK_DGRAM) return v6 ? "udp6" : "udp4";
      if (type == SOCK_RAW) return v6 ? "raw6" : "raw4";
      return "socket";
    case AF_UNIX:
      return type == SOCK_STREAM ? "unix-stream" : type == SOCK_DGRAM ? "unix-dgram" : "unix-seqpacket";
    case AF_NETLINK:
      return "netlink";
    default:
      return "socket";
  }
}

int domain_named(std::string_view s) {
  if (s == "AF_INET" || s == "PF_INET") return AF_INET;
  if (s == "AF_INET6" || s == "PF_INET6") return AF_INET6;
  if (s == "AF_UNIX" || s == "AF_LOCAL" || s == "PF_UNIX" || s == "PF_LOCAL") return AF_UNIX;
  if (s == "AF_NETLINK" || s == "PF_NETLINK") return AF_NETLINK;
  return -1;
}

int type_named(std::string_view flags) {
  std::string_view first = flags.substr(0, flags.find('|'));
  if (first == "SOCK_STREAM") return SOCK_STREAM;
  if (first == "SOCK_DGRAM") return SOCK_DGRAM;
  if (first == "SOCK_SEQPACKET") return SOCK_SEQPACKET;
  if (first == "SOCK_RAW") return SOCK_RAW;
  return -1;
}

// The explanation class of a system call: the hooked libc call of the same
// name, or the one the system call serves.
CallClass class_of_syscall(std::string_view name) {
  // Built once: every line asks.
  static const std::unordered_map<std::string_view, CallClass> classes = [] {
    std::unordered_map<std::string_view, CallClass> m;
    for (std::size_t i = 0; i < sd::kCallCount; ++i) m[sd::kHookNames[i]] = sd::class_of(static_cast<sd::Call>(i));
    m["pselect6"] = m["epoll_pwait2"] = CallClass::poll;
    return m;
  }();
  auto it = classes.find(name);
  return it == classes.end() ? CallClass::any : it->second;
}

// The system call as the program called it, where libc makes one call of
// another: recv is recvfrom without an address, send is sendto without one,
// select is pselect6 without a signal mask. Records name the call, as the
// library's do for the same program.
std::string_view call_as_named(std::string_view name, const ArgList& a) {
  if (name == "recvfrom" && a[4] == "NULL") return "recv";
  if (name == "sendto" && a[4] == "NULL") return "send";
  if (name == "pselect6" && a[5] == "NULL") return "select";
  return name;
}

// glibc asks nscd (name service cache daemon) whether it runs before each
// user or host look-up: a failed connect to its socket is libc's own test,
// which the library never sees either (libc calls itself there).
bool nscd_probe(const sockaddr_storage& a, socklen_t len) {
  if (a.ss_family != AF_UNIX || len <= offsetof(sockaddr_un, sun_path)) return false;
  std::string_view path(reinterpret_cast<const sockaddr_un&>(a).sun_path);
  return path == "/var/run/nscd/socket" || path == "/run/nscd/socket";
}

bool restart_code(std::string_view e) {
  return e == "ERESTARTSYS" || e == "ERESTARTNOINTR" || e == "ERESTARTNOHAND" || e == "ERESTART_RESTARTBLOCK";
}

// A socket as its maker's flags (SOCK_NONBLOCK, SOCK_CLOEXEC) leave it.
Sock made(std::string kind, std::string_view flags, std::string_view decoding, int64_t wall_us) {
  Sock s;
  s.kind = std::move(kind);
  s.inode = socket_inode(decoding);
  s.nonblocking = has_flag(flags, "SOCK_NONBLOCK");
  s.cloexec = has_flag(flags, "SOCK_CLOEXEC");
  s.opened_us = wall_us;
  return s;
}

std::string basename_of(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

}  // namespace

struct TraceReader::State {
  sd::Config config;
  TraceOutput out;
  LineJoiner joiner;
  std::string partial;  // a line not ended yet
  uint64_t lines = 0, not_understood = 0;
  bool root_ended = false;
  long first_tid = 0;
  std::unordered_map<long, Proc> procs;  // by pid
  std::unordered_map<long, long> pid_of;  // tid -> pid
  // A call strace shows ended by ERESTART*: the program saw EINTR unless
  // the kernel restarted it, which the thread's next line tells.
  std::unordered_map<long, std::string> held;  // tid -> the line
  sd::LineBuffer buf;
  sd::RecordCache cache;
  char local_text[128], peer_text[128];

  State(const sd::Config& c, TraceOutput o) : config(c), out(std::move(o)) {}

  void line(std::string_view text);
  void handle(const StraceLine& l);
  Proc& proc_of(long tid);
  void call(Proc& p, const StraceLine& l);
  void emit(Proc& p, long tid, int64_t wall_us, Sock* s, const Event& e);
  Sock* sock_at(Proc& p, int fd, std::string_view decoding, int64_t wall_us);
  void socket_event(Proc& p, long tid, int64_t wall_us, int fd, std::string_view call, bool err, bool hup);
  void forget(Proc& p, int fd, const Sock* s);
  Sock& track(Proc& p, int fd, const Sock& s, const StraceLine& l, Event e, bool record = true);
  void process_ended(long tid);
};

TraceReader::TraceReader(const sd::Config& config, TraceOutput output)
    : state_(std::make_unique<State>(config, std::move(output))) {
  if (state_->out.summary)
    for (const auto& [call, rule] : state_->out.rule_of_syscall) state_->out.summary->add_rule(rule);
}
TraceReader::~TraceReader() = default;

uint64_t TraceReader::lines() const { return state_->lines; }
uint64_t TraceReader::not_understood() const { return state_->not_understood; }
bool TraceReader::root_ended() const { return state_->root_ended; }

void TraceReader::feed(const char* data, std::size_t n) {
  State& st = *state_;
  std::string_view in(data, n);
  while (!in.empty()) {
    std::size_t nl = in.find('\n');
    if (nl == std::string_view::npos) {
      st.partial.append(in);
      return;
    }
    if (st.partial.empty()) {
      st.line(in.substr(0, nl));
    } else {
      st.partial.append(in.substr(0, nl));
      std::string whole;
      whole.swap(st.partial);
      st.line(whole);
    }
    in.remove_prefix(nl + 1);
  }
}

void TraceReader::finish() {
  State& st = *state_;
  if (!st.partial.empty()) {
    ++st.lines;
    ++st.not_understood;
    st.partial.clear();
  }
  // Calls held for their restart never got an answer: nothing is said of them.
  st.held.clear();
  if (st.out.summary) st.out.summary->add_not_understood(st.not_understood);
}

void TraceReader::State::line(std::string_view text) {
  ++lines;
  std::string_view joined = joiner.feed(text);
  if (joined.empty()) return;  // the first half of a call
  StraceLine l;
  if (!parse_strace_line(joined, &l) || l.type == StraceLine::Type::unfinished ||
      l.type == StraceLine::Type::resumed) {
    ++not_understood;
    return;
  }
  if (l.tid == 0) l.tid = out.root_pid;
  // A call ended by ERESTART*, held: the thread's next call says whether
  // it was restarted (the same call again) or returned EINTR.
  auto h = held.find(l.tid);
  if (h != held.end() && l.type != StraceLine::Type::signal) {
    std::string held_line = std::move(h->second);
    held.erase(h);
    StraceLine old;
    if (parse_strace_line(held_line, &old)) {
      if (old.tid == 0) old.tid = out.root_pid;
      bool restarted = l.type == StraceLine::Type::call && (l.name == old.name || l.name == "restart_syscall");
      if (!restarted && l.type == StraceLine::Type::call) {
        old.returned = true;
        old.ret = -1;
        old.error = "EINTR";
        handle(old);
      }
    }
  }
  if (l.type == StraceLine::Type::call && restart_code(l.error)) {
    if (l.error != "ERESTARTNOINTR") held[l.tid].assign(joined);
    return;
  }
  handle(l);
}

Proc& TraceReader::State::proc_of(long tid) {
  auto known = pid_of.find(tid);
  if (known != pid_of.end()) {
    auto p = procs.find(known->second);
    if (p != procs.end()) return p->second;
  }
  if (!first_tid) first_tid = tid;
  // A thread or process whose creation has not been read yet (its parent's
  // clone is still unfinished): the clone's flags say which.
  Proc* parent = nullptr;
  bool thread = false;
  for (auto& [ptid, half] : joiner.pending()) {
    const std::string& n = half.name;
    if (n != "clone" && n != "clone3" && n != "fork" && n != "vfork") continue;
    auto pp = pid_of.find(ptid);
    if (pp == pid_of.end()) continue;
    auto pr = procs.find(pp->second);
    if (pr == procs.end()) continue;
    parent = &pr->second;
    thread = half.start.find("CLONE_THREAD") != std::string::npos;
    break;
  }
  if (parent && thread) {
    pid_of[tid] = parent->pid;
    return *parent;
  }
  Proc child;
  child.pid = tid;
  if (parent) {
    child.prog = parent->prog;
    child.fds = std::make_shared<FdTable>(*parent->fds);
  }
  pid_of[tid] = tid;
  return procs[tid] = std::move(child);
}

void TraceReader::State::handle(const StraceLine& l) {
  switch (l.type) {
    case StraceLine::Type::call: {
      Proc& p = proc_of(l.tid);
      call(p, l);
      return;
    }
    case StraceLine::Type::exited:
    case StraceLine::Type::killed:
      process_ended(l.tid);
      return;
    case StraceLine::Type::signal:
    case StraceLine::Type::superseded:
      return;
    default:
      ++not_understood;
  }
}

void TraceReader::State::process_ended(long tid) {
  if (tid == out.root_pid && tid != 0) root_ended = true;
  joiner.forget(tid);
  held.erase(tid);
  auto it = pid_of.find(tid);
  if (it == pid_of.end()) return;
  long pid = it->second;
  pid_of.erase(it);
  // The leader's end is the process's: its pid may be used again.
  if (pid == tid) procs.erase(pid);
}

Sock* TraceReader::State::sock_at(Proc& p, int fd, std::string_view decoding, int64_t wall_us) {
  auto& socks = p.fds->socks;
  auto it = socks.find(fd);
  unsigned long inode = socket_inode(decoding);
  if (names_non_socket(decoding)) {
    // open() is not traced: the number now names a file.
    if (it != socks.end()) socks.erase(it);
    p.fds->older.erase(fd);
    return nullptr;
  }
  if (it != socks.end() && (!inode || it->second.inode == inode || !it->second.inode)) {
    if (inode) it->second.inode = inode;
    return &it->second;
  }
  if (!inode) return nullptr;
  auto old = p.fds->older.find(fd);
  if (old != p.fds->older.end() && old->second.inode == inode) return &old->second;
  // A socket never seen made (inherited, received, made before the trace
  // began): its history starts here, its kind is the kernel's.
  Sock s;
  s.inode = inode;
  s.opened_us = wall_us;
  SocketFacts f;
  if (out.facts_of && out.facts_of(p.pid, fd, inode, &f) && f.domain) s.kind = kind_from(f.domain, f.type);
  if (s.kind.empty()) s.kind = "socket";
  p.fds->closed.erase(fd);
  // The number's current socket was seen made and not closed: this line is
  // about another one, out of order; the current one stays.
  if (it != socks.end() && it->second.made) return &(p.fds->older[fd] = std::move(s));
  return &(socks[fd] = std::move(s));
}

// A socket the program just made (socket, socketpair, accept): kept, and
// recorded at trace level.
Sock& TraceReader::State::track(Proc& p, int fd, const Sock& s, const StraceLine& l, Event e, bool record) {
  auto current = p.fds->socks.find(fd);
  if (current != p.fds->socks.end() && current->second.made && current->second.inode != s.inode)
    p.fds->older[fd] = std::move(current->second);  // its close is still to come
  Sock& kept = p.fds->socks[fd] = s;
  kept.made = true;
  p.fds->closed.erase(fd);
  if (record && config.level >= Level::trace) {
    e.fd = fd;
    e.code = 0;
    emit(p, l.tid, l.wall_us, &kept, e);
  }
  return kept;
}

// The number is closed: `s` is the socket it named (nullptr: no socket).
// The close of the socket before the current one leaves the current one.
void TraceReader::State::forget(Proc& p, int fd, const Sock* s) {
  auto old = p.fds->older.find(fd);
  if (s && old != p.fds->older.end() && s == &old->second) {
    p.fds->older.erase(old);
    return;
  }
  p.fds->socks.erase(fd);
  p.fds->epoll.erase(fd);
  if (s) p.fds->closed[fd] = true;
  else p.fds->closed.erase(fd);
}

void TraceReader::State::emit(Proc& p, long tid, int64_t wall_us, Sock* s, const Event& e) {
  std::string_view kind = s && !e.closed_socket ? std::string_view(s->kind) : std::string_view();
  uint32_t situation = e.situation | kind_situation(kind);
  if (s && s->established) situation |= sd::sit_established;
  if (!e.rule.empty()) situation |= sd::sit_injected;
  bool errno_code = e.code_kind == CodeKind::errno_code;
  if (errno_code && e.code == EAGAIN && !(situation & sd::sit_nonblocking)) {
    bool timeo = s && (e.cls == CallClass::send || e.cls == CallClass::connect ? s->sndtimeo : s->rcvtimeo);
    situation |= s && s->nonblocking ? sd::sit_nonblocking : timeo ? sd::sit_own_timeout : sd::sit_nonblocking;
  }
  if (errno_code && e.code == EADDRINUSE && e.addr_is_local && s && s->reuseaddr) situation |= sd::sit_reuseaddr;
  if (errno_code && e.code == ENOTSOCK && !e.closed_socket) situation |= sd::sit_probe;
  if (s && s->peer_closed && e.code_kind == CodeKind::event) situation |= sd::sit_after_error;
  if (s && s->shut_rd && e.code_kind == CodeKind::event) situation |= sd::sit_own_shutdown;

  // The peer: what the call named, or the socket's own.
  const sockaddr* peer = e.addr_is_local ? nullptr : e.addr;
  socklen_t peer_len = e.addr_is_local ? 0 : e.addr_len;
  if (!peer && !e.addr_is_local && s && !e.closed_socket && s->peer_len) {
    peer = reinterpret_cast<const sockaddr*>(&s->peer);
    peer_len = s->peer_len;
  }
  const sockaddr* named = e.addr_is_local ? e.addr : peer;
  if (named && named->sa_family == AF_UNIX && e.addr_len > offsetof(sockaddr_un, sun_path) &&
      reinterpret_cast<const sockaddr_un*>(named)->sun_path[0] == '\0' && (e.addr_is_local || e.addr))
    situation |= sd::sit_abstract;

  const sd::Explanation* row = e.code ? sd::explain(e.code_kind, e.code, e.cls, situation) : nullptr;
  Level level = e.code == 0 ? Level::trace : row ? row->level : Level::error;
  if (!e.rule.empty() && e.code_kind != CodeKind::event) level = Level::error;
  peer_text[0] = '\0';
  if (peer) sd::format_addr(peer, peer_len, peer_text, sizeof(peer_text));
  if (e.code != 0 && out.summary)
    out.summary->add_outcome(p.prog + "[" + std::to_string(p.pid) + "]", p.pid, std::string(e.call), e.code_kind,
                             e.code, level, std::string(e.rule), peer_text);
  if (level > config.level) return;

  sd::RecordData r;
  r.wall_ns = wall_us * 1000;
  r.pid = p.pid;
  r.tid = tid;
  r.prog = p.prog;
  r.level = level;
  r.call = e.call;
  r.fd = e.fd;
  r.ret = e.ret;
  r.code_kind = e.code_kind;
  r.code = e.code;
  r.notice = sd::is_injection_notice(e.code_kind, e.code);
  r.via = e.via;
  r.injected = !e.rule.empty();
  r.rule = e.rule;
  local_text[0] = '\0';
  if (e.addr_is_local) {
    sd::format_addr(e.addr, e.addr_len, local_text, sizeof(local_text));
  } else if (s && !kind.empty() && e.code != 0 && out.facts_of) {
    // Best effort, for failures: the kernel's answer while the socket is
    // still the one the line names. A failed connect keeps no local address
    // worth showing (the kernel dropped the one it picked).
    bool connect_failed = e.cls == CallClass::connect && e.code != EALREADY && e.code != EISCONN;
    SocketFacts f;
    if ((!connect_failed || s->bound) && out.facts_of(p.pid, e.fd, s->inode, &f) && f.local_len) {
      const sockaddr* a = reinterpret_cast<const sockaddr*>(&f.local);
      bool unset = (a->sa_family == AF_INET && reinterpret_cast<const sockaddr_in*>(a)->sin_port == 0) ||
                   (a->sa_family == AF_INET6 && reinterpret_cast<const sockaddr_in6*>(a)->sin6_port == 0);
      if (!unset) sd::format_addr(a, f.local_len, local_text, sizeof(local_text));
    }
  }
  r.local = local_text;
  if (!kind.empty()) {
    r.kind = kind;
    r.peer = e.addr_is_local ? "" : peer_text;
    r.have_history = true;
    r.sent = s->sent;
    r.received = s->received;
    r.age_ns = wall_us > s->opened_us ? static_cast<uint64_t>(wall_us - s->opened_us) * 1000 : 0;
    int64_t gone = e.peer_gone_us >= 0 ? e.peer_gone_us : s->peer_gone_us;
    if (gone && wall_us > gone) r.peer_gone_ago_ns = static_cast<uint64_t>(wall_us - gone) * 1000;
  } else if (!e.addr_is_local && e.addr) {
    r.peer = peer_text;
  }
  if (e.code != 0) {
    r.code_name = sd::code_name(e.code_kind, e.code);
    r.message = sd::code_message(e.code_kind, e.code);
  }
  if (row) {
    r.explanation = row->text;
    r.advice = row->advice;
  }
  sd::format_record(r, config.format, cache, buf);
  if (out.write) out.write(p.pid, buf.view());
}

void TraceReader::State::socket_event(Proc& p, long tid, int64_t wall_us, int fd, std::string_view call, bool err,
                                      bool hup) {
  if (!err && !hup) return;
  auto it = p.fds->socks.find(fd);
  if (it == p.fds->socks.end()) return;
  Sock& s = it->second;
  // A failed non-blocking connect: the SO_ERROR read that follows says why.
  if (s.connect_pending) {
    if (err) s.err_pending = true;
    return;
  }
  if (err) {
    if (s.err_pending) return;  // once per pending error, not per wake-up
    s.err_pending = true;
  } else {
    if (s.eof_seen) return;  // the hang-up was said already (EOF or POLLHUP)
    s.eof_seen = true;
  }
  Event e;
  e.call = call;
  e.cls = CallClass::poll;
  e.fd = fd;
  e.ret = 0;
  e.code_kind = CodeKind::event;
  e.code = err ? sd::ev_pollerr : sd::ev_pollhup;
  e.via = call;
  emit(p, tid, wall_us, &s, e);
}

void TraceReader::State::call(Proc& p, const StraceLine& l) {
  ArgList a = split_args(l.args);
  std::string_view name = call_as_named(l.name, a);
  Event e;
  e.call = name;
  e.cls = class_of_syscall(l.name);
  e.ret = l.ret;
  if (l.injected) {
    auto rule = out.rule_of_syscall.find(l.name);
    if (rule != out.rule_of_syscall.end()) e.rule = rule->second;
  }
  int err = 0;
  if (!l.error.empty()) {
    CodeKind k;
    if (!sd::code_from_name(l.error, &k, &err) || k != CodeKind::errno_code) err = EINVAL;
  }
  bool failed = l.returned && l.ret < 0 && err != 0;
  // A delay strace injected: the library's notice before the call.
  if (l.delayed && !e.rule.empty()) {
    Event n = e;
    n.code_kind = CodeKind::event;
    n.code = sd::ev_injected_delay;
    n.ret = 0;
    int fd = -1;
    std::string_view dec;
    if (parse_fd(a[0], &fd, &dec)) n.fd = fd;
    emit(p, l.tid, l.wall_us, n.fd >= 0 ? sock_at(p, n.fd, dec, l.wall_us) : nullptr, n);
  }
  if (!l.returned) return;

  const std::string_view n = l.name;
  // Calls that make a process, a thread or a program.
  if (n == "clone" || n == "clone3" || n == "fork" || n == "vfork") {
    if (l.ret <= 0) return;
    long child = l.ret;
    bool thread = l.args.find("CLONE_THREAD") != std::string_view::npos;
    if (thread) {
      pid_of[child] = p.pid;
    } else if (!procs.count(child) || pid_of[child] != child) {
      Proc c;
      c.pid = child;
      c.prog = p.prog;
      bool shared = l.args.find("CLONE_FILES") != std::string_view::npos;
      c.fds = shared ? p.fds : std::make_shared<FdTable>(*p.fds);
      pid_of[child] = child;
      procs[child] = std::move(c);
    }
    return;
  }
  if (n == "execve" || n == "execveat") {
    if (l.ret != 0) return;
    // The program's name, as the library takes it: the file's, without its directory.
    std::string path;
    if (unquote(n == "execve" ? a[0] : a[1], &path)) p.prog = basename_of(path);
    // Descriptors opened close-on-exec are gone; the others stay (a shell's
    // redirection of a socket keeps the socket).
    for (auto it = p.fds->socks.begin(); it != p.fds->socks.end();)
      it = it->second.cloexec ? p.fds->socks.erase(it) : std::next(it);
    p.fds->older.clear();  // one thread is left: its lines are in order
    p.fds->epoll.clear();
    return;
  }
  if (n == "socket") {
    if (failed) {
      e.code = err;
      return emit(p, l.tid, l.wall_us, nullptr, e);
    }
    int domain = domain_named(a[0]);
    int type = type_named(a[1]);
    if (l.ret < 0 || domain < 0 || type < 0) return;
    track(p, static_cast<int>(l.ret), made(kind_from(domain, type), a[1], l.ret_fd, l.wall_us), l, e);
    return;
  }
  if (n == "socketpair") {
    int fds[2];
    if (failed) {
      e.code = err;
      return emit(p, l.tid, l.wall_us, nullptr, e);
    }
    int domain = domain_named(a[0]), type = type_named(a[1]);
    if (l.ret != 0 || domain < 0 || type < 0 || !parse_fd_pair(a[3], fds)) return;
    // One trace record for the pair, as the library writes.
    Sock pair = made(kind_from(domain, type), a[1], {}, l.wall_us);
    pair.established = true;
    track(p, fds[1], pair, l, e, false);
    track(p, fds[0], pair, l, e);
    return;
  }

  // Calls on a descriptor.
  int fd = -1;
  std::string_view dec;
  if (!parse_fd(a[0], &fd, &dec)) return;
  e.fd = fd;
  bool was_closed = !dec.empty() ? false : p.fds->closed.count(fd) > 0;
  Sock* s = sock_at(p, fd, dec, l.wall_us);

  if (n == "close") {
    if (!failed) {
      if (s && config.level >= Level::trace) {
        e.code = 0;
        emit(p, l.tid, l.wall_us, s, e);
      }
      forget(p, fd, s);
      return;
    }
    // Only sockets: EBADF for a number that was never one is a daemon
    // closing every descriptor.
    if (!s && !(was_closed && err == EBADF)) return;
    e.code = err;
    e.closed_socket = was_closed;
    emit(p, l.tid, l.wall_us, s, e);
    if (s) forget(p, fd, s);
    return;
  }
  if (n == "close_range") {
    long first = 0, last = 0;
    if (failed || !parse_long(a[0], &first) || !parse_long(a[1], &last) || has_flag(a[2], "CLOSE_RANGE_CLOEXEC"))
      return;
    for (auto it = p.fds->socks.begin(); it != p.fds->socks.end();) {
      if (it->first >= first && it->first <= last) {
        p.fds->closed[it->first] = true;
        it = p.fds->socks.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = p.fds->older.begin(); it != p.fds->older.end();)
      it = it->first >= first && it->first <= last ? p.fds->older.erase(it) : std::next(it);
    return;
  }
  if (n == "dup" || n == "dup2" || n == "dup3") {
    if (failed || l.ret < 0 || l.ret == fd) return;
    int to = static_cast<int>(l.ret);
    if (!s) {
      p.fds->socks.erase(to);
      return;
    }
    Sock copy = *s;
    copy.cloexec = n == "dup3" && has_flag(a[2], "O_CLOEXEC");
    track(p, to, copy, l, e, false);
    return;
  }
  if (n == "epoll_ctl") {
    // The fd itself is the epoll instance; the watched one is the third argument.
    int watched = -1;
    std::string_view wdec;
    uint64_t data = 0;
    if (failed || !parse_fd(a[2], &watched, &wdec)) return;
    auto& map = p.fds->epoll[fd];
    if (a[1] == "EPOLL_CTL_DEL") {
      for (auto it = map.begin(); it != map.end();) it = it->second == watched ? map.erase(it) : std::next(it);
    } else if (epoll_data(a[3], &data)) {
      map[data] = watched;
    }
    return;
  }
  if (e.cls == CallClass::poll) {
    if (failed) {
      // A wait's own failure (EINTR, EINVAL) is about no socket.
      e.code = err;
      e.fd = -1;
      return emit(p, l.tid, l.wall_us, nullptr, e);
    }
    if (n == "poll" || n == "ppoll") {
      for_each_poll_result(l.detail, [&](int pfd, std::string_view revents) {
        socket_event(p, l.tid, l.wall_us, pfd, name, has_flag(revents, "POLLERR"), has_flag(revents, "POLLHUP"));
      });
    } else if (n == "epoll_wait" || n == "epoll_pwait" || n == "epoll_pwait2") {
      auto map = p.fds->epoll.find(fd);
      if (map == p.fds->epoll.end()) return;
      for_each_epoll_event(a[1], [&](std::string_view events, uint64_t data) {
        auto w = map->second.find(data);
        if (w != map->second.end())
          socket_event(p, l.tid, l.wall_us, w->second, name, has_flag(events, "EPOLLERR"),
                       has_flag(events, "EPOLLHUP"));
      });
    }
    return;
  }

  // Calls on a socket: a file's or a pipe's failures are not ours to report,
  // but a bad descriptor is a socket bug where only a socket would do (recv
  // on a closed number), or where the number was a socket the program closed.
  bool socket_only = e.cls != CallClass::any && n != "read" && n != "readv" && n != "write" && n != "writev";
  if (!s) {
    if (!failed || !((was_closed || socket_only) && (err == EBADF || err == ENOTSOCK))) return;
    e.code = err;
    e.closed_socket = was_closed;
    return emit(p, l.tid, l.wall_us, nullptr, e);
  }

  sockaddr_storage addr;
  socklen_t addr_len = 0;
  if (n == "connect") {
    bool have = parse_sockaddr(a[1], &addr, &addr_len);
    if (failed && have && nscd_probe(addr, addr_len)) return;
    // A connect the kernel refused before reading its address names none.
    bool read_addr = have && !(failed && (err == EFAULT || err == EBADF || err == ENOTSOCK || err == EINVAL));
    if (read_addr) {
      std::memcpy(&s->peer, &addr, addr_len);
      s->peer_len = addr_len;
      s->connect_pending = s->err_pending = s->eof_seen = s->peer_closed = false;
      s->opened_us = l.wall_us;
      if (!failed) s->established = true;
      else if (err == EINPROGRESS) s->connect_pending = true;
    }
    if (!failed && config.level < Level::trace) return;
    e.code = failed ? err : 0;
    if (read_addr) {
      e.addr = reinterpret_cast<sockaddr*>(&addr);
      e.addr_len = addr_len;
    }
    return emit(p, l.tid, l.wall_us, s, e);
  }
  if (n == "bind" || n == "listen") {
    if (!failed) {
      if (n == "bind") s->bound = true;
      return;
    }
    e.code = err;
    if (n == "bind" && err != EFAULT && err != EBADF && err != ENOTSOCK && parse_sockaddr(a[1], &addr, &addr_len)) {
      e.addr = reinterpret_cast<sockaddr*>(&addr);
      e.addr_len = addr_len;
      e.addr_is_local = true;
    }
    return emit(p, l.tid, l.wall_us, s, e);
  }
  if (n == "accept" || n == "accept4") {
    if (failed) {
      e.code = err;
      return emit(p, l.tid, l.wall_us, s, e);
    }
    // The accepted socket inherits the listener's kind and timeouts.
    Sock c = made(s->kind, n == "accept4" ? a[3] : std::string_view(), l.ret_fd, l.wall_us);
    c.established = true;
    c.rcvtimeo = s->rcvtimeo;
    c.sndtimeo = s->sndtimeo;
    if (parse_sockaddr(a[1], &addr, &addr_len)) {
      std::memcpy(&c.peer, &addr, addr_len);
      c.peer_len = addr_len;
    }
    track(p, static_cast<int>(l.ret), c, l, e);
    return;
  }
  if (n == "getsockopt") {
    int so_error = 0;
    if (!failed && a[1] == "SOL_SOCKET" && a[2] == "SO_ERROR" && parse_so_error(a[3], &so_error)) {
      bool pending = s->connect_pending;
      s->connect_pending = s->err_pending = false;
      if (so_error == 0) {
        if (pending) s->established = true;
        return;
      }
      if (so_error == ECONNRESET || so_error == EPIPE || so_error == ETIMEDOUT || so_error == EHOSTUNREACH) {
        if (!s->peer_gone_us) s->peer_gone_us = l.wall_us;
        s->peer_closed = true;
      }
      e.call = pending ? "connect" : name;
      e.cls = pending ? CallClass::connect : e.cls;
      e.ret = pending ? -1 : 0;  // as the library records it: the connect's own result
      e.code = so_error;
      e.situation = pending ? uint32_t{sd::sit_async} : 0u;
      e.via = "SO_ERROR";
      return emit(p, l.tid, l.wall_us, s, e);
    }
    if (!failed) return;
    e.code = err;
    return emit(p, l.tid, l.wall_us, s, e);
  }
  if (n == "setsockopt") {
    if (!failed) {
      bool off = timeval_is_zero(a[3]);
      if (a[1] == "SOL_SOCKET" && a[2].substr(0, 11) == "SO_RCVTIMEO") s->rcvtimeo = !off;
      if (a[1] == "SOL_SOCKET" && a[2].substr(0, 11) == "SO_SNDTIMEO") s->sndtimeo = !off;
      if (a[1] == "SOL_SOCKET" && a[2] == "SO_REUSEADDR") s->reuseaddr = a[3] != "[0]";
      return;
    }
    e.code = err;
    return emit(p, l.tid, l.wall_us, s, e);
  }

  bool input = e.cls == CallClass::recv || n == "read" || n == "readv";
  bool output = e.cls == CallClass::send || n == "write" || n == "writev";
  if (!input && !output) {
    // shutdown, getpeername and the rest: their failures.
    if (!failed) {
      if (n == "shutdown") {
        if (a[1] == "SHUT_RD" || a[1] == "SHUT_RDWR") s->shut_rd = true;
        if (a[1] == "SHUT_WR" || a[1] == "SHUT_RDWR") s->shut_wr = true;
      }
      return;
    }
    e.code = err;
    return emit(p, l.tid, l.wall_us, s, e);
  }
  // The flags argument, for MSG_DONTWAIT: recv/send/recvfrom/sendto take it
  // fourth, recvmsg/sendmsg third.
  std::string_view flags = n == "recvmsg" || n == "sendmsg" ? a[2] : a[3];
  if (n != "read" && n != "write" && n != "readv" && n != "writev" && has_flag(flags, "MSG_DONTWAIT"))
    e.situation |= sd::sit_nonblocking;
  if (n == "sendto" && parse_sockaddr(a[4], &addr, &addr_len)) {
    e.addr = reinterpret_cast<sockaddr*>(&addr);
    e.addr_len = addr_len;
  } else if (n == "sendmsg" && msg_name(a[1], &addr, &addr_len)) {
    e.addr = reinterpret_cast<sockaddr*>(&addr);
    e.addr_len = addr_len;
  }
  if (failed) {
    // Expected flow below debug: counted, not written (as the library's fast path).
    int64_t gone_before = s->peer_gone_us;
    // EPIPE after the program's own SHUT_WR: the kernel's answer, not the peer's.
    bool own_shutdown = err == EPIPE && output && s->shut_wr;
    if (own_shutdown) e.situation |= sd::sit_own_shutdown;
    else if (err == ECONNRESET || err == EPIPE || err == ETIMEDOUT || err == EHOSTUNREACH) {
      if (!s->peer_gone_us) s->peer_gone_us = l.wall_us;
      s->peer_closed = true;
    }
    e.code = err;
    e.peer_gone_us = gone_before;
    return emit(p, l.tid, l.wall_us, s, e);
  }
  bool counts_bytes = n != "recvmmsg" && n != "sendmmsg";
  if (l.ret > 0 && counts_bytes) {
    if (input) s->received += static_cast<uint64_t>(l.ret);
    else s->sent += static_cast<uint64_t>(l.ret);
  }
  if (input && l.ret == 0 && counts_bytes) {
    // End of stream only when bytes were asked for on a stream socket: an
    // empty datagram, or a read of 0 bytes, is none. Said once a connection.
    uint64_t asked = 0;
    bool known = n == "readv"                     ? iov_total(a[1], &asked)
                 : n == "recvmsg"                 ? msg_iov_total(a[1], &asked)
                                                  : [&] {
                                     long v = 0;
                                     bool ok = parse_long(a[2], &v) && v >= 0;
                                     asked = static_cast<uint64_t>(v);
                                     return ok;
                                   }();
    if (known && asked > 0 && is_stream(s->kind) && !s->eof_seen) {
      s->eof_seen = true;
      if (!s->peer_gone_us) s->peer_gone_us = l.wall_us;
      e.code_kind = CodeKind::event;
      e.code = sd::ev_eof;
      e.ret = 0;
      return emit(p, l.tid, l.wall_us, s, e);
    }
  }
  if (config.level >= Level::trace) {
    e.code = 0;
    emit(p, l.tid, l.wall_us, s, e);
  }
}

}  // namespace sdcli
