// fd and connection tracking: which fds are sockets, of what kind, with which
// peer, and the history of each connection (bytes, age, state).
#pragma once
#include <sys/socket.h>

#include <atomic>
#include <cstdint>

#include "interpose.h"

namespace sd {

enum class Kind : uint8_t {
  unknown = 0,  // never seen (inherited by exec, received by SCM_RIGHTS...): classified lazily
  closed,       // a socket the program closed; the number may be reused behind the hooks
  not_socket,
  tcp4, tcp6, udp4, udp6, unix_stream, unix_dgram, raw4, raw6, netlink,
  // Last, the kinds that can be SOCK_SEQPACKET (see may_be_seqpacket).
  unix_seqpacket, other,
};
const char* kind_name(Kind);
inline bool is_socket(Kind k) { return k >= Kind::tcp4; }
inline bool is_inet(Kind k) { return k >= Kind::tcp4 && k <= Kind::udp6; }
inline bool is_datagram(Kind k) { return k == Kind::udp4 || k == Kind::udp6 || k == Kind::unix_dgram; }
// Not known now: to be asked of the kernel when it matters.
inline bool is_unclassified(Kind k) { return k <= Kind::closed; }
inline bool may_be_seqpacket(Kind k) { return k >= Kind::unix_seqpacket; }
// Known not to be a socket, or a socket that cannot be SOCK_SEQPACKET: one
// unsigned comparison, for the write fast path.
inline bool plain_kind(Kind k) {
  return static_cast<uint8_t>(static_cast<uint8_t>(k) - static_cast<uint8_t>(Kind::not_socket)) <
         static_cast<uint8_t>(Kind::unix_seqpacket) - static_cast<uint8_t>(Kind::not_socket);
}

enum ConnFlag : uint32_t {
  cf_connect_pending = 1u << 0,  // non-blocking connect returned EINPROGRESS
  cf_established = 1u << 1,      // connect succeeded, or accepted
  cf_listening = 1u << 2,
  cf_err_pending = 1u << 3,      // poll/epoll reported POLLERR; the reason is not read yet
  cf_eof_seen = 1u << 4,         // recv returned 0 once (reported once)
  cf_rcvtimeo = 1u << 5,         // SO_RCVTIMEO set: EAGAIN may be the program's own timeout
  cf_sndtimeo = 1u << 6,
  cf_reset = 1u << 7,            // aborted by an injected reset
  cf_eof_forced = 1u << 8,       // an injected end of stream: recv keeps returning 0
  cf_peer_closed = 1u << 9,      // EPIPE/ECONNRESET met: later calls are explained by it
  cf_inject_pending = 1u << 10,  // an injected connect failure waits in inject_err
  cf_inherited = 1u << 11,       // learned on first use (inherited, SCM_RIGHTS): older than its history
  // An injected fault shaped this connection: every record of the socket is
  // marked with inject_rule until it is closed or connects anew.
  cf_injected = 1u << 12,
  cf_injected_connecting = 1u << 13,  // the next connect continues the injected attempt
  cf_inject_unconnected = 1u << 14,   // that attempt was never made: the socket is really unconnected
  cf_user_timeout_set = 1u << 15,     // TCP_USER_TIMEOUT is the injected wait; inject_err holds the program's
  cf_bound = 1u << 16,               // bind() succeeded: a failed connect keeps the address the program chose
  cf_stalled = 1u << 17,             // an injected stall holds the connection (inject_stall.h)
  cf_shut_rd = 1u << 18,             // the program shut it down for reading: reads return 0, no FIN meant
  cf_shut_wr = 1u << 19,             // the program shut it down for writing: writes fail with EPIPE, no peer meant
};

// One fd's entry. All fields are atomics (relaxed): hooks on many threads
// read and write them without locks; a torn view only affects a diagnostic.
struct Conn {
  std::atomic<uint8_t> kind;
  std::atomic<uint8_t> inject_set;     // the number of the rule set inject_rule is of (rule_set_number)
  std::atomic<uint16_t> inject_rule;   // rule index + 1 of the fault that shaped it (cf_injected; 0: none)
  std::atomic<uint32_t> flags;
  std::atomic<uint64_t> tx, rx;        // bytes sent / received so far
  std::atomic<uint64_t> opened_ns;     // CLOCK_MONOTONIC when created
  std::atomic<uint64_t> closed_peer_ns;  // when the peer was seen gone (0: never)
  std::atomic<uint64_t> peer_addr[2];  // the peer's address, v4 in the first 4 bytes
  std::atomic<uint32_t> peer_meta;     // family << 16 | port (host order)
  std::atomic<int32_t> inject_err;     // error of an injected failed connect, not read yet (or cf_user_timeout_set)

