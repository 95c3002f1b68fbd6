// Failure counters and the exit summary (see summary.h). Counting happens in
// hooks on any thread, possibly in signal handlers: atomics only, fixed
// tables, no allocation.
#include "summary.h"

#include <netinet/in.h>
#include <unistd.h>

#include <cstring>

#include "config_state.h"
#include "destination.h"
#include "inject.h"
#include "log.h"
#include "progname.h"
#include "report.h"
#include "record.h"

namespace sd {

std::atomic<uint32_t> g_expected_eagain[kCallCount];

namespace {

constexpr int kMaxErrno = 134;   // above EHWPOISON: counted as "other"
constexpr int kGaiSlots = 16;    // glibc's EAI_* are -1 .. -16 (EAI_IDN_ENCODE = -105 folds to "other")
constexpr int kEventSlots = 8;

struct CodeCounts {
  std::atomic<uint32_t> errno_counts[kMaxErrno + 1];
  std::atomic<uint32_t> gai[kGaiSlots + 1];
  std::atomic<uint32_t> events[kEventSlots];
};
CodeCounts g_counts[kCallCount];
CodeCounts g_injected[kCallCount];
std::atomic<uint32_t> g_retries[kCallCount][kMaxErrno + 1];

std::atomic<uint32_t>* slot(CodeCounts& c, Domain d, int code) {
  switch (d) {
    case Domain::errno_code: return &c.errno_counts[code > 0 && code < kMaxErrno ? code : kMaxErrno];
    case Domain::gai: return &c.gai[code < 0 && -code < kGaiSlots ? -code : kGaiSlots];
    case Domain::event: return &c.events[code > 0 && code < kEventSlots ? code : 0];
  }
  return &c.events[0];
}

// Failures per peer: open addressing over a fixed table. A slot is claimed
// with a CAS; a racing insert of the same peer may make a second slot,
// merged when the summary is written.
constexpr int kPeerSlots = 256;
// Every field is atomic (relaxed; `state` orders them): a forked child resets
// and reuses slots that the parent's other threads read, and those reads are
// ordered before nothing in the child (ThreadSanitizer reports plain writes).
struct PeerSlot {
  std::atomic<uint32_t> state;  // 0 empty, 1 being filled, 2 ready
  std::atomic<uint32_t> meta;   // family << 16 | port
  std::atomic<uint64_t> addr[2];
  std::atomic<uint32_t> failures;

