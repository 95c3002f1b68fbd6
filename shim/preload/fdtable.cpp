// fd and connection tracking (see fdtable.h).
#include "fdtable.h"

#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "call_identity.h"
#include "interpose.h"
#include "peer_key.h"

namespace sd {

Conn g_untracked[kChunkSize];

namespace {

// Every slot starts at g_untracked, set when the library is loaded (a
// constant initializer: hooks may run before any constructor).
template <std::size_t... I>
constexpr ChunkTable untracked_table(std::index_sequence<I...>) {
  return ChunkTable{{((void)I, g_untracked)...}};
}

}  // namespace

ChunkTable g_chunks = untracked_table(std::make_index_sequence<kChunks>());

namespace {

std::atomic<int> g_high_fd{-1};  // highest fd ever tracked: bounds the epoll scan

std::atomic<uint64_t> g_process_start_ns{0};

// A connection's local address, kept beside the entries like epoll data.
struct LocalAddr {
  std::atomic<uint64_t> addr[2];  // v4 in the first 4 bytes
  std::atomic<uint32_t> meta;     // family << 16 | port (host order); 0: none
};

// A chunk: its entries, then each fd's epoll data, then each fd's local
// address, then each fd's identity for replay (apart, so that an entry
// stays 64 bytes; few programs touch these pages, and pages never touched
// cost no memory).
constexpr std::size_t kChunkBytes =
    (sizeof(Conn) + sizeof(std::atomic<uint64_t>) + sizeof(LocalAddr) + sizeof(ConnIdentity)) * kChunkSize;

Conn* chunk_for(int fd, bool allocate) {
  if (static_cast<unsigned>(fd) >= static_cast<unsigned>(kMaxTrackedFd)) return nullptr;
  std::atomic<Conn*>& slot = g_chunks.slot[fd >> kChunkBits];
  Conn* c = slot.load(std::memory_order_acquire);
  if (c != g_untracked) return c;
  if (!allocate) return nullptr;
  // mmap, not malloc: socket() may be called from a signal handler. Zeroed
  // pages are valid entries (Kind::unknown), and untouched pages cost no RSS.
  void* mem = mmap(nullptr, kChunkBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  Conn* fresh = static_cast<Conn*>(mem);
  if (slot.compare_exchange_strong(c, fresh, std::memory_order_acq_rel)) return fresh;
  munmap(mem, kChunkBytes);  // another thread won the race
  return c;
}

void reset(Conn* c, Kind kind, uint32_t flags, uint64_t now) {
  c->kind.store(static_cast<uint8_t>(kind), std::memory_order_relaxed);
  c->flags.store(flags, std::memory_order_relaxed);
  c->tx.store(0, std::memory_order_relaxed);
  c->rx.store(0, std::memory_order_relaxed);
  c->opened_ns.store(now, std::memory_order_relaxed);
  c->closed_peer_ns.store(0, std::memory_order_relaxed);
  c->peer_addr[0].store(0, std::memory_order_relaxed);
  c->peer_addr[1].store(0, std::memory_order_relaxed);
  c->peer_meta.store(0, std::memory_order_relaxed);
  c->inject_err.store(0, std::memory_order_relaxed);
  c->inject_rule.store(0, std::memory_order_relaxed);
  c->inject_set.store(0, std::memory_order_relaxed);
}

// The slots of `fd` beside its entry in its `chunk`.
std::atomic<uint64_t>* epoll_in(Conn* chunk, int fd) {
  return reinterpret_cast<std::atomic<uint64_t>*>(chunk + kChunkSize) + (fd & (kChunkSize - 1));
}
LocalAddr* local_in(Conn* chunk, int fd) {
  auto* after_epoll = reinterpret_cast<std::atomic<uint64_t>*>(chunk + kChunkSize) + kChunkSize;
  return reinterpret_cast<LocalAddr*>(after_epoll) + (fd & (kChunkSize - 1));
}
ConnIdentity* identity_in(Conn* chunk, int fd) {
  auto* after_epoll = reinterpret_cast<std::atomic<uint64_t>*>(chunk + kChunkSize) + kChunkSize;
  auto* after_local = reinterpret_cast<LocalAddr*>(after_epoll) + kChunkSize;
  return reinterpret_cast<ConnIdentity*>(after_local) + (fd & (kChunkSize - 1));
}

// The same by fd; nullptr when its chunk was never allocated.
std::atomic<uint64_t>* epoll_slot(int fd) {
  Conn* chunk = chunk_for(fd, false);
  return chunk ? epoll_in(chunk, fd) : nullptr;
}
LocalAddr* local_slot(int fd) {
  Conn* chunk = chunk_for(fd, false);
  return chunk ? local_in(chunk, fd) : nullptr;
}
ConnIdentity* identity_slot(int fd) {
  Conn* chunk = chunk_for(fd, false);
  return chunk ? identity_in(chunk, fd) : nullptr;
}

// A new socket at `fd` (in `chunk`) has no epoll data, identity (replay)
// or local address yet. Read first: storing a zero into a page never
// written would cost a page.
void clear_beside(Conn* chunk, int fd) {
  std::atomic<uint64_t>* epoll = epoll_in(chunk, fd);
  if (epoll->load(std::memory_order_relaxed) != 0) epoll->store(0, std::memory_order_relaxed);
  ConnIdentity* e = identity_in(chunk, fd);
  if (e->ordinal.load(std::memory_order_relaxed) != 0) e->ordinal.store(0, std::memory_order_release);
  LocalAddr* local = local_in(chunk, fd);
  if (local->meta.load(std::memory_order_relaxed) != 0) local->meta.store(0, std::memory_order_relaxed);
}

void note_high(int fd) {
  int high = g_high_fd.load(std::memory_order_relaxed);
  while (fd > high && !g_high_fd.compare_exchange_weak(high, fd, std::memory_order_relaxed)) {
  }
}

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::unknown: return "unknown";
    case Kind::closed: return "closed";
    case Kind::not_socket: return "not-socket";
    case Kind::tcp4: return "tcp4";
    case Kind::tcp6: return "tcp6";
    case Kind::udp4: return "udp4";
    case Kind::udp6: return "udp6";
    case Kind::unix_stream: return "unix-stream";
    case Kind::unix_dgram: return "unix-dgram";
    case Kind::unix_seqpacket: return "unix-seqpacket";
    case Kind::raw4: return "raw4";
    case Kind::raw6: return "raw6";
    case Kind::netlink: return "netlink";
    case Kind::other: return "socket";
  }
  return "unknown";
}

uint64_t now_mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

ConnIdentity* identity_of(int fd) { return identity_slot(fd); }
ConnIdentity* identity_beside(Conn* c, int fd) { return identity_in(c - (fd & (kChunkSize - 1)), fd); }

Conn* get_conn(int fd) {
  Conn* c = chunk_for(fd, true);
  return c ? &c[fd & (kChunkSize - 1)] : nullptr;
}

Kind kind_from(int domain, int type) {
  type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  switch (domain) {
    case AF_INET:
      return type == SOCK_STREAM ? Kind::tcp4 : type == SOCK_DGRAM ? Kind::udp4 : type == SOCK_RAW ? Kind::raw4 : Kind::other;
    case AF_INET6:
      return type == SOCK_STREAM ? Kind::tcp6 : type == SOCK_DGRAM ? Kind::udp6 : type == SOCK_RAW ? Kind::raw6 : Kind::other;
    case AF_UNIX:
      return type == SOCK_STREAM ? Kind::unix_stream : type == SOCK_DGRAM ? Kind::unix_dgram
             : type == SOCK_SEQPACKET ? Kind::unix_seqpacket : Kind::other;
    case AF_NETLINK:
      return Kind::netlink;
    default:
      return Kind::other;
  }
}

void track_socket(int fd, Kind kind, uint32_t flags, uint64_t now_ns) {
  Conn* chunk = chunk_for(fd, true);
  if (!chunk) return;
  reset(&chunk[fd & (kChunkSize - 1)], kind, flags, now_ns);
  clear_beside(chunk, fd);
  note_high(fd);
}

void forget_fd(int fd) {
  if (Conn* c = find_conn(fd)) c->kind.store(static_cast<uint8_t>(Kind::unknown), std::memory_order_relaxed);
}

void mark_closed(int fd) {
  if (Conn* c = find_conn(fd)) c->kind.store(static_cast<uint8_t>(Kind::closed), std::memory_order_relaxed);
}

void forget_range(unsigned first, unsigned last) {
  int high = g_high_fd.load(std::memory_order_relaxed);
  if (high < 0) return;
  if (last > static_cast<unsigned>(high)) last = static_cast<unsigned>(high);
  for (unsigned fd = first; fd <= last; ++fd) forget_fd(static_cast<int>(fd));
}

void copy_fd(int from, int to) {
  Conn* src = find_conn(from);
  Kind k = src ? src->get_kind() : Kind::unknown;
  if (!is_socket(k)) {
    forget_fd(to);
    return;
  }
  Conn* dst = get_conn(to);
  if (!dst) return;
  // A dup names the same socket: its history is shared from here on, as a
  // snapshot (the kernel keeps one socket; we keep per-fd counters).
  dst->kind.store(static_cast<uint8_t>(k), std::memory_order_relaxed);
  dst->flags.store(src->flags.load(std::memory_order_relaxed), std::memory_order_relaxed);
  dst->tx.store(src->tx.load(std::memory_order_relaxed), std::memory_order_relaxed);
  dst->rx.store(src->rx.load(std::memory_order_relaxed), std::memory_order_relaxed);
  dst->opened_ns.store(src->opened_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
  dst->closed_peer_ns.store(src->closed_peer_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
  dst->peer_addr[0].store(src->peer_addr[0].load(std::memory_order_relaxed), std::memory_order_relaxed);
  dst->peer_addr[1].store(src->peer_addr[1].load(std::memory_order_relaxed), std::memory_order_relaxed);
  dst->peer_meta.store(src->peer_meta.load(std::memory_order_relaxed), std::memory_order_relaxed);
  dst->inject_err.store(src->inject_err.load(std::memory_order_relaxed), std::memory_order_relaxed);
  dst->inject_rule.store(src->inject_rule.load(std::memory_order_relaxed), std::memory_order_relaxed);
  dst->inject_set.store(src->inject_set.load(std::memory_order_relaxed), std::memory_order_relaxed);
  // The copy is a socket of its own for replay: its key is given on first
  // use. Its local address is the original's.
  Conn* to_chunk = chunk_for(to, false);
  if (to_chunk) clear_beside(to_chunk, to);
  LocalAddr* from_local = local_slot(from);
  LocalAddr* to_local = to_chunk ? local_in(to_chunk, to) : nullptr;
  if (from_local && to_local) {
    to_local->addr[0].store(from_local->addr[0].load(std::memory_order_relaxed), std::memory_order_relaxed);
    to_local->addr[1].store(from_local->addr[1].load(std::memory_order_relaxed), std::memory_order_relaxed);
    to_local->meta.store(from_local->meta.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
  note_high(to);
}

Kind classify(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return Kind::closed;  // not an open descriptor
  if (!S_ISSOCK(st.st_mode)) return Kind::not_socket;
  int domain = 0;
  socklen_t len = sizeof(domain);
  if (real<Call::getsockopt>()(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return Kind::other;
  int type = socket_type(fd);
  return type ? kind_from(domain, type) : Kind::other;
}

int socket_type(int fd) {
  int type = 0;
  socklen_t len = sizeof(type);
  int saved = errno;
  if (real<Call::getsockopt>()(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) type = 0;
  errno = saved;
  return type;
}

Kind kind_of(int fd) {
  // get_conn, not find_conn: the answer "not a socket" must be remembered,
  // or every write to stdout would ask the kernel again.
  Conn* c = get_conn(fd);
  Kind k = c ? c->get_kind() : Kind::unknown;
  if (!is_unclassified(k)) return k;
  int saved = errno;
  k = classify(fd);
  errno = saved;
  // Not open: nothing is stored, so that a socket the program closed keeps
  // its mark (a later read or write on it is a use after close).
  if (k == Kind::closed) return Kind::not_socket;
  if (k == Kind::not_socket) {
    if (c) c->kind.store(static_cast<uint8_t>(Kind::not_socket), std::memory_order_relaxed);
    return k;
  }
  // A socket we did not see created (inherited, SCM_RIGHTS): older than
  // anything the library saw, so its history is counted from the start of
  // this process, and its timeouts are unknown until asked. Its addresses
  // are asked once, now: after a reset the kernel no longer tells the peer.
  uint64_t start = process_start_ns();
  track_socket(fd, k, cf_rcvtimeo | cf_sndtimeo | cf_established | cf_inherited, start ? start : now_mono_ns());
  if (is_inet(k)) {
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) set_peer(get_conn(fd), reinterpret_cast<sockaddr*>(&ss), len);
    learn_local(fd);
  }
  errno = saved;
  return k;
}

void remember_local(int fd, const sockaddr* addr, socklen_t len) {
  LocalAddr* slot = local_slot(fd);
  PeerKey k;
  if (!slot || !PeerKey::pack(addr, len, &k)) return;
  slot->addr[0].store(k.words[0], std::memory_order_relaxed);
  slot->addr[1].store(k.words[1], std::memory_order_relaxed);
  slot->meta.store(k.meta, std::memory_order_relaxed);
}

void learn_local(int fd) {
  if (!local_slot(fd)) return;
  int saved = errno;
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) remember_local(fd, reinterpret_cast<sockaddr*>(&ss), len);
  errno = saved;
}

void clear_local(int fd) {
  LocalAddr* slot = local_slot(fd);
  if (slot && slot->meta.load(std::memory_order_relaxed) != 0) slot->meta.store(0, std::memory_order_relaxed);
}

bool cached_local(int fd, sockaddr_storage* out, socklen_t* len) {
  LocalAddr* slot = local_slot(fd);
  uint32_t meta = slot ? slot->meta.load(std::memory_order_relaxed) : 0;
  if (meta == 0) return false;
  PeerKey k{{slot->addr[0].load(std::memory_order_relaxed), slot->addr[1].load(std::memory_order_relaxed)}, meta};
  k.unpack(out, len);
  return true;
}

void note_process_start() {
  uint64_t zero = 0;
  g_process_start_ns.compare_exchange_strong(zero, now_mono_ns(), std::memory_order_relaxed);
}

uint64_t process_start_ns() { return g_process_start_ns.load(std::memory_order_relaxed); }

void set_peer(Conn* c, const sockaddr* addr, socklen_t len) {
  if (!c || !addr) return;
  PeerKey k;
  if (!PeerKey::pack(addr, len, &k)) return;  // unix peers are asked for live (getpeername) when reported
  c->peer_addr[0].store(k.words[0], std::memory_order_relaxed);
  c->peer_addr[1].store(k.words[1], std::memory_order_relaxed);
  c->peer_meta.store(k.meta, std::memory_order_relaxed);
}

bool cached_peer(const Conn* c, sockaddr_storage* out, socklen_t* len) {
  if (!c) return false;
  uint32_t meta = c->peer_meta.load(std::memory_order_relaxed);
  if (meta == 0) return false;
  PeerKey k{{c->peer_addr[0].load(std::memory_order_relaxed), c->peer_addr[1].load(std::memory_order_relaxed)}, meta};
  k.unpack(out, len);
  return true;
}

void set_epoll_data(int fd, uint64_t data) {
  if (std::atomic<uint64_t>* slot = epoll_slot(fd)) slot->store(data, std::memory_order_relaxed);
}

int fd_of_epoll_data(uint64_t data) {
  int high = g_high_fd.load(std::memory_order_relaxed);
  for (int fd = 0; fd <= high; ++fd) {
    Conn* c = find_conn(fd);
    if (c && is_socket(c->get_kind()) && epoll_slot(fd)->load(std::memory_order_relaxed) == data) return fd;
  }
  return -1;
}

}  // namespace sd
