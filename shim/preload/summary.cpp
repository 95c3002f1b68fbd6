// Failure counters and the exit summary (see summary.h). Counting happens in
// hooks on any thread, possibly in signal handlers: atomics only, fixed
// tables, no allocation, no lock.
#include "summary.h"
#include "self_ids.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "config_state.h"
#include "counter_share.h"
#include "destination.h"
#include "log.h"
#include "per_thread_counts.h"
#include "peer_key.h"
#include "progname.h"
#include "addr_text.h"
#include "record.h"
#include "rules.h"
#include "rules_in_force.h"
#include "vm_children.h"

namespace sd {

namespace {

// This process's own slot: all zero at load time, so hooks that run before
// our constructor can count into it. Written at exit (or never, when the
// process shares the table and counted nothing before mapping it).
ctab::Slot g_own;

}  // namespace

std::atomic<ctab::Slot*> g_slot{&g_own};

namespace {

// The slot this process counts into, taken on its first count.
ctab::Slot* slot() {
  ctab::Slot* s = g_slot.load(std::memory_order_acquire);
  return s ? s : claim_slot();
}

// The home of the lanes of the threads counting for `s` (per_thread_counts.h).
uint32_t lane_home(const ctab::Slot* s) { return s == &g_own ? 0 : share_lane_tag(s); }

// This thread's lane, claimed on its first count; nullptr when none is left.
ctab::Lane* lane(ctab::Slot* s) {
  ctab::Lane* l = t_lane;
  return l ? l : lane_claim(lane_home(s));
}

void count_peer(ctab::Slot& s, const sockaddr* a, socklen_t len) {
  PeerKey k;
  if (!a || !PeerKey::pack(a, len, &k)) return;
  uint32_t meta = k.meta;
  const uint64_t* addr = k.words;
  uint64_t h = (addr[0] ^ (addr[1] * 0x9e3779b97f4a7c15ull) ^ meta) * 0xff51afd7ed558ccdull;
  for (uint32_t probe = 0; probe < ctab::kPeerEntries; ++probe) {
    ctab::PeerEntry& p = s.peers[(h + probe) % ctab::kPeerEntries];
    uint32_t st = p.state.load(std::memory_order_acquire);
    if (st == 0 && p.state.compare_exchange_strong(st, 1, std::memory_order_acquire)) {
      p.meta.store(meta, std::memory_order_relaxed);
      p.addr[0].store(addr[0], std::memory_order_relaxed);
      p.addr[1].store(addr[1], std::memory_order_relaxed);
      p.failures.store(1, std::memory_order_relaxed);
      p.state.store(2, std::memory_order_release);
      return;
    }
    if (st == 2 && p.meta.load(std::memory_order_relaxed) == meta &&
        p.addr[0].load(std::memory_order_relaxed) == addr[0] && p.addr[1].load(std::memory_order_relaxed) == addr[1]) {
      p.failures.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  s.unlisted_peers.fetch_add(1, std::memory_order_relaxed);
}

void raise_to(std::atomic<uint64_t>& a, uint64_t n) {
  uint64_t cur = a.load(std::memory_order_relaxed);
  while (cur < n && !a.compare_exchange_weak(cur, n, std::memory_order_relaxed)) {
  }
}

// The rules' injection counters (rules.h) copied into a shared slot. They
// are counted where a rule matches, before its fault is made and recorded:
// copied at every injected failure counted and at exit, so a death by
// signal loses only injections whose fault has not been recorded yet (a
// bandwidth slice, a non-blocking connect's failure still to be read).
// Raised, never lowered: a stale copy from another thread cannot undo a newer one.
void publish_injections(ctab::Slot& s) {
  const RuleSet* set = summary_rules();
  if (!set) return;
  uint64_t beyond = 0;
  for (uint32_t i = 0; i < set->count; ++i) {
    uint64_t n = injections(*set, i);
    if (i < ctab::kRuleEntries) raise_to(s.rule_injections[i], n);
    else beyond += n;
  }
  raise_to(s.rules_beyond, beyond);
}

// The calls that passed through unobserved (interpose.h, vm_children.h),
// copied into a shared slot as for the injections.
void publish_unobserved(ctab::Slot& s) {
  raise_to(s.unobserved_nested, g_unobserved_nested.load(std::memory_order_relaxed));
  raise_to(s.unobserved_vm_children, g_vm_child_calls.load(std::memory_order_relaxed));
}

bool private_lanes_hold_anything() {
  uint32_t n;
  const ctab::Lane* l = private_lanes(&n);
  return std::any_of(l, l + n, [](const ctab::Lane& x) { return ctab::holds_anything(x); });
}

bool unobserved_any() {
  return g_unobserved_nested.load(std::memory_order_relaxed) || g_vm_child_calls.load(std::memory_order_relaxed);
}

bool injected_any() {
  const RuleSet* set = summary_rules();
  for (uint32_t i = 0; set && i < set->count; ++i)
    if (injections(*set, i)) return true;
  return false;
}

// One file for a whole process tree: appended to, one write per line.
// Checked before main, and opened as safely now (destination.h): the name
// may have been replaced since by a link, a FIFO or a directory.
int open_summary_file(const Config& cfg) {
  char path[sizeof(cfg.summary_path)];
  std::memcpy(path, cfg.summary_path, sizeof(path));
  Refusal why;
  return open_destination(path, Destination::summary, &why);
}

int g_summary_fd = -1;
void summary_line_to_file(const char* text, std::size_t len) { write_record(g_summary_fd, text, len); }
void summary_line_to_log(const char* text, std::size_t len) { log_write(text, len); }

// One line of the summary, written at once.
struct SummaryWriter {
  LineBuffer buf;
  bool json;
  void flush() {
    buf.finish_line();
    if (g_summary_fd >= 0) summary_line_to_file(buf.view().data(), buf.view().size());
    else summary_line_to_log(buf.view().data(), buf.view().size());
    buf.clear();
  }
  void start_text() { put_summary_start(program_name(), self_pid(), buf); }
  void start_json(const char* kind) {
    buf.appendf(FMT_COMPILE("{{\"v\":{},\"summary\":\"{}\",\"pid\":{},\"prog\":"), kRecordSchemaVersion, kind,
                self_pid());
    buf.append_json_string(program_name());
  }
};

// "This process counted privately, and why": the tree summary says which
// processes a death by signal would have lost.
void note_private(SummaryWriter& w, const char* why) {
  w.start_json("private");
  w.buf.put(",\"reason\":");
  w.buf.append_json_string(why);
  w.buf.put("}");
  w.flush();
}

// One (call, code) at one level: its level is the records' own, its
// category follows from it (count_category.h).
void write_code_row(SummaryWriter& w, uint32_t key, uint64_t n, uint64_t injected) {
  const char* call = ctab::key_call_name(key);
  const char* code = code_name(static_cast<CodeKind>(ctab::key_code_kind(key)), ctab::key_code(key));
  const char* category = category_name(ctab::key_category(key));
  if (w.json) {
    w.start_json("count");
    w.buf.appendf(FMT_COMPILE(",\"call\":\"{}\",\"code\":\"{}\",\"category\":\"{}\",\"count\":{},\"injected\":{},"
                              "\"level\":\"{}\"}}"),
                  call, code, category, n, injected, level_name(ctab::key_level(key)));
  } else {
    w.start_text();
    w.buf.appendf(FMT_COMPILE("{:<14} {:<16} {:<9} {:>9} {:>9}"), call, code, category, n, injected);
  }
  w.flush();
}

struct Row {
  uint32_t key;
  uint64_t count, injected;
};

// Failures first, then events, expected flow, notices; by key within each.
bool row_before(const Row& a, const Row& b) {
  Category ca = ctab::key_category(a.key), cb = ctab::key_category(b.key);
  return ca != cb ? ca < cb : a.key < b.key;
}

// The counts of `s` and of this process's own lanes by (call, code, level)
// in row_before's order, the fast path's expected EAGAIN folded into the
// rows of its level.
std::size_t code_rows(const ctab::Slot& s, Row* rows) {
  std::size_t n = 0;
  uint64_t eagain[kCallCount] = {};
  auto add = [&rows, &n](const ctab::CountEntry* entries, uint32_t count) {
    for (uint32_t i = 0; i < count; ++i)
      if (uint32_t key = entries[i].key.load(std::memory_order_relaxed))
        rows[n++] = {key, entries[i].count.load(std::memory_order_relaxed),
                     entries[i].injected.load(std::memory_order_relaxed)};
  };
  add(s.counts, ctab::kCountEntries);
  for (uint32_t c = 0; c < kCallCount; ++c) eagain[c] = s.expected_eagain[c].load(std::memory_order_relaxed);
  uint32_t lanes;
  const ctab::Lane* lane = private_lanes(&lanes);
  for (uint32_t i = 0; i < lanes; ++i) {
    add(lane[i].counts, ctab::kLaneEntries);
    for (uint32_t c = 0; c < kCallCount; ++c) eagain[c] += lane[i].expected_eagain[c].load(std::memory_order_relaxed);
  }
  for (uint32_t c = 0; c < kCallCount; ++c)
    if (eagain[c]) rows[n++] = {ctab::expected_eagain_key(c), eagain[c], 0};
  // One row per key: a key counted in the slot and in lanes is added up.
  std::sort(rows, rows + n, [](const Row& a, const Row& b) { return a.key < b.key; });
  std::size_t kept = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (kept && rows[kept - 1].key == rows[i].key) {
      rows[kept - 1].count += rows[i].count;
      rows[kept - 1].injected += rows[i].injected;
    } else {
      rows[kept++] = rows[i];
    }
  }
  std::sort(rows, rows + kept, row_before);
  return kept;
}

// The first line: how many of each category ("12 failures (3 injected),
// 92 expected, ..."), unlisted ones included.
void write_totals(SummaryWriter& w, const ctab::Slot& s, const Row* rows, std::size_t n) {
  uint64_t count[kCategoryCount] = {}, injected[kCategoryCount] = {};
  for (std::size_t i = 0; i < n; ++i) {
    auto c = static_cast<std::size_t>(ctab::key_category(rows[i].key));
    count[c] += rows[i].count;
    injected[c] += rows[i].injected;
  }
  for (std::size_t c = 0; c < kCategoryCount; ++c) count[c] += s.unlisted[c].load(std::memory_order_relaxed);
  if (w.json) {
    w.start_json("totals");
    for (std::size_t c = 0; c < kCategoryCount; ++c)
      w.buf.appendf(FMT_COMPILE(",\"{}\":{{\"count\":{},\"injected\":{}}}"), category_name(static_cast<Category>(c)),
                    count[c], injected[c]);
    w.buf.put("}");
  } else {
    char text[256];
    format_category_totals(count, injected, text, sizeof(text));
    w.start_text();
    w.buf.put(std::string_view(text));
  }
  w.flush();
}

void write_slot(SummaryWriter& w, const ctab::Slot& s) {
  // At exit, once: no stack for it.
  static Row rows[ctab::kCountEntries + kCallCount + kHeldLanes * ctab::kLaneEntries];
  std::size_t n = code_rows(s, rows);
  write_totals(w, s, rows, n);
  if (!w.json) {
    w.start_text();
    w.buf.appendf(FMT_COMPILE("{:<14} {:<16} {:<9} {:>9} {:>9}"), "call", "code", "category", "count", "injected");
    w.flush();
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!rows[i].count && !rows[i].injected) continue;
    write_code_row(w, rows[i].key, rows[i].count, rows[i].injected);
  }
  for (std::size_t c = 0; c < kCategoryCount; ++c) {
    uint32_t unlisted = s.unlisted[c].load(std::memory_order_relaxed);
    if (!unlisted) continue;
    const char* category = category_name(static_cast<Category>(c));
    if (w.json) {
      w.start_json("unlisted");
      w.buf.appendf(FMT_COMPILE(",\"category\":\"{}\",\"count\":{}}}"), category, unlisted);
    } else {
      w.start_text();
      w.buf.appendf(FMT_COMPILE("{} more of category {}, of kinds past the first {}"), unlisted, category,
                    ctab::kCountEntries);
    }
    w.flush();
  }
  if (uint64_t dropped = s.records_dropped.load(std::memory_order_relaxed)) {
    if (w.json) {
      w.start_json("dropped");
      w.buf.appendf(FMT_COMPILE(",\"records\":{}}}"), dropped);
    } else {
      w.start_text();
      w.buf.appendf(FMT_COMPILE("{} records could not be written to the log"), dropped);
    }
    w.flush();
  }
  n = 0;
  for (const ctab::CountEntry& e : s.retries) {
    uint32_t key = e.key.load(std::memory_order_relaxed);
    if (key) rows[n++] = {key, e.count.load(std::memory_order_relaxed), 0};
  }
  std::sort(rows, rows + n, [](const Row& a, const Row& b) { return a.key < b.key; });
  for (std::size_t i = 0; i < n; ++i) {
    const char* call = ctab::key_call_name(rows[i].key);
    const char* code = code_name(CodeKind::errno_code, ctab::key_code(rows[i].key));
    if (w.json) {
      w.buf.appendf(FMT_COMPILE("{{\"v\":{},\"summary\":\"retry\",\"pid\":{},\"call\":\"{}\",\"code\":\"{}\",\"count\":{}}}"),
                    kRecordSchemaVersion, self_pid(), call, code, rows[i].count);
    } else {
      w.start_text();
      w.buf.appendf(FMT_COMPILE("{:<14} {:<16} {:>9} retries"), call, code, rows[i].count);
    }
    w.flush();
  }
  for (uint32_t i = 0; i < ctab::kPeerEntries; ++i) {
    const ctab::PeerEntry& p = s.peers[i];
    if (p.state.load(std::memory_order_acquire) != 2) continue;
    uint32_t failures = p.failures.load(std::memory_order_relaxed);
    bool first = true;  // a racing first insert may have made a second entry: added to the first
    for (uint32_t j = 0; j < ctab::kPeerEntries; ++j) {
      const ctab::PeerEntry& d = s.peers[j];
      if (j == i || d.state.load(std::memory_order_acquire) != 2 || !ctab::same_peer(p, d)) continue;
      if (j < i) first = false;
      else failures += d.failures.load(std::memory_order_relaxed);
    }
    if (!first || !failures) continue;
    sockaddr_storage ss;
    socklen_t len = ctab::peer_sockaddr(p, &ss);
    char addr[128];
    format_addr(reinterpret_cast<sockaddr*>(&ss), len, addr, sizeof(addr));
    if (w.json) {
      w.buf.appendf(FMT_COMPILE("{{\"v\":{},\"summary\":\"peer\",\"pid\":{},\"peer\":\"{}\",\"failures\":{}}}"),
                    kRecordSchemaVersion, self_pid(), addr, failures);
    } else {
      w.start_text();
      w.buf.appendf(FMT_COMPILE("peer {:<30} {:>9} failures"), addr, failures);
    }
    w.flush();
  }
}

}  // namespace

ctab::Slot* claim_slot() {
  ctab::Slot* expected = nullptr;
  ctab::Slot* s = share_take_slot();
  if (!s) {
    // No slot left in the table: this process counts privately, written at exit.
    return g_slot.compare_exchange_strong(expected, &g_own, std::memory_order_acq_rel) ? &g_own : expected;
  }
  s->pid.store(static_cast<int32_t>(self_pid()), std::memory_order_relaxed);
  std::strncpy(s->prog, program_name(), sizeof(s->prog) - 1);
  if (const RuleSet* set = summary_rules()) {
    s->rules_hash.store(ctab::rules_hash(set->count, [set](uint32_t i) { return set->rules[i].text; }),
                        std::memory_order_relaxed);
    s->rule_count.store(set->count, std::memory_order_relaxed);
  }
  if (g_slot.compare_exchange_strong(expected, s, std::memory_order_acq_rel)) return s;
  // Another thread (or a signal handler) published its slot first: this one stays unused.
  s->pid.store(0, std::memory_order_relaxed);
  return expected;
}

void count_failure(Call call, CodeKind d, int code, Level level, const sockaddr* peer, socklen_t peer_len,
                   bool injected) {
  ctab::Slot* s = slot();
  uint32_t key = ctab::count_key(static_cast<uint32_t>(call), static_cast<uint32_t>(d), code, level);
  // This thread's own entry first (expected flow, EINPROGRESS or accept's
  // EAGAIN, comes from every thread of an event-loop server); the process's
  // when its lane has no room for the key.
  ctab::Lane* l = lane(s);
  if (ctab::CountEntry* e = l ? ctab::entry(l->counts, ctab::kLaneEntries, key) : nullptr) {
    lane_add(e->count, 1);
    if (injected) lane_add(e->injected, 1);
  } else if (ctab::CountEntry* e = ctab::entry(s->counts, ctab::kCountEntries, key)) {
    e->count.fetch_add(1, std::memory_order_relaxed);
    if (injected) e->injected.fetch_add(1, std::memory_order_relaxed);
  } else {
    s->unlisted[static_cast<std::size_t>(ctab::key_category(key))].fetch_add(1, std::memory_order_relaxed);
  }
  // Per peer: real failures only, not expected flow or notices.
  if (d != CodeKind::event && level == Level::error) count_peer(*s, peer, peer_len);
  if (s != &g_own) {
    if (injected) publish_injections(*s);
    publish_unobserved(*s);
  }
}

void count_expected_eagain_claiming(Call c) {
  ctab::Slot* s = slot();
  if (ctab::Lane* l = lane(s)) lane_add(l->expected_eagain[static_cast<std::size_t>(c)], 1);
  else s->expected_eagain[static_cast<std::size_t>(c)].fetch_add(1, std::memory_order_relaxed);
}

void count_retry(Call call, int code) {
  ctab::Slot* s = slot();
  uint32_t key = ctab::count_key(static_cast<uint32_t>(call), static_cast<uint32_t>(CodeKind::errno_code), code);
  if (ctab::CountEntry* e = ctab::entry(s->retries, ctab::kRetryEntries, key))
    e->count.fetch_add(1, std::memory_order_relaxed);
}

void count_dropped_record() {
  ctab::Slot* s = slot();
  s->records_dropped.fetch_add(1, std::memory_order_relaxed);
}

void summary_after_fork() {
  ctab::clear(g_own);
  lanes_after_fork();
  // The parent's calls, not this child's.
  g_unobserved_nested.store(0, std::memory_order_relaxed);
  g_vm_child_calls.store(0, std::memory_order_relaxed);
  g_slot.store(share_attached() ? nullptr : &g_own, std::memory_order_release);
}

void summary_configure() {
  lanes_prepare();
  const Config& cfg = config();
  if (cfg.counters_fd < 0) return;
  const char* why = "";
  if (share_attach(cfg.counters_fd, &why)) {
    lanes_take_shared_from(share_take_lane);
    g_slot.store(nullptr, std::memory_order_release);
    // This thread's lane (counts made before the table was mapped) is of
    // this process's memory: its next count takes one of the table.
    lane_release();
    return;
  }
  // Said at once, not at exit: a death by signal must not hide it too.
  static SummaryWriter w;  // trivially destructible; before main, once
  w.json = true;
  g_summary_fd = open_summary_file(cfg);
  if (g_summary_fd < 0) return;
  note_private(w, why);
  real<Call::close>()(g_summary_fd);
  g_summary_fd = -1;
}

// Calls that passed through unrecorded (interpose.h, vm_children.h).
void write_unobserved(SummaryWriter& w) {
  uint64_t nested = g_unobserved_nested.load(std::memory_order_relaxed);
  uint64_t children = g_vm_child_calls.load(std::memory_order_relaxed);
  if (!nested && !children) return;
  if (w.json) {
    w.start_json("unobserved");
    w.buf.appendf(FMT_COMPILE(",\"nested_handlers\":{},\"memory_sharing_children\":{}}}"), nested, children);
  } else {
    w.start_text();
    w.buf.appendf(FMT_COMPILE("{} calls not observed: {} of signal handlers nested {} deep, {} of children sharing "
                              "the process's memory (vfork, clone)"),
                  nested + children, nested, kObservedDepth + 1, children);
  }
  w.flush();
}

// One line per rule in force: how many faults it injected. Read through the
// rule set's interface (rules.h), as the shared slot's copy is.
void write_injections(SummaryWriter& w) {
  const RuleSet* set = summary_rules();
  if (!set) return;
  for (uint32_t i = 0; i < set->count; ++i) {
    uint64_t n = injections(*set, i);
    if (w.json) {
      w.buf.appendf(FMT_COMPILE("{{\"v\":{},\"summary\":\"inject\",\"pid\":{},\"rule\":"), kRecordSchemaVersion, self_pid());
      w.buf.append_json_string(set->rules[i].text);
      w.buf.appendf(FMT_COMPILE(",\"count\":{}}}"), n);
    } else {
      w.start_text();
      w.buf.put("rule ");
      std::size_t column = w.buf.view().size();
      w.buf.append_text_escaped(set->rules[i].text);
      std::size_t width = w.buf.view().size() - column;
      w.buf.appendf(FMT_COMPILE("{:<{}} {:>9} injected"), "", width < 40 ? 40 - width : 0, n);
    }
    w.flush();
  }
}

void write_summary() {
  static SummaryWriter w;  // trivially destructible: safe at exit
  const Config& cfg = config();
  ctab::Slot* s = g_slot.load(std::memory_order_acquire);
  bool shared = share_attached();
  if (shared) {
    // A process that injected faults, or let calls pass unobserved, but
    // recorded no failure yet takes its slot now.
    if (!s && (injected_any() || unobserved_any())) s = claim_slot();
    if (s && s != &g_own) {
      publish_injections(*s);
      publish_unobserved(*s);
    }
    // What is left to write: counts made before the table was mapped (from
    // other libraries' constructors), or all of them when no slot was free.
    if (s != &g_own && !ctab::holds_anything(g_own) && !private_lanes_hold_anything()) return;
  }
  g_summary_fd = -1;
  if (cfg.summary_path[0]) {
    g_summary_fd = open_summary_file(cfg);
    if (g_summary_fd < 0) return;
  }
  w.json = g_summary_fd >= 0 || cfg.format == Format::json;
  if (shared && s == &g_own) note_private(w, "the counter table had no free slot");
  write_slot(w, g_own);
  // A process with a slot has put these there (publish_*): not twice.
  if (!shared || s == &g_own) {
    write_unobserved(w);
    write_injections(w);
  }
  // Through the real close: a call from inside the library to `close` would
  // otherwise bind to our own hook.
  if (g_summary_fd >= 0) real<Call::close>()(g_summary_fd);
}

}  // namespace sd
