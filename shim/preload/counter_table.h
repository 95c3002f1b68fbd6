// The layout of the failure counters, shared by the library (which counts)
// and `sockdiag run --summary` (which creates the table and reads it).
//
// A process counts into one Slot. Alone (LD_PRELOAD without `sockdiag
// run`), the slot is in its own memory and written out at exit. Under
// `sockdiag run --summary`, the slots live in a memfd that the command
// creates and the whole tree inherits (SOCKDIAG_COUNTERS=fd:N) and maps
// MAP_SHARED before main: every count is in the command's memory the moment
// it is made, so a process killed by a signal, ending with _exit, or running
// as another user (a privilege drop after start-up) loses nothing.
//
// Fixed layout, no pointers, lock-free atomics only (address-free, so they
// work across processes): counting is a CAS or a fetch_add, never a lock, in
// any thread, in a signal handler, in a forked child.
//
// A process's threads count the expected flow (and any outcome their block
// has room for) into a Lane of their own (per_thread_counts.h), tagged with
// the process's slot: no cache line that all its threads write. A reader adds
// a slot's lanes to it (for_each_row).
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "calls.h"
#include "count_category.h"
#include "explain.h"
#include "peer_key.h"

namespace sd::ctab {

constexpr uint32_t kMagic = 0x54434453;  // "SDCT" in memory
// Any change to the structures below changes this number.
constexpr uint32_t kVersion = 3;
constexpr uint32_t kSlots = 4096;         // processes per tree; later ones count at exit only
constexpr uint32_t kLanes = 8192;         // threads counting per tree; later ones count into their slot
constexpr uint32_t kLaneEntries = 16;     // distinct (call, code) per thread; more go to the slot
constexpr uint32_t kMaxCalls = 64;        // >= the number of hooked calls (checked by the library)
constexpr uint32_t kCountEntries = 256;   // distinct (call, code) per process
constexpr uint32_t kRetryEntries = 128;   // (call, errno) retried: the 3 retryable errors x the ~30 calls that retry
constexpr uint32_t kPeerEntries = 128;    // distinct peers per process
constexpr uint32_t kRuleEntries = 64;     // injection rules counted one by one

static_assert(std::atomic<uint32_t>::is_always_lock_free && std::atomic<uint64_t>::is_always_lock_free,
              "counters shared between processes must be lock-free");

// One (call, code) or (call, errno retried): key 0 is an empty entry; an
// entry is claimed by a CAS of its key, so two threads (or a thread and a
// signal handler) inserting the same key end in the same entry.
struct CountEntry {
  std::atomic<uint32_t> key;
  std::atomic<uint32_t> count;
  std::atomic<uint32_t> injected;
};

// The entry of `key` in an open-addressing table of n (a power of two)
// entries, made if need be: claimed by a CAS of the key, so that racing
// inserts of one key (two threads, or a thread and its own signal handler)
// meet in one entry. nullptr: the table is full.
inline CountEntry* entry(CountEntry* table, uint32_t n, uint32_t key) {
  uint32_t h = (key * 0x9e3779b1u) >> 16;
  for (uint32_t probe = 0; probe < n; ++probe) {
    CountEntry& e = table[(h + probe) & (n - 1)];
    uint32_t k = e.key.load(std::memory_order_relaxed);
    if (k == 0 && e.key.compare_exchange_strong(k, key, std::memory_order_relaxed)) return &e;
    if (k == key) return &e;  // after a failed CAS, k is the key that won
  }
  return nullptr;
}

// Level, code kind and code packed with the call's index (+1: never 0). The
// level is the record's (report.cpp), known only when the failure happens:
// one (call, code) may be expected flow in one situation and a failure in
// another (EAGAIN without or with SO_RCVTIMEO), so it is part of the key.
// Retries are counted with level off (0). Codes fit 16 bits: errno values,
// glibc's negative EAI_* values, small event numbers.
constexpr uint32_t count_key(uint32_t call, uint32_t code_kind, int code, Level level = Level::off) {
  return (call + 1) << 24 | (static_cast<uint32_t>(level) & 0xf) << 20 | (code_kind & 0xf) << 16 |
         (static_cast<uint32_t>(code) & 0xffff);
}
constexpr uint32_t key_call(uint32_t key) { return (key >> 24) - 1; }
constexpr Level key_level(uint32_t key) { return static_cast<Level>((key >> 20) & 0xf); }
constexpr uint32_t key_code_kind(uint32_t key) { return (key >> 16) & 0xf; }
constexpr int key_code(uint32_t key) { return static_cast<int16_t>(key & 0xffff); }
constexpr Category key_category(uint32_t key) {
  return category_of(static_cast<CodeKind>(key_code_kind(key)), key_code(key), key_level(key));
}
// The level of the fast path's expected EAGAIN (expected_eagain below): the
// one report() gives an EAGAIN on a socket without SO_RCVTIMEO/SO_SNDTIMEO,
// which can only mean "would block" (explain.cpp's rows; checked by a unit test).
constexpr Level kExpectedEagainLevel = Level::debug;
constexpr uint32_t expected_eagain_key(uint32_t call) {
  return count_key(call, static_cast<uint32_t>(CodeKind::errno_code), EAGAIN, kExpectedEagainLevel);
}

// Failures by peer. The key is wider than one CAS: `state` is claimed first
// (0 empty, 1 being filled, 2 ready); a racing insert of the same peer may
// make a second entry, added up by whoever reads.
struct PeerEntry {
  std::atomic<uint32_t> state;
  std::atomic<uint32_t> meta;  // family << 16 | port
  std::atomic<uint64_t> addr[2];
  std::atomic<uint32_t> failures;
};

// The address a peer entry holds, as a sockaddr.
inline socklen_t peer_sockaddr(const PeerEntry& p, sockaddr_storage* ss) {
  PeerKey k{{p.addr[0].load(std::memory_order_relaxed), p.addr[1].load(std::memory_order_relaxed)},
            p.meta.load(std::memory_order_relaxed)};
  socklen_t len;
  k.unpack(ss, &len);
  return len;
}

inline bool same_peer(const PeerEntry& a, const PeerEntry& b) {
  return a.meta.load(std::memory_order_relaxed) == b.meta.load(std::memory_order_relaxed) &&
         a.addr[0].load(std::memory_order_relaxed) == b.addr[0].load(std::memory_order_relaxed) &&
         a.addr[1].load(std::memory_order_relaxed) == b.addr[1].load(std::memory_order_relaxed);
}

struct Slot {
  // Set once when a process claims the slot (then read only by the command,
  // after the tree has ended). pid 0: a slot handed out but never used.
  std::atomic<int32_t> pid;
  char prog[16];             // program_name() (progname.h), cut, NUL-terminated
  std::atomic<uint64_t> rules_hash;  // rules_hash() of the process's own rules: names rule_injections
  std::atomic<uint32_t> rule_count;
  std::atomic<uint32_t> expected_eagain[kMaxCalls];  // the hot path's own counter, by call
  CountEntry counts[kCountEntries];
  CountEntry retries[kRetryEntries];
  PeerEntry peers[kPeerEntries];
  std::atomic<uint64_t> rule_injections[kRuleEntries];
  std::atomic<uint64_t> rules_beyond;  // injections by rules past kRuleEntries, added up
  std::atomic<uint32_t> unlisted[kCategoryCount];  // outcomes whose (call, code, level) found no free entry
  std::atomic<uint32_t> unlisted_peers;
  std::atomic<uint64_t> records_dropped;  // records the log could not take (count_dropped_record)
  // Calls that passed through unobserved (interpose.h, vm_children.h):
  // copied from the process's own counters as they rise, never lowered.
  std::atomic<uint64_t> unobserved_nested;
  std::atomic<uint64_t> unobserved_vm_children;
};

// One thread's counters: written by that thread alone (one instruction per
// count, per_thread_counts.h), read by anyone.
struct alignas(64) Lane {
  // 1 + the index of the slot it counts for; 0: a private lane (in the
  // process's own memory), or one of the table not handed out yet.
  std::atomic<uint32_t> slot;
  std::atomic<uint32_t> expected_eagain[kMaxCalls];
  CountEntry counts[kLaneEntries];
};
static_assert((kLaneEntries & (kLaneEntries - 1)) == 0 && (kCountEntries & (kCountEntries - 1)) == 0 &&
                  (kRetryEntries & (kRetryEntries - 1)) == 0,
              "entry() masks with n - 1");

struct Header {
  uint32_t magic;
  uint32_t version;
  uint64_t size;        // of the whole table, in bytes
  uint32_t slot_count;
  uint32_t call_count;  // hooked calls known to the command that made the table
  uint64_t calls_hash;  // calls_hash() of their names: call indexes mean the same on both sides
  // Slots handed out so far; beyond slot_count, each is a process that found
  // none (it counts privately and writes its summary at exit).
  std::atomic<uint32_t> next_slot;
  std::atomic<uint32_t> next_lane;  // lanes handed out so far, as next_slot
};

struct Table {
  Header header;
  alignas(64) Slot slots[kSlots];
  Lane lanes[kLanes];
};

// FNV-1a, for the two fingerprints above.
constexpr uint64_t fnv1a(uint64_t h, const char* s) {
  for (; *s; ++s) h = (h ^ static_cast<unsigned char>(*s)) * 0x100000001b3ull;
  return (h ^ 0xff) * 0x100000001b3ull;  // a separator: ("ab","c") != ("a","bc")
}
constexpr uint64_t kFnvStart = 0xcbf29ce484222325ull;

// The hooked calls, in Call order (calls.h): the command reads a call's
// index in a key through the same table the library counted with.
constexpr uint32_t kCallCount = static_cast<uint32_t>(sd::kCallCount);
// The call a key counts; "?" for an index no build of this table has (the
// table is memory the processes of the tree can write).
inline const char* key_call_name(uint32_t key) {
  uint32_t c = key_call(key);
  return c < kCallCount ? kHookNames[c] : "?";
}
static_assert(kCallCount <= kMaxCalls, "raise kMaxCalls (and kVersion)");

// The fingerprint of a process's rules (their normal form, in order), so
// that the command names a slot's rule_injections[i] only with the same rules.
template <class TextAt>
uint64_t rules_hash(uint32_t count, TextAt text_at) {
  uint64_t h = kFnvStart;
  for (uint32_t i = 0; i < count; ++i) h = fnv1a(h, text_at(i));
  return h;
}

constexpr uint64_t calls_hash() {
  uint64_t h = kFnvStart;
  for (const char* n : kHookNames) h = fnv1a(h, n);
  return h;
}

// Is `t` (of `size` bytes) a table this build can count into? nullptr when
// it is, else what is wrong.
inline const char* check(const Table* t, uint64_t size) {
  if (size < sizeof(Header) || t->header.magic != kMagic) return "the fd holds no sockdiag counter table";
  if (t->header.version != kVersion || t->header.size != sizeof(Table) || size != sizeof(Table) ||
      t->header.slot_count != kSlots)
    return "the counter table is of another sockdiag version";
  if (t->header.call_count != kCallCount || t->header.calls_hash != calls_hash())
    return "the counter table is of a sockdiag build that hooks other calls";
  return nullptr;
}

// Every (call, code, level) count of a slot or a lane (`Counts`: either,
// both hold `counts` and `expected_eagain`), the expected EAGAIN of the fast
// path as the rows of its key: row(key, count, injected), a key possibly
// more than once (readers add them up).
template <class Counts, class Row>
void for_each_row(const Counts& s, Row row) {
  for (const CountEntry& e : s.counts)
    if (uint32_t key = e.key.load(std::memory_order_relaxed))
      row(key, e.count.load(std::memory_order_relaxed), e.injected.load(std::memory_order_relaxed));
  for (uint32_t c = 0; c < kCallCount; ++c)
    if (uint32_t n = s.expected_eagain[c].load(std::memory_order_relaxed)) row(expected_eagain_key(c), n, 0u);
}

inline bool holds_anything(const Lane& l) {
  bool any = false;
  for_each_row(l, [&any](uint32_t, uint32_t n, uint32_t injected) { any = any || n || injected; });
  return any;
}

// Did the process of this slot count anything (its lanes aside)?
inline bool holds_anything(const Slot& s) {
  for (const auto& a : s.expected_eagain)
    if (a.load(std::memory_order_relaxed)) return true;
  for (const CountEntry& e : s.counts)
    if (e.key.load(std::memory_order_relaxed)) return true;
  for (const CountEntry& e : s.retries)
    if (e.key.load(std::memory_order_relaxed)) return true;
  for (const auto& a : s.rule_injections)
    if (a.load(std::memory_order_relaxed)) return true;
  for (const auto& a : s.unlisted)
    if (a.load(std::memory_order_relaxed)) return true;
  return s.rules_beyond.load(std::memory_order_relaxed) || s.records_dropped.load(std::memory_order_relaxed) ||
         s.unobserved_nested.load(std::memory_order_relaxed) ||
         s.unobserved_vm_children.load(std::memory_order_relaxed);
}

// Zeroes a slot the way its users touch it: atomically (a forked child
// resets its private slot while nothing orders the parent's other threads'
// last counts before it; ThreadSanitizer reports a plain write as a race).
inline void clear(Slot& s) {
  auto zero = [](auto& a) { a.store(0, std::memory_order_relaxed); };
  zero(s.pid);
  s.prog[0] = '\0';
  zero(s.rules_hash);
  zero(s.rule_count);
  for (auto& a : s.expected_eagain) zero(a);
  auto zero_entry = [&zero](CountEntry& e) {
    zero(e.key);
    zero(e.count);
    zero(e.injected);
  };
  for (CountEntry& e : s.counts) zero_entry(e);
  for (CountEntry& e : s.retries) zero_entry(e);
  for (PeerEntry& p : s.peers) {
    zero(p.state);
    zero(p.failures);
  }
  for (auto& a : s.rule_injections) zero(a);
  zero(s.rules_beyond);
  for (auto& a : s.unlisted) zero(a);
  zero(s.unlisted_peers);
  zero(s.records_dropped);
  zero(s.unobserved_nested);
  zero(s.unobserved_vm_children);
}

inline void clear(Lane& l) {
  l.slot.store(0, std::memory_order_relaxed);
  for (auto& a : l.expected_eagain) a.store(0, std::memory_order_relaxed);
  for (CountEntry& e : l.counts) {
    e.key.store(0, std::memory_order_relaxed);
    e.count.store(0, std::memory_order_relaxed);
    e.injected.store(0, std::memory_order_relaxed);
  }
}

}  // namespace sd::ctab