  bool holds(uint32_t m, uint64_t a0, uint64_t a1) const {
    return meta.load(std::memory_order_relaxed) == m && addr[0].load(std::memory_order_relaxed) == a0 &&
           addr[1].load(std::memory_order_relaxed) == a1;
  }
};
PeerSlot g_peers[kPeerSlots];
std::atomic<uint32_t> g_peer_overflow{0};

bool peer_key(const sockaddr* a, socklen_t len, uint32_t* meta, uint64_t addr[2]) {
  addr[0] = addr[1] = 0;
  if (!a) return false;
  if (a->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    auto* in = reinterpret_cast<const sockaddr_in*>(a);
    std::memcpy(addr, &in->sin_addr, 4);
    *meta = (AF_INET << 16) | ntohs(in->sin_port);
    return true;
  }
  if (a->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(a);
    std::memcpy(addr, &in6->sin6_addr, 16);
    *meta = (AF_INET6 << 16) | ntohs(in6->sin6_port);
    return true;
  }
  return false;
}

void count_peer(const sockaddr* a, socklen_t len) {
  uint32_t meta;
  uint64_t addr[2];
  if (!peer_key(a, len, &meta, addr)) return;
  uint64_t h = (addr[0] ^ (addr[1] * 0x9e3779b97f4a7c15ull) ^ meta) * 0xff51afd7ed558ccdull;
  for (int probe = 0; probe < kPeerSlots; ++probe) {
    PeerSlot& s = g_peers[(h + probe) % kPeerSlots];
    uint32_t st = s.state.load(std::memory_order_acquire);
    if (st == 0) {
      if (s.state.compare_exchange_strong(st, 1, std::memory_order_acquire)) {
        s.meta.store(meta, std::memory_order_relaxed);
        s.addr[0].store(addr[0], std::memory_order_relaxed);
        s.addr[1].store(addr[1], std::memory_order_relaxed);
        s.failures.store(1, std::memory_order_relaxed);
        s.state.store(2, std::memory_order_release);
        return;
      }
    }
    if (st == 2 && s.holds(meta, addr[0], addr[1])) {
      s.failures.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  g_peer_overflow.fetch_add(1, std::memory_order_relaxed);
}

void peer_sockaddr(const PeerSlot& s, sockaddr_storage* ss, socklen_t* len) {
  std::memset(ss, 0, sizeof(*ss));
  uint32_t meta = s.meta.load(std::memory_order_relaxed);
  uint64_t addr[2] = {s.addr[0].load(std::memory_order_relaxed), s.addr[1].load(std::memory_order_relaxed)};
  uint16_t port = htons(static_cast<uint16_t>(meta & 0xffff));
  if ((meta >> 16) == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(ss);
    in->sin_family = AF_INET;
    in->sin_port = port;
    std::memcpy(&in->sin_addr, addr, 4);
    *len = sizeof(*in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = port;
    std::memcpy(&in6->sin6_addr, addr, 16);
    *len = sizeof(*in6);
  }
}

// One line of the summary, written at once.
struct SummaryWriter {
  LineBuffer buf;
  bool json;
  int fd;  // -1: the log
  void flush() {
    buf.finish_line();
    if (fd >= 0) write_record(fd, buf.view().data(), buf.view().size());
    else log_write(buf.view().data(), buf.view().size());
    buf.clear();
  }
};

void put_summary_start(LineBuffer& b) { put_summary_start(program_name(), getpid(), b); }

int g_summary_fd = -1;
void summary_line_to_file(const char* text, std::size_t len) { write_record(g_summary_fd, text, len); }
void summary_line_to_log(const char* text, std::size_t len) { log_write(text, len); }

void write_code_rows(SummaryWriter& w, Call call, Domain d, int code, uint32_t n, uint32_t injected) {
  if (n == 0 && injected == 0) return;
  const char* name = code_name(d, code);
  const Explanation* row = explain(d, code, class_of(call), 0);
  const char* level = row ? level_name(row->level) : "error";
  if (w.json) {
    w.buf.appendf(FMT_COMPILE("{{\"summary\":\"count\",\"pid\":{},\"prog\":"), static_cast<long>(getpid()));
    w.buf.append_json_string(program_name());
    w.buf.appendf(FMT_COMPILE(",\"call\":\"{}\",\"code\":\"{}\",\"count\":{},\"injected\":{},\"level\":\"{}\"}}"), call_name(call),
                  name, n, injected, level);
  } else {
    put_summary_start(w.buf);
    w.buf.appendf(FMT_COMPILE("{:<14} {:<16} {:>9} {:>9}"), call_name(call), name, n, injected);
  }
  w.flush();
}

}  // namespace

void count_failure(Call call, Domain d, int code, Level level, const sockaddr* peer, socklen_t peer_len,
                   bool injected) {
  std::size_t c = static_cast<std::size_t>(call);
  slot(g_counts[c], d, code)->fetch_add(1, std::memory_order_relaxed);
  if (injected) slot(g_injected[c], d, code)->fetch_add(1, std::memory_order_relaxed);
  // Per peer: real failures only, not expected flow or notices.
  if (d != Domain::event && level == Level::error) count_peer(peer, peer_len);
}

void count_retry(Call call, int code) {
  g_retries[static_cast<std::size_t>(call)][code > 0 && code < kMaxErrno ? code : kMaxErrno].fetch_add(
      1, std::memory_order_relaxed);
}

// Atomic stores, not memset: the parent's other threads used these counters
// (atomically) just before the fork, and nothing orders their accesses before
// the child's writes (ThreadSanitizer reports a plain write as a race).
template <class T, std::size_t N>
void reset_all(std::atomic<T> (&a)[N]) {
  for (std::atomic<T>& x : a) x.store(0, std::memory_order_relaxed);
}

void summary_after_fork() {
  for (CodeCounts* table : {g_counts, g_injected}) {
    for (std::size_t c = 0; c < kCallCount; ++c) {
      reset_all(table[c].errno_counts);
      reset_all(table[c].gai);
      reset_all(table[c].events);
    }
  }
  for (auto& row : g_retries) reset_all(row);
  reset_all(g_expected_eagain);
  for (PeerSlot& s : g_peers) {
    s.state.store(0, std::memory_order_relaxed);
    s.failures.store(0, std::memory_order_relaxed);
  }
  g_peer_overflow.store(0);
}

void write_summary() {
  static SummaryWriter w;  // trivially destructible: safe at exit
  const Config& cfg = config();
  w.fd = -1;
  if (cfg.summary_path[0]) {
    // One file for a whole process tree: appended to, one write per line.
    // Checked before main, and opened as safely now (destination.h): the
    // name may have been replaced since by a link, a FIFO or a directory.
    char path[sizeof(cfg.summary_path)];
    std::memcpy(path, cfg.summary_path, sizeof(path));
    Refusal why;
    w.fd = open_destination(path, Destination::summary, &why);
    if (w.fd < 0) return;
    g_summary_fd = w.fd;
  }
  w.json = w.fd >= 0 || cfg.format == Format::json;
  if (!w.json) {
    put_summary_start(w.buf);
    w.buf.appendf(FMT_COMPILE("{:<14} {:<16} {:>9} {:>9}"), "call", "code", "count", "injected");
    w.flush();
  }
  for (std::size_t c = 0; c < kCallCount; ++c) {
    Call call = static_cast<Call>(c);
    for (int e = 1; e <= kMaxErrno; ++e) {
      uint32_t n = g_counts[c].errno_counts[e].load() + (e == EAGAIN ? g_expected_eagain[c].load() : 0);
      write_code_rows(w, call, Domain::errno_code, e, n, g_injected[c].errno_counts[e].load());
    }
    for (int g = 1; g <= kGaiSlots; ++g)
      write_code_rows(w, call, Domain::gai, -g, g_counts[c].gai[g].load(), g_injected[c].gai[g].load());
    for (int ev = 1; ev < kEventSlots; ++ev)
      write_code_rows(w, call, Domain::event, ev, g_counts[c].events[ev].load(), g_injected[c].events[ev].load());
    for (int e = 1; e <= kMaxErrno; ++e) {
      uint32_t n = g_retries[c][e].load();
      if (!n) continue;
      if (w.json) {
        w.buf.appendf(FMT_COMPILE("{{\"summary\":\"retry\",\"pid\":{},\"call\":\"{}\",\"code\":\"{}\",\"count\":{}}}"),
                      static_cast<long>(getpid()), call_name(call), code_name(Domain::errno_code, e), n);
      } else {
        put_summary_start(w.buf);
        w.buf.appendf(FMT_COMPILE("{:<14} {:<16} {:>9} retries"), call_name(call), code_name(Domain::errno_code, e), n);
      }
      w.flush();
    }
  }
  for (int i = 0; i < kPeerSlots; ++i) {
    PeerSlot& s = g_peers[i];
    if (s.state.load(std::memory_order_acquire) != 2) continue;
    uint32_t n = s.failures.load();
    // Merge a duplicate slot made by a racing first insert.
    for (int j = i + 1; j < kPeerSlots; ++j) {
      PeerSlot& d = g_peers[j];
      if (d.state.load(std::memory_order_acquire) == 2 &&
          d.holds(s.meta.load(std::memory_order_relaxed), s.addr[0].load(std::memory_order_relaxed),
                  s.addr[1].load(std::memory_order_relaxed))) {
        n += d.failures.exchange(0);
      }
    }
    if (!n) continue;
    sockaddr_storage ss;
    socklen_t len;
    peer_sockaddr(s, &ss, &len);
    char addr[128];
    format_addr(reinterpret_cast<sockaddr*>(&ss), len, addr, sizeof(addr));
    if (w.json) {
      w.buf.appendf(FMT_COMPILE("{{\"summary\":\"peer\",\"pid\":{},\"peer\":\"{}\",\"failures\":{}}}"), static_cast<long>(getpid()),
                    addr, n);
    } else {
      put_summary_start(w.buf);
      w.buf.appendf(FMT_COMPILE("peer {:<30} {:>9} failures"), addr, n);
    }
    w.flush();
  }
  if (uint64_t dropped = log_dropped()) {
    if (w.json) {
      w.buf.appendf(FMT_COMPILE("{{\"summary\":\"dropped\",\"pid\":{},\"count\":{}}}"), static_cast<long>(getpid()), dropped);
    } else {
      put_summary_start(w.buf);
      w.buf.appendf(FMT_COMPILE("{} records dropped: log not writable"), dropped);
    }
    w.flush();
  }
  // Through the real close: a call from inside the library to `close` would
  // otherwise bind to our own hook.
  write_injection_summary(w.json, w.fd >= 0 ? summary_line_to_file : summary_line_to_log);
  if (w.fd >= 0) real<Call::close>()(w.fd);
}

}  // namespace sd