  Kind get_kind() const { return static_cast<Kind>(kind.load(std::memory_order_relaxed)); }
  bool has(uint32_t f) const { return flags.load(std::memory_order_relaxed) & f; }
  void set(uint32_t f) { flags.fetch_or(f, std::memory_order_relaxed); }
  void clear(uint32_t f) { flags.fetch_and(~f, std::memory_order_relaxed); }
};

// 64 bytes: the hot path finds an entry with one shift, and 10,000 sockets
// take 625 KiB. (epoll's data, rarely used, is kept beside the entries.)
static_assert(sizeof(Conn) == 64, "an fd entry is 64 bytes");

// Highest fd tracked + 1; entries are allocated in chunks on first use (mmap,
// so that creating a socket from a signal handler never calls malloc).
constexpr int kMaxTrackedFd = 1 << 20;

constexpr int kChunkBits = 12;
constexpr int kChunkSize = 1 << kChunkBits;
constexpr int kChunks = kMaxTrackedFd >> kChunkBits;

// Until a socket is tracked in its range, a slot points to this chunk: all
// entries Kind::unknown and never written (nothing writes to an entry of that
// kind), so that the hot path looks any fd up without a null test.
extern Conn g_untracked[kChunkSize] SD_HOT_DATA;
struct ChunkTable {
  std::atomic<Conn*> slot[kChunks];
};
extern ChunkTable g_chunks SD_HOT_DATA;

// The read/write fast path's entry of `fd`: its own, or an untracked one;
// nullptr only when out of range. Only its byte counters are written, and
// only when its kind is a socket.
inline Conn* fd_entry(int fd) {
  auto u = static_cast<unsigned>(fd);
  if (__builtin_expect(u >= static_cast<unsigned>(kMaxTrackedFd), 0)) return nullptr;
  Conn* chunk = g_chunks.slot[u >> kChunkBits].load(std::memory_order_acquire);
  if (chunk == nullptr) __builtin_unreachable();  // a slot always points to a chunk: no test for it
  return &chunk[u & (kChunkSize - 1)];
}

// The entry of `fd`, or nullptr when its chunk was never allocated (an fd
// libsockdiag never saw being created) or it is out of range. No allocation.
inline Conn* find_conn(int fd) {
  if (static_cast<unsigned>(fd) >= static_cast<unsigned>(kMaxTrackedFd)) return nullptr;
  Conn* chunk = g_chunks.slot[fd >> kChunkBits].load(std::memory_order_acquire);
  return chunk != g_untracked ? &chunk[fd & (kChunkSize - 1)] : nullptr;
}
// The entry of `fd`, allocating its chunk; nullptr only if out of range or
// out of memory.
Conn* get_conn(int fd);

// A socket was created at fd (socket, accept, socketpair): a fresh entry.
void track_socket(int fd, Kind kind, uint32_t flags, uint64_t now_ns);
// `fd` is being closed or replaced: forget it BEFORE the real close, since
// another thread may get the same number back at once.
void forget_fd(int fd);
// The program closes the socket `fd`: like forget_fd, but a second close of
// the same number can then be told apart (a double close).
void mark_closed(int fd);
void forget_range(unsigned first, unsigned last);
// dup/dup2/dup3/F_DUPFD: `to` now names the same socket as `from`.
void copy_fd(int from, int to);
// The kind of fd, asking the kernel (fstat, SO_TYPE, SO_DOMAIN);
// Kind::closed when it is not an open descriptor.
Kind classify(int fd);
// SO_TYPE of a socket fd (SOCK_STREAM...), 0 when the kernel does not say.
int socket_type(int fd);
// Kind of `fd`, classifying it lazily (cold paths only: it may make syscalls).
Kind kind_of(int fd);
Kind kind_from(int domain, int type);

void set_peer(Conn*, const sockaddr* addr, socklen_t len);
// The local address of the socket `fd`, asked of the kernel once the
// connection is established and remembered: an injected abort
// (connect(AF_UNSPEC)) leaves the kernel a wildcard address, and a record
// then costs no getsockname.
void learn_local(int fd);
// Remembers `addr` as the local address of `fd` (a record asked for it).
void remember_local(int fd, const sockaddr* addr, socklen_t len);
// A new connection attempt: the remembered address is the old one's.
void clear_local(int fd);
// The remembered local address; false when none was.
bool cached_local(int fd, sockaddr_storage* out, socklen_t* len);
// CLOCK_MONOTONIC when this process started (the library was loaded): the
// start of what the library can know of an inherited connection.
void note_process_start();
uint64_t process_start_ns();
// The cached peer as a sockaddr; false when none was recorded.
bool cached_peer(const Conn*, sockaddr_storage* out, socklen_t* len);

// The identity of the socket `fd` for replay (call_identity.h), kept beside
// its entry; nullptr when its chunk was never allocated.
struct ConnIdentity;
ConnIdentity* identity_of(int fd);
// The same from `c`, the entry of `fd` (find_conn): no second lookup.
ConnIdentity* identity_beside(Conn* c, int fd);

// The last epoll_event.data the program registered for the socket `fd`,
// and the reverse lookup of an epoll event to its fd (cold: a scan; -1 when
// unknown).
void set_epoll_data(int fd, uint64_t data);
int fd_of_epoll_data(uint64_t data);

uint64_t now_mono_ns();

}  // namespace sd
