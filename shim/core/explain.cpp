// The explanation table and the name/message look-ups around it.
//
// Linked into the LD_PRELOAD library, where explain/code_name/code_message
// run inside hooked calls, possibly in signal handlers: everything here is
// static data plus loops over it. No allocation, no locks, no locale
// (strerror may call gettext and malloc; strerrordesc_np/strerrorname_np
// index glibc's constant tables; gai_strerror is replaced by our own table).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // strerrorname_np, strerrordesc_np, the GNU EAI_* codes
#endif
#include "explain.h"

#include <netdb.h>

#include <cerrno>
#include <cstring>

#include "calls.h"

namespace sd {
namespace {

constexpr CodeKind kErr = CodeKind::errno_code;
constexpr CodeKind kGai = CodeKind::gai;
constexpr CodeKind kEv = CodeKind::event;
using C = CallClass;
using L = Level;

// Rows of one code stay together, most specific first: explain() takes the
// first row that applies.
constexpr Explanation kRows[] = {
    // ---- EAGAIN (EWOULDBLOCK has the same value on Linux) ----
    {kErr, EAGAIN, C::send, sit_own_timeout, L::error, "EAGAIN",
     "The program's own send timeout (SO_SNDTIMEO on fd {fd}) expired while the send buffer stayed "
     "full: {peer} did not read the data, or the network did not carry it, fast enough. This call "
     "sent nothing.",
     "Check whether {peer} still reads (a growing Send-Q for the connection in `ss -tnp`); raise "
     "SO_SNDTIMEO if the peer is only slow, otherwise treat it as stalled and close the connection."},
    {kErr, EAGAIN, C::recv, sit_own_timeout, L::error, "EAGAIN",
     "The program's own receive timeout (SO_RCVTIMEO on fd {fd}) expired: {peer} sent nothing "
     "within it. The socket itself is still usable.",
     "Find out why {peer} is silent (still working on the request, waiting for us, hung); raise "
     "SO_RCVTIMEO if answers can legitimately take longer."},
    {kErr, EAGAIN, C::accept, sit_own_timeout, L::info, "EAGAIN",
     "No client connected to {local} within the program's own SO_RCVTIMEO on the listening socket.",
     "Nothing to fix if the program waits for clients this way; if clients were expected, check "
     "that they reach {local} (`ss -ltn` here, their own errors)."},
    {kErr, EAGAIN, C::send, sit_nonblocking | sit_datagram | sit_unix, L::debug, "EAGAIN",
     "The receiving socket {peer} has its queue full: its process reads datagrams more slowly than "
     "they are sent. Normal flow control on a non-blocking socket; nothing was sent.",
     "Wait for POLLOUT before sending again; if the reader is only slow, raise "
     "net.unix.max_dgram_qlen or the receiver's SO_RCVBUF."},
    {kErr, EAGAIN, C::send, sit_nonblocking, L::debug, "EAGAIN",
     "The socket's send buffer is full: {peer} is not reading as fast as the program writes, or the "
     "network is slower than the program. Normal flow control on a non-blocking socket; nothing was "
     "sent.",
     "Wait for POLLOUT/EPOLLOUT before writing again; if it lasts, look at the connection's Send-Q in "
     "`ss -tnp` and at whether {peer} still reads."},
    {kErr, EAGAIN, C::recv, sit_nonblocking, L::debug, "EAGAIN",
     "Nothing to read yet on fd {fd}: no data from {peer} has arrived since the last read. Normal on "
     "a non-blocking socket.",
     "Wait for POLLIN/EPOLLIN before reading again; with edge-triggered epoll, reading until EAGAIN "
     "is exactly what is expected."},
    {kErr, EAGAIN, C::accept, sit_nonblocking, L::debug, "EAGAIN",
     "No pending connection on the listening socket {local}: none has arrived, or another thread or "
     "process accepted it first. Normal on a non-blocking listener.",
     "Wait for POLLIN/EPOLLIN on the listening socket before calling accept again."},
    {kErr, EAGAIN, C::connect, sit_unix, L::error, "EAGAIN",
     "The listening socket {peer} has its backlog full: its server does not accept connections as "
     "fast as they arrive, or has stopped accepting. A non-blocking connect fails at once, a blocking "
     "one when its SO_SNDTIMEO expires.",
     "Check that the server behind {peer} is alive and accepting (`ss -xlp`: Recv-Q counts waiting "
     "connections, Send-Q is the backlog); raise its listen() backlog (capped by net.core.somaxconn) "
     "or retry later."},
    {kErr, EAGAIN, C::connect, 0, L::error, "EAGAIN",
     "No free local port was left to bind the socket automatically before connecting to {peer}: the "
     "ephemeral port range is used up. (For TCP, Linux reports the same condition as "
     "EADDRNOTAVAIL.)",
     "Count sockets per state (`ss -s`, `ss -uan | wc -l`); close sockets that are no longer needed, "
     "or widen net.ipv4.ip_local_port_range."},
    {kErr, EAGAIN, C::any, 0, L::error, "EAGAIN",
     "{call} could not complete without blocking: the socket was not ready (non-blocking socket or "
     "MSG_DONTWAIT), or a blocking call's SO_RCVTIMEO/SO_SNDTIMEO expired. EWOULDBLOCK is the same "
     "code.",
     "Wait for readiness with poll/epoll and retry; check the socket's flags (fcntl F_GETFL) and "
     "timeouts (getsockopt SO_RCVTIMEO/SO_SNDTIMEO)."},

    // ---- EINTR ----
    {kErr, EINTR, C::connect, 0, L::info, "EINTR",
     "A signal arrived while connect to {peer} was waiting; the handshake goes on in the kernel. "
     "Calling connect again waits for it on Linux, but fails with EALREADY on other systems.",
     "Portable way to finish: wait for POLLOUT, then read the result with getsockopt(SO_ERROR)."},
    {kErr, EINTR, C::poll, 0, L::info, "EINTR",
     "A signal arrived while {call} was waiting. poll, select and epoll_wait are never restarted "
     "automatically, even for handlers installed with SA_RESTART.",
     "Call it again with the time that remains of the timeout, not the full timeout."},
    {kErr, EINTR, C::close, 0, L::info, "EINTR",
     "A signal arrived during close, but Linux has already released fd {fd}: the number is free and "
     "may already belong to a file that another thread opened.",
     "Do not retry close after EINTR on Linux (it could close another thread's file); treat fd {fd} "
     "as closed."},
    {kErr, EINTR, C::any, 0, L::info, "EINTR",
     "A signal handler ran while {call} was blocked; the call did nothing and can simply be "
     "repeated. SA_RESTART restarts most calls by itself, but not socket calls that have a "
     "SO_RCVTIMEO/SO_SNDTIMEO timeout.",
     "Retry the call on EINTR, or install the signal handlers with SA_RESTART (sigaction)."},

    // ---- ECONNABORTED ----
    {kErr, ECONNABORTED, C::accept, 0, L::info, "ECONNABORTED",
     "A client's connection to {local} was aborted before the program accepted it. Linux mostly "
     "deals with such connections itself (it drops them, or hands them over and the first read "
     "reports the reset) and returns this error only in a few cases.",
     "Nothing is wrong with the listener: call accept again. Servers should treat ECONNABORTED from "
     "accept as routine, not as a reason to stop accepting."},
    {kErr, ECONNABORTED, C::any, 0, L::error, "ECONNABORTED",
     "This host, not the peer, aborted the connection to {peer}: for example the socket was killed "
     "with `ss -K`, or another thread shut it down while a connect was waiting.",
     "Check whether an administrator or a tool destroyed the socket, or whether another thread of "
     "the program closed or shut it down; otherwise reconnect."},

    // Shutting down a socket still in SYN_SENT makes the kernel set
    // ECONNRESET itself (tcp_disconnect): no peer sent anything.
    {kErr, ECONNRESET, C::connect, sit_abandoned, L::error, "ECONNRESET",
     "The connect to {peer} was abandoned by the program after {age} without an answer to the "
     "connection request (SYN): the program gave up (its own connect timeout) and shut the socket "
     "down while it was still connecting, and the kernel marks such a socket ECONNRESET. The peer "
     "never answered; it did not reset anything.",
     "Check that {peer} is up and reachable: a connection request that gets no answer is dropped on "
     "the way (a firewall, a route) or by a server whose listen queue is full (`ss -ltn` on its host: "
     "Recv-Q at the backlog); compare the program's connect timeout with the network's delays."},

    // ---- ECONNRESET: the peer (or a device on the way) sent RST ----
    {kErr, ECONNRESET, C::any, sit_unix, L::error, "ECONNRESET",
     "The peer of {peer} closed its end while data the program had sent was still unread in its "
     "queue (or a server closed its listening socket before accepting this connection). Linux "
     "reports this as a reset instead of a clean end of file; the unread data is lost.",
     "Find out why the peer process closed early (crash, exit without reading the last request); "
     "make it read what it is sent, or shut down cleanly."},
    {kErr, ECONNRESET, C::recv, sit_established, L::error, "ECONNRESET",
     "{peer} reset the connection (RST) after {age}, with {sent} bytes sent and {received} "
     "received. Its process closed the socket with unread data or SO_LINGER 0 (or died that way), "
     "or had already closed and then got more data from us; or its host rebooted and forgot the "
     "connection, or a firewall, NAT or load balancer dropped it.",
     "Check {peer}'s logs at that moment (crash, restart, rejected request); if the connection had "
     "been idle, suspect a middlebox timeout and enable SO_KEEPALIVE with TCP_KEEPIDLE below it."},
    {kErr, ECONNRESET, C::send, sit_established, L::error, "ECONNRESET",
     "The connection to {peer} had been reset (RST) when the program wrote to it, after {age} and "
     "{sent} bytes sent: the peer process closed it with unread data or SO_LINGER 0, or had already "
     "closed and answered our data with a reset; or its host rebooted, or a middlebox dropped the "
     "connection. The first write after a reset reports ECONNRESET, later ones EPIPE.",
     "Look at why {peer} closed (its logs, a timeout or limit on its side); read the peer's answer "
     "or end of file before writing more, and reconnect when the connection is gone."},
    {kErr, ECONNRESET, C::any, 0, L::error, "ECONNRESET",
     "The connection to {peer} was reset (RST): the peer process aborted it (closed with unread "
     "data, SO_LINGER 0, crash), or had already closed and got more data, or its host rebooted and "
     "forgot the connection, or a device in between dropped it.",
     "Check the peer's logs at that moment and whether a firewall, NAT or load balancer with an "
     "idle timeout sits in between; reconnect, and use SO_KEEPALIVE on long idle connections."},

    // ---- EPIPE ----
    // After shutdown(SHUT_WR) the kernel refuses every write with EPIPE,
    // whatever the peer does: the program's own doing.
    {kErr, EPIPE, C::any, sit_own_shutdown, L::error, "EPIPE",
     "This program had shut fd {fd} down for writing (shutdown with SHUT_WR or SHUT_RDWR), and then "
     "wrote to it: after that the kernel refuses every write with EPIPE (and raises SIGPIPE, which "
     "ends a process that does not handle it). {peer} has nothing to do with it.",
     "Find where the program calls shutdown on fd {fd} and why it writes after it: once a side is "
     "shut down for writing, nothing more can be sent on the connection."},
    {kErr, EPIPE, C::send, sit_unix, L::error, "EPIPE",
     "The other end of {peer} was closed or shut down for reading, so nothing written can arrive. "
     "The kernel also raises SIGPIPE for such a write, which ends a process that does not handle it.",
     "Find out why the peer closed (exit, crash, or it closes after answering); stop writing once "
     "the peer is gone and reconnect if needed."},
    {kErr, EPIPE, C::send, 0, L::error, "EPIPE",
     "The program wrote to a connection that can no longer carry data: {peer} had closed it and "
     "answered further data with a reset, or this side had already called shutdown(SHUT_WR). "
     "The kernel also raises SIGPIPE for such a write, which ends a process that does not handle it.",
     "Treat EPIPE as 'connection gone': stop writing, close, reconnect if needed; check for end of "
     "file (recv returning 0) before writing, and send with MSG_NOSIGNAL or ignore SIGPIPE."},
    {kErr, EPIPE, C::any, 0, L::error, "EPIPE",
     "Broken pipe: the connection or pipe was closed at the other end, or shut down for writing "
     "here, and the program went on using it.",
     "Stop using the connection; close it and reconnect if needed."},

    // ---- ECONNREFUSED: RST in answer to a SYN, or ICMP port unreachable ----
    {kErr, ECONNREFUSED, C::any, sit_datagram | sit_unix, L::error, "ECONNREFUSED",
     "No socket receives at {peer} any more: the receiving process closed its socket or exited, or "
     "nothing is bound to that address.",
     "Check that the receiving process runs and has bound {peer} (`ss -xap`); reconnect the socket "
     "once it is back."},
    {kErr, ECONNREFUSED, C::connect, sit_unix | sit_abstract, L::error, "ECONNREFUSED",
     "No process listens on the abstract unix name {peer}: no server has bound it (it is not "
     "running, or binds another name), or it has not called listen yet, or it runs in another "
     "network namespace (abstract names belong to the network namespace, as ports do, not to the "
     "file system).",
     "Start the server; check its name with `ss -xlp` (abstract names show with a leading @), run "
     "in the server's network namespace (`nsenter -n -t PID`) if it is in a container."},
    {kErr, ECONNREFUSED, C::connect, sit_unix, L::error, "ECONNREFUSED",
     "No process listens on the unix socket {peer}: the socket file was left behind by a server "
     "that exited (a stale file), or the server has not called listen yet.",
     "Start or restart the server (check with `ss -xlp`); a server should remove a stale socket "
     "file before bind."},
    {kErr, ECONNREFUSED, C::connect, sit_async, L::error, "ECONNREFUSED",
     "The non-blocking connect to {peer} failed (reported later through SO_ERROR): nothing listens "
     "on that port, so its host answered the connection request (SYN) with a reset (RST), or a "
     "firewall rejected it.",
     "Check that the server runs and listens on that address and port (`ss -ltnp` on its host), and "
     "that the client uses the right port and address family."},
    {kErr, ECONNREFUSED, C::connect, 0, L::error, "ECONNREFUSED",
     "Nothing listens on {peer}: its host answered the connection request (SYN) with a reset (RST), "
     "or a firewall rejected the connection.",
     "Check that the server runs and listens on that address and port (`ss -ltnp` on its host); a "
     "server bound to 127.0.0.1 refuses connections to ::1 or to the host's other addresses."},
    {kErr, ECONNREFUSED, C::any, sit_datagram, L::error, "ECONNREFUSED",
     "A datagram sent earlier to {peer} came back as ICMP 'port unreachable': nothing listens on "
     "that port, or a firewall rejects it. Linux reports it on a later call, and only on connected "
     "sockets or with IP_RECVERR.",
     "Check that the receiver runs and listens on that port (`ss -lunp` on its host); the program "
     "may treat it as transient and keep sending."},
    {kErr, ECONNREFUSED, C::any, 0, L::error, "ECONNREFUSED",
     "Connection refused: nothing accepted the connection at {peer}.",
     "Check that the server runs and listens at {peer} (`ss -ltnp` or `ss -xlp` on its host)."},

    // ---- ETIMEDOUT (the kernel's own timeouts; SO_RCVTIMEO gives EAGAIN) ----
    {kErr, ETIMEDOUT, C::connect, 0, L::error, "ETIMEDOUT",
     "The connection request (SYN) to {peer} got no answer, even after retries (about 2 minutes "
     "with the default net.ipv4.tcp_syn_retries=6): the host is down, a firewall silently drops the "
     "packets (on the way, or in this host's own OUTPUT chain), or the address is wrong.",
     "Check the address and port and test reachability from this host (`nc -vz HOST PORT`, "
     "`traceroute -T -p PORT HOST`); look for DROP rules in firewalls. To fail faster, give connect "
     "a timeout of its own (non-blocking connect + poll)."},
    {kErr, ETIMEDOUT, C::any, sit_established, L::error, "ETIMEDOUT",
     "{peer} stopped acknowledging after {age}: data the program sent was retransmitted until the "
     "kernel gave up (net.ipv4.tcp_retries2, about 15 minutes by default, or TCP_USER_TIMEOUT), or "
     "keepalive probes went unanswered. The peer host crashed or lost power, or the network path to "
     "it broke.",
     "Check whether {peer}'s host is up and reachable; to notice a dead peer sooner, set "
     "TCP_USER_TIMEOUT or keepalive (SO_KEEPALIVE with TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT)."},
    {kErr, ETIMEDOUT, C::any, 0, L::error, "ETIMEDOUT",
     "The kernel gave up waiting for {peer} to answer: the host is down or unreachable, or packets "
     "to it are silently dropped.",
     "Check that {peer} is up and reachable and that no firewall drops the traffic; use keepalive or "
     "TCP_USER_TIMEOUT to bound the wait."},

    // ---- EHOSTUNREACH / ENETUNREACH: fatal while connecting, soft once established ----
    {kErr, EHOSTUNREACH, C::connect, 0, L::error, "EHOSTUNREACH",
     "{peer} cannot be reached: a router or firewall answered the connection request with ICMP "
     "'host unreachable' (a firewall rejecting with icmp-host-prohibited looks the same), or on the "
     "local network the host did not answer ARP/neighbour discovery.",
     "Check that the host is up and the route to it (`ip route get ADDR`, `ping`); check firewall "
     "REJECT rules on the host and on the way."},
    {kErr, EHOSTUNREACH, C::any, sit_established, L::error, "EHOSTUNREACH",
     "The connection to {peer} timed out after {age}, and the last news from the network was ICMP "
     "'host unreachable': the peer host left the network or the route to it broke. Linux keeps "
     "retrying through such soft errors and reports them only when it gives up.",
     "Check the peer host and the route to it (`ip route get ADDR`, `ping`); reconnect once it is "
     "reachable."},
    {kErr, EHOSTUNREACH, C::any, 0, L::error, "EHOSTUNREACH",
     "No route to the host of {peer}: a router reported it unreachable (ICMP), a route marks it "
     "unreachable, or it did not answer ARP/neighbour discovery on the local network.",
     "Check `ip route get ADDR` and whether the host is up (`ping`); check firewall REJECT rules."},
    {kErr, ENETUNREACH, C::connect, 0, L::error, "ENETUNREACH",
     "This host has no route to the network of {peer} (often no default route, or an IPv6 address "
     "without IPv6 connectivity), or a router answered with ICMP 'network unreachable'. TCP connects "
     "to broadcast or multicast addresses fail the same way.",
     "Check routing with `ip route get ADDR` (`ip -6 route` for IPv6); if the name has IPv6 and IPv4 "
     "addresses, make the client go on to the next address getaddrinfo returned."},
    {kErr, ENETUNREACH, C::any, sit_established, L::error, "ENETUNREACH",
     "The connection to {peer} timed out after {age}, and the last news from the network was "
     "'network unreachable': the route to the peer disappeared (interface down, VPN dropped, routing "
     "change). Linux keeps retrying through such soft errors and reports them only when it gives up.",
     "Check interfaces and routes (`ip link`, `ip route`); reconnect once the network is back."},
    {kErr, ENETUNREACH, C::any, 0, L::error, "ENETUNREACH",
     "No route to the network of {peer}: this host's routing table has no matching route, or a "
     "router reported the network unreachable.",
     "Check `ip route get ADDR` and the interfaces (`ip addr`); for IPv6 destinations check "
     "`ip -6 route`."},

    // ---- EADDRINUSE ----
    {kErr, EADDRINUSE, C::bind, sit_unix | sit_abstract, L::error, "EADDRINUSE",
     "Another socket is bound to the abstract unix name {local}: an abstract name disappears with "
     "the last socket bound to it, so a process holding it still runs (another instance of this "
     "program, or one it forked).",
     "Find the holder with `ss -xlp` (abstract names show with a leading @); stop it, or give each "
     "instance its own name."},
    {kErr, EADDRINUSE, C::bind, sit_unix, L::error, "EADDRINUSE",
     "The socket file {local} already exists: a server still runs on it, or an earlier one exited "
     "without removing it.",
     "If nothing listens on it (`ss -xlp`), remove the stale file before bind; servers usually "
     "unlink the path first."},
    {kErr, EADDRINUSE, C::bind, sit_reuseaddr, L::error, "EADDRINUSE",
     "Another live socket holds {local}: one listening on it, or one bound to it without "
     "SO_REUSEADDR. Not connections lingering in TIME_WAIT: this socket has SO_REUSEADDR, which lets "
     "a bind pass those, never a socket in use.",
     "Find the owner with `ss -ltunp` (often another instance of this server, or a child that "
     "inherited the socket); stop it, choose another port, or set SO_REUSEPORT on every socket meant "
     "to share the port."},
    {kErr, EADDRINUSE, C::bind, 0, L::error, "EADDRINUSE",
     "Another socket already uses {local}: a server is running on that port, or connections of an "
     "earlier instance linger in TIME_WAIT and the socket was not given SO_REUSEADDR.",
     "Find the owner with `ss -ltunp` (or `ss -tan` for TIME_WAIT); set SO_REUSEADDR before bind on "
     "server sockets, or choose another port."},
    {kErr, EADDRINUSE, C::connect, 0, L::error, "EADDRINUSE",
     "No unused local address and port was left for a connection to {peer}: the socket was bound "
     "to a fixed local port already used by a connection to the same destination, or the ephemeral "
     "ports are used up.",
     "Do not bind client sockets to a fixed port (IP_BIND_ADDRESS_NO_PORT helps when only the source "
     "address matters); count connections with `ss -s` and widen net.ipv4.ip_local_port_range."},
    {kErr, EADDRINUSE, C::listen, 0, L::error, "EADDRINUSE",
     "listen found {local} taken: another socket already listens on that port (bind had succeeded "
     "thanks to SO_REUSEADDR, so the conflict shows only now), or listen picked a port by itself for "
     "an unbound socket and lost a race.",
     "Find the listener with `ss -ltnp`; to let several sockets share a port on purpose, set "
     "SO_REUSEPORT on all of them before bind."},
    {kErr, EADDRINUSE, C::any, 0, L::error, "EADDRINUSE",
     "Address already in use: another socket holds {local}.",
     "Find it with `ss -tunap`; use SO_REUSEADDR on server sockets, or another port."},

    // ---- EADDRNOTAVAIL ----
    {kErr, EADDRNOTAVAIL, C::bind, 0, L::error, "EADDRNOTAVAIL",
     "The address {local} is not assigned to any interface of this host: a typo, an address that "
     "moved, or an interface not configured yet.",
     "Check `ip addr`; bind to 0.0.0.0 or :: (all addresses), or set IP_FREEBIND (or "
     "net.ipv4.ip_nonlocal_bind=1) to bind before the address exists."},
    {kErr, EADDRNOTAVAIL, C::connect, 0, L::error, "EADDRNOTAVAIL",
     "No free local port was left for another connection to {peer}: every port of the ephemeral "
     "range (net.ipv4.ip_local_port_range) is already used for that destination, typically by many "
     "connections in TIME_WAIT.",
     "Count connections with `ss -s` and `ss -tan state time-wait | wc -l`; reuse connections "
     "(keep-alive, pooling), widen net.ipv4.ip_local_port_range, or enable net.ipv4.tcp_tw_reuse."},
    {kErr, EADDRNOTAVAIL, C::any, 0, L::error, "EADDRNOTAVAIL",
     "Cannot assign the requested address: the local address is not on this host, or no local port "
     "is free.",
     "Check `ip addr` for the address, and `ss -s` for the number of connections."},

    // ---- EMFILE / ENFILE ----
    {kErr, EMFILE, C::accept, 0, L::error, "EMFILE",
     "The process reached its limit of open files (RLIMIT_NOFILE, `ulimit -n`), so accept had no "
     "descriptor for the new client. The client stays in the listen queue and the listening socket "
     "stays readable: a server that retries at once spins.",
     "Raise the limit (`ulimit -n`, LimitNOFILE= in systemd, setrlimit) or find leaked descriptors "
     "(`ls /proc/PID/fd | wc -l`); pause accepting until a descriptor is freed."},
    {kErr, EMFILE, C::socket, 0, L::error, "EMFILE",
     "The process reached its limit of open files (RLIMIT_NOFILE, `ulimit -n`), so no descriptor "
     "was left for a new socket.",
     "Raise the limit (`ulimit -n`, LimitNOFILE= in systemd, setrlimit) or find leaked descriptors "
     "(`ls /proc/PID/fd | wc -l`)."},
    {kErr, EMFILE, C::any, 0, L::error, "EMFILE",
     "The process reached its limit of open files (RLIMIT_NOFILE, `ulimit -n`), so {call} could not "
     "create a descriptor.",
     "Raise the limit (`ulimit -n`, LimitNOFILE= in systemd) or find leaked descriptors "
     "(`ls /proc/PID/fd | wc -l`)."},
    {kErr, ENFILE, C::any, 0, L::error, "ENFILE",
     "The whole system reached its limit of open files (fs.file-max), so {call} could not create a "
     "file or socket.",
     "Compare /proc/sys/fs/file-nr with fs.file-max; find the process that leaks files, or raise "
     "fs.file-max with sysctl."},

    // ---- ENOBUFS / ENOMEM ----
    {kErr, ENOBUFS, C::send, sit_datagram, L::error, "ENOBUFS",
     "The kernel could not queue the datagram to {peer}: the outgoing interface queue or the "
     "system's socket memory was full. The datagram was not sent.",
     "Send more slowly or retry later; check drops with `ip -s link` and `tc -s qdisc`."},
    {kErr, ENOBUFS, C::any, 0, L::error, "ENOBUFS",
     "The kernel ran short of buffer memory for {call}: socket memory limits were reached "
     "(net.ipv4.tcp_mem, net.ipv4.udp_mem) or memory is tight. On a netlink socket it means the "
     "receive buffer overflowed and messages were lost.",
     "Compare the memory in /proc/net/sockstat with net.ipv4.tcp_mem and look in `dmesg` for "
     "allocation failures; for netlink, read faster or raise SO_RCVBUF."},
    {kErr, ENOMEM, C::any, 0, L::error, "ENOMEM",
     "The kernel could not allocate memory for {call} (the socket, its buffers or its options).",
     "Check memory pressure (`free`, `dmesg`) and socket memory in /proc/net/sockstat; look for a "
     "process leaking sockets or buffers."},

    // ---- ENOTCONN / EISCONN / EALREADY / EINPROGRESS ----
    {kErr, ENOTCONN, C::recv, 0, L::error, "ENOTCONN",
     "fd {fd} has no connection to read from: connect was never called or had failed, or it is a "
     "listening socket (which only accepts).",
     "Check the result of connect (for a non-blocking connect, wait for POLLOUT and read SO_ERROR "
     "first); check that fd {fd} is the intended socket and not a number reused after a close."},
    {kErr, ENOTCONN, C::send, 0, L::error, "ENOTCONN",
     "fd {fd} has no connection to send on: a unix stream socket that was never connected, or a "
     "unix datagram socket with no destination. (Linux reports EPIPE for a never-connected TCP "
     "socket.)",
     "Connect the socket and check the result first, or give a destination with sendto; check that "
     "fd {fd} is the intended socket."},
    {kErr, ENOTCONN, C::shutdown, 0, L::info, "ENOTCONN",
     "The connection was already gone when shutdown was called: it was never set up, or {peer} had "
     "reset it.",
     "Harmless when the program is closing anyway: close fd {fd}."},
    {kErr, ENOTCONN, C::any, 0, L::error, "ENOTCONN",
     "The socket is not connected: it was never connected, the connect failed, or the connection "
     "was reset (getpeername reports the same).",
     "Connect first and check the result; reconnect if the connection was lost."},
    {kErr, EISCONN, C::connect, sit_nonblocking, L::debug, "EISCONN",
     "fd {fd} is already connected to {peer}: programs that call connect again to learn how a "
     "non-blocking connect ended get this once it has succeeded.",
     "Nothing to fix if the program uses this idiom; reading getsockopt(SO_ERROR) after POLLOUT is "
     "the clearer way."},
    {kErr, EISCONN, C::connect, 0, L::error, "EISCONN",
     "fd {fd} is already connected: connect was called again after it had succeeded.",
     "Connect each socket once; to connect elsewhere, close it and create a new socket."},
    {kErr, EISCONN, C::send, 0, L::error, "EISCONN",
     "{call} was given a destination address on a socket that is already connected (Linux rejects "
     "this for unix stream sockets and for TCP Fast Open sends).",
     "Use send or write, without an address, on connected sockets."},
    {kErr, EISCONN, C::any, 0, L::error, "EISCONN", "The socket is already connected.",
     "Do not connect it again; close it and create a new socket to connect elsewhere."},
    {kErr, EALREADY, C::connect, sit_nonblocking, L::debug, "EALREADY",
     "A non-blocking connect to {peer} is still in progress on fd {fd}; calling connect again does "
     "not restart it.",
     "Wait for POLLOUT/EPOLLOUT, then read the result with getsockopt(SO_ERROR), instead of calling "
     "connect in a loop."},
    {kErr, EALREADY, C::any, 0, L::error, "EALREADY",
     "An operation is already in progress on fd {fd}, usually a connect that has not finished.",
     "Wait for POLLOUT, then read the result with getsockopt(SO_ERROR)."},
    {kErr, EINPROGRESS, C::connect, sit_own_timeout, L::error, "EINPROGRESS",
     "The connect to {peer} did not finish within the program's own SO_SNDTIMEO: Linux then "
     "returns EINPROGRESS, and the handshake carries on in the background.",
     "If {peer} is only slow to answer, raise SO_SNDTIMEO; otherwise check reachability as for a "
     "timeout. To learn the outcome, wait for POLLOUT and read getsockopt(SO_ERROR)."},
    {kErr, EINPROGRESS, C::connect, sit_nonblocking, L::debug, "EINPROGRESS",
     "The non-blocking connect to {peer} has started; the handshake goes on in the kernel and its "
     "result comes later.",
     "Wait for POLLOUT/EPOLLOUT, then read getsockopt(SO_ERROR): 0 means connected."},
    {kErr, EINPROGRESS, C::any, 0, L::debug, "EINPROGRESS",
     "The operation has started on a non-blocking socket and goes on in the background (usually a "
     "connect); its result comes later.",
     "Wait for POLLOUT, then read the result with getsockopt(SO_ERROR)."},

    // ---- Descriptor mistakes ----
    {kErr, ENOTSOCK, C::any, sit_probe, L::debug, "ENOTSOCK",
     "fd {fd} is not a socket, and the program never used it as one: {call} on it is the usual "
     "test of whether a descriptor (often stdin) is a socket, after which the program treats it as "
     "a file or pipe.",
     "Nothing to fix when the program goes on with fd {fd} as a file; if it needed a socket there, "
     "check what fd {fd} is (`ls -l /proc/PID/fd/{fd}`)."},
    {kErr, ENOTSOCK, C::any, 0, L::error, "ENOTSOCK",
     "fd {fd} is not a socket: {call} was given a file, pipe or terminal descriptor, often a number "
     "reused after a close, or the wrong variable.",
     "Check what fd {fd} is (`ls -l /proc/PID/fd/{fd}`); look for a double close or a use after "
     "close that let the number be reused."},
    {kErr, EBADF, C::close, 0, L::error, "EBADF",
     "fd {fd} was a socket that had already been closed: a double close. With threads it is "
     "dangerous: between the two closes the number may have been reused for another file, which "
     "the second close would have closed instead.",
     "Find both closes (`strace -f -e trace=close`); set the variable to -1 after closing."},
    {kErr, EBADF, C::any, 0, L::error, "EBADF",
     "fd {fd} is not an open descriptor (or not open for this kind of access): it was closed "
     "earlier, often by a double close, or by one thread while another still used it.",
     "Trace where fd {fd} gets closed (`strace -f -e trace=close`); in threaded code, stop every "
     "user of an fd before closing it."},

    // ---- Sizes, interfaces, permissions ----
    {kErr, EMSGSIZE, C::send, sit_datagram, L::error, "EMSGSIZE",
     "The message is too big for one datagram: over the protocol's limit (65507 bytes of UDP payload "
     "over IPv4, the send buffer size for unix datagram sockets), or over the path MTU to {peer} "
     "when fragmentation is forbidden (IP_MTU_DISCOVER set to IP_PMTUDISC_DO).",
     "Send smaller messages (split them in the application); getsockopt(IP_MTU) on a connected "
     "socket gives the current path MTU."},
    {kErr, EMSGSIZE, C::any, 0, L::error, "EMSGSIZE",
     "Message too long for {call}: a datagram over the protocol's size limit or the path MTU, or an "
     "option or ancillary data too large.",
     "Send smaller messages; check the sizes passed to {call}."},
    {kErr, ENETDOWN, C::any, 0, L::error, "ENETDOWN",
     "The network interface used to reach {peer} is down.",
     "Check interfaces with `ip link` and `ip addr`; look in `dmesg` or the journal for link "
     "changes."},
    {kErr, EACCES, C::bind, sit_unix, L::error, "EACCES",
     "The program may not create the socket file {local}: it lacks write permission on the "
     "directory, or search permission on a directory of the path.",
     "Check permissions along the path (`namei -l PATH`); run as a user who may write there, or use "
     "a directory such as $XDG_RUNTIME_DIR."},
    {kErr, EACCES, C::bind, 0, L::error, "EACCES",
     "{local} uses a privileged port (below 1024, or below net.ipv4.ip_unprivileged_port_start), "
     "which needs root or CAP_NET_BIND_SERVICE; or a security module denied the bind.",
     "Use a port of 1024 or above, grant the capability (`setcap cap_net_bind_service=+ep PROGRAM`, "
     "AmbientCapabilities= in systemd), or lower net.ipv4.ip_unprivileged_port_start."},
    {kErr, EACCES, C::connect, sit_unix, L::error, "EACCES",
     "The program may not connect to the socket file {peer}: connecting needs write permission on "
     "the socket file and search permission on every directory of its path.",
     "Check `ls -l` of the socket file and `namei -l` of its path; add the user to the socket's "
     "group, or have the server set a suitable mode."},
    {kErr, EACCES, C::socket, 0, L::error, "EACCES",
     "The program may not create this kind of socket: raw and packet sockets need CAP_NET_RAW, and "
     "a security module (SELinux, AppArmor) may forbid the family.",
     "Grant the needed capability (e.g. `setcap cap_net_raw=+ep PROGRAM`) or check the security "
     "policy's audit log."},
    {kErr, EACCES, C::any, sit_datagram, L::error, "EACCES",
     "{peer} is a broadcast address, which a datagram socket may use only after "
     "setsockopt(SO_BROADCAST); or a 'prohibit' route or a security module (SELinux, AppArmor) "
     "denied it.",
     "Set SO_BROADCAST if broadcasting is intended; otherwise check the address, "
     "`ip route get ADDR` and the audit log."},
    {kErr, EACCES, C::connect, 0, L::error, "EACCES",
     "Connecting to {peer} was denied on this host: by a 'prohibit' route, or by a security module "
     "(SELinux, AppArmor, Landlock).",
     "Check `ip route get ADDR` and the audit log (`journalctl -k`, `ausearch -m avc`)."},
    {kErr, EACCES, C::any, 0, L::error, "EACCES",
     "Permission denied for {call}: missing file permissions, a missing capability, or a security "
     "policy.",
     "Check file permissions and the process's capabilities (`grep Cap /proc/PID/status`), and the "
     "audit log for policy denials."},
    {kErr, EPERM, C::send, sit_datagram, L::error, "EPERM",
     "A firewall rule on this host (netfilter OUTPUT chain, or a cgroup BPF filter such as systemd's "
     "IPAddressDeny=) dropped the datagram to {peer}.",
     "List the rules (`nft list ruleset`, `iptables -S OUTPUT`) and the unit's IPAddressDeny= "
     "settings."},
    {kErr, EPERM, C::connect, 0, L::error, "EPERM",
     "A local policy forbade connecting to {peer}: a seccomp filter, a cgroup BPF program (containers, "
     "systemd sandboxing) or a security module. (A firewall rule that drops the SYN makes connect "
     "time out instead.)",
     "Check the container's or unit's network restrictions, its seccomp profile, and the audit log "
     "(`journalctl -k`)."},
    {kErr, EPERM, C::any, 0, L::error, "EPERM",
     "Operation not permitted: a seccomp filter, a security module, a local firewall or cgroup BPF "
     "rule, or a missing capability forbade {call}.",
     "Check the audit log (`journalctl -k`, `ausearch -m avc`), the seccomp profile, the firewall "
     "rules (`nft list ruleset`) and the capabilities (`grep Cap /proc/PID/status`)."},

    // ---- Wrong family, protocol, type or arguments ----
    {kErr, EAFNOSUPPORT, C::socket, 0, L::error, "EAFNOSUPPORT",
     "This kernel does not support the address family requested (e.g. IPv6 turned off with the boot "
     "option ipv6.disable=1, or a family whose module is missing).",
     "Check the family the program asks for; check whether IPv6 exists here "
     "(`ls /proc/sys/net/ipv6`), or use AF_INET."},
    {kErr, EAFNOSUPPORT, C::any, 0, L::error, "EAFNOSUPPORT",
     "The address given to {call} belongs to another family than the socket (e.g. an IPv4 sockaddr "
     "on an AF_INET6 socket), or the family is not supported.",
     "Create the socket with the family of the address (use ai_family from getaddrinfo) and pass "
     "the matching sockaddr."},
    {kErr, EPROTONOSUPPORT, C::any, 0, L::error, "EPROTONOSUPPORT",
     "The protocol requested in socket() is not supported for this family and type (e.g. "
     "IPPROTO_SCTP without the sctp module, or a protocol that does not fit the type).",
     "Pass 0 as protocol for the default (TCP for SOCK_STREAM, UDP for SOCK_DGRAM); load the "
     "protocol's module (`modprobe sctp`) if needed."},
    {kErr, EPROTOTYPE, C::connect, sit_unix, L::error, "EPROTOTYPE",
     "The socket {peer} is of another type than this one (stream, datagram or seqpacket).",
     "Create the client socket with the server's type."},
    {kErr, EPROTOTYPE, C::any, 0, L::error, "EPROTOTYPE",
     "Protocol wrong type for socket: the socket type does not fit the request.",
     "Check the type passed to socket() against what {call} needs."},
    {kErr, EOPNOTSUPP, C::listen, 0, L::error, "EOPNOTSUPP",
     "fd {fd} cannot listen: only stream and seqpacket sockets accept connections, and this is a "
     "datagram socket.",
     "Create the socket with SOCK_STREAM to accept connections; datagram servers just recvfrom."},
    {kErr, EOPNOTSUPP, C::accept, 0, L::error, "EOPNOTSUPP",
     "fd {fd} cannot accept: only stream and seqpacket sockets accept connections.",
     "Use SOCK_STREAM for a server that accepts; datagram servers just recvfrom."},
    {kErr, EOPNOTSUPP, C::any, 0, L::error, "EOPNOTSUPP",
     "{call} or a flag given to it is not supported by this kind of socket (e.g. MSG_OOB on a unix "
     "socket). ENOTSUP is the same code.",
     "Check the socket's type and the flags passed to {call}."},
    {kErr, EDESTADDRREQ, C::any, 0, L::error, "EDESTADDRREQ",
     "{call} on a datagram socket that has no default destination.",
     "Give an address with sendto/sendmsg, or connect the socket first."},
    {kErr, ENOENT, C::connect, sit_unix, L::error, "ENOENT",
     "The socket file {peer} does not exist: the server is not running, uses another path, or runs "
     "in another mount namespace (a container, systemd PrivateTmp=).",
     "Check that the server runs and which path it bound (`ss -xlp`); compare it with the path the "
     "program uses."},
    {kErr, ENOENT, C::bind, sit_unix, L::error, "ENOENT",
     "A directory in the path of {local} does not exist.",
     "Create the directory first (e.g. RuntimeDirectory= in systemd) or fix the path."},
    {kErr, ENOENT, C::any, 0, L::error, "ENOENT", "No such file or directory for {call}.",
     "Check the path given to {call}."},
    {kErr, ENOPROTOOPT, C::sockopt, 0, L::debug, "ENOPROTOOPT",
     "The option is not known at the level given (e.g. IPV6_V6ONLY on an IPv4 socket, a TCP_ "
     "option passed with SOL_SOCKET), or this kernel lacks it. Programs often probe an option this "
     "way and carry on without it, so this is expected flow unless the program then fails.",
     "Check the level/option pair (SOL_SOCKET, IPPROTO_TCP, IPPROTO_IP, IPPROTO_IPV6) and the "
     "kernel version."},
    {kErr, ENOPROTOOPT, C::any, 0, L::error, "ENOPROTOOPT",
     "Protocol not available: an option or protocol feature {call} asked for is not supported.",
     "Check the option and level passed, and the kernel version."},
    {kErr, EINVAL, C::accept, 0, L::error, "EINVAL",
     "fd {fd} is not listening: listen was not called or failed before accept, or the listener was "
     "shut down.",
     "Call bind and listen before accept and check their results."},
    {kErr, EINVAL, C::bind, 0, L::error, "EINVAL",
     "The socket is already bound (bind called twice, or bound already by connect or listen), or "
     "the address length does not fit the family.",
     "Bind each socket once, before connect/listen; pass the size of the right sockaddr structure."},
    {kErr, EINVAL, C::listen, 0, L::error, "EINVAL",
     "fd {fd} cannot listen in its current state: it is connected or connecting.",
     "Use a fresh socket for listening: socket, bind, listen."},
    {kErr, EINVAL, C::sockopt, 0, L::error, "EINVAL",
     "The option's value or length is invalid (e.g. the wrong size for struct timeval or struct "
     "linger, or a value out of range).",
     "Pass exactly the structure the option expects and a value in range (see socket(7), tcp(7))."},
    {kErr, EINVAL, C::any, 0, L::error, "EINVAL",
     "An argument to {call} is invalid for this socket or its current state (a bad address length "
     "or flags, or calls in the wrong order).",
     "Check the arguments of {call} and the order of calls on the socket."},
    {kErr, EFAULT, C::any, 0, L::error, "EFAULT",
     "{call} was given a pointer outside the program's memory (a buffer, address or length "
     "argument): a program bug such as a freed or uninitialised buffer.",
     "Run the program under valgrind or AddressSanitizer to find the bad pointer."},
    {kErr, ESHUTDOWN, C::any, 0, L::error, "ESHUTDOWN",
     "Cannot send after the socket was shut down for writing (shutdown SHUT_WR).",
     "Do not write after shutdown(SHUT_WR); open a new connection to send more."},

    // ---- getaddrinfo results ----
    {kGai, EAI_AGAIN, C::any, 0, L::error, "EAI_AGAIN",
     "The lookup of {host} failed for now: the name server did not answer in time or answered "
     "SERVFAIL (or no name server could be reached). It may work when retried.",
     "Check that the name servers in /etc/resolv.conf are reachable and answer "
     "(`getent ahosts {host}`, `dig {host}`); retry with a backoff."},
    {kGai, EAI_NONAME, C::any, 0, L::error, "EAI_NONAME",
     "The name {host} is not known: the DNS says it does not exist (NXDOMAIN) and /etc/hosts has no "
     "entry, or it has no address of the family asked for. With AI_NUMERICHOST it is not a numeric "
     "address.",
     "Check the spelling and the search domains in /etc/resolv.conf; compare with "
     "`getent ahosts {host}`."},
    {kGai, EAI_FAIL, C::any, 0, L::error, "EAI_FAIL",
     "The name server failed permanently on {host} (e.g. it refused the query or sent a broken "
     "answer); retrying the same query will not help.",
     "Query the resolver directly (`dig {host}`) to see its answer; check that /etc/resolv.conf "
     "points at a working resolver."},
    {kGai, EAI_NODATA, C::any, 0, L::error, "EAI_NODATA",
     "The name {host} exists, but has no address records (A/AAAA) of the kind requested.",
     "Check the name's records (`dig {host} A`, `dig {host} AAAA`); the service may be published "
     "under another name."},
    {kGai, EAI_ADDRFAMILY, C::any, sit_probe, L::debug, "EAI_ADDRFAMILY",
     "{host} is a numeric address of one family and hints.ai_family asked for the other (an IPv6 "
     "address asked for as AF_INET, or an IPv4 one as AF_INET6): a program that tries each family in "
     "turn gets this for the first, and then resolves it with the right one.",
     "Nothing to fix when the program then asks for the other family or AF_UNSPEC; if it asks for "
     "only one, pass AF_UNSPEC, or an address of the family it uses."},
    {kGai, EAI_ADDRFAMILY, C::any, 0, L::error, "EAI_ADDRFAMILY",
     "{host} has no address in the family asked for in hints.ai_family (only IPv4 addresses when "
     "AF_INET6 was asked for, or only IPv6 addresses when AF_INET was).",
     "Ask for AF_UNSPEC to accept either family, or publish the missing record."},
    {kGai, EAI_FAMILY, C::any, 0, L::error, "EAI_FAMILY",
     "getaddrinfo does not support the family in hints.ai_family (only AF_INET, AF_INET6 and "
     "AF_UNSPEC).",
     "Fix hints.ai_family in the program."},
    {kGai, EAI_SOCKTYPE, C::any, 0, L::error, "EAI_SOCKTYPE",
     "hints.ai_socktype is not supported, or does not fit hints.ai_protocol.",
     "Use SOCK_STREAM or SOCK_DGRAM with a matching protocol (or 0)."},
    {kGai, EAI_SERVICE, C::any, 0, L::error, "EAI_SERVICE",
     "The service asked for with {host} is not available for the socket type: a name missing from "
     "/etc/services, or one that exists only for TCP asked for with SOCK_DGRAM (or the reverse).",
     "Pass a numeric port, or check the name with `getent services NAME`."},
    {kGai, EAI_BADFLAGS, C::any, 0, L::error, "EAI_BADFLAGS",
     "hints.ai_flags holds an invalid value or combination (e.g. AI_CANONNAME without a host name).",
     "Fix the flags given to getaddrinfo (a program bug)."},
    {kGai, EAI_MEMORY, C::any, 0, L::error, "EAI_MEMORY",
     "getaddrinfo ran out of memory while looking up {host}.",
     "Check the process's memory use and limits (`ulimit -v`, cgroup memory limits)."},
    {kGai, EAI_SYSTEM, C::any, 0, L::error, "EAI_SYSTEM",
     "A system error occurred while looking up {host}; errno holds the real cause (for example a "
     "resolver file that cannot be read, or no file descriptor left).",
     "Look at the errno that came with it; check that /etc/nsswitch.conf, /etc/resolv.conf and "
     "/etc/hosts are readable."},
    {kGai, EAI_OVERFLOW, C::any, 0, L::error, "EAI_OVERFLOW",
     "A buffer passed to getnameinfo for the host or service name was too small for the result.",
     "Use buffers of NI_MAXHOST and NI_MAXSERV bytes."},
    {kGai, EAI_INPROGRESS, C::any, 0, L::debug, "EAI_INPROGRESS",
     "The asynchronous lookup of {host} (getaddrinfo_a) has not finished yet.",
     "Wait with gai_suspend (or the notification chosen), then call gai_error again."},
    {kGai, EAI_CANCELED, C::any, 0, L::info, "EAI_CANCELED",
     "The asynchronous lookup of {host} was cancelled with gai_cancel before it finished.",
     "Nothing to fix if the program cancelled it on purpose; otherwise find the gai_cancel call."},
    {kGai, EAI_NOTCANCELED, C::any, 0, L::info, "EAI_NOTCANCELED",
     "gai_cancel could not cancel the lookup of {host}: it is already being processed.",
     "Wait for the request to finish and read its result with gai_error."},
    {kGai, EAI_ALLDONE, C::any, 0, L::debug, "EAI_ALLDONE",
     "gai_cancel found nothing to cancel: the lookup had already finished.",
     "Read the result with gai_error; no cancellation is needed."},
    {kGai, EAI_INTR, C::any, 0, L::info, "EAI_INTR",
     "A signal interrupted gai_suspend while it waited for lookups to finish.",
     "Call gai_suspend again with the time that remains of the timeout."},
    {kGai, EAI_IDN_ENCODE, C::any, 0, L::error, "EAI_IDN_ENCODE",
     "{host} could not be converted for the DNS with AI_IDN: it is not a valid internationalised "
     "domain name in the current locale.",
     "Check the name for characters not allowed in domain names, and that the program runs in a "
     "UTF-8 locale."},

    // ---- Events (no -1 return) ----
    // After shutdown(SHUT_RD) the kernel answers every read with 0 at once,
    // whatever the peer still sends: the program's own doing, no FIN.
    {kEv, ev_eof, C::any, sit_own_shutdown, L::debug, "EOF",
     "{call} returned 0 because this program had shut fd {fd} down for reading (shutdown with SHUT_RD "
     "or SHUT_RDWR): from then on reads return 0, and a read blocked at that moment is woken with 0. "
     "It says nothing about {peer}, which may still be sending.",
     "Nothing to fix if the program meant to stop reading (a common way to wake a reading thread); "
     "if this read expected data, find where the program calls shutdown on fd {fd}."},
    // After a reset (or a timeout) has been returned once, reads return 0.
    {kEv, ev_eof, C::any, sit_after_error, L::debug, "EOF",
     "{call} returned 0 on a connection that had already failed: {peer} had reset it (RST) or it "
     "had timed out, and once that error has been returned, reads return 0. This is not an orderly "
     "close (FIN) by the peer.",
     "The failure was returned, and recorded, by an earlier call on fd {fd}: handle that error "
     "(close and reconnect) instead of reading on."},
    {kEv, ev_eof, C::any, sit_datagram, L::debug, "EOF",
     "A zero-length datagram arrived: on a datagram socket, 0 is a valid empty message, not an end "
     "of file.",
     "Nothing to fix unless the program takes 0 for a closed connection; on datagram sockets it "
     "must not."},
    {kEv, ev_eof, C::recv, sit_established, L::info, "EOF",
     "{peer} closed its side of the connection (an orderly shutdown, FIN) after {age}: {call} "
     "returned 0 after {received} bytes received and {sent} sent. No more data will come from it.",
     "Normal when the peer has finished; if an answer was still expected, find out why {peer} "
     "closed (its logs, an idle timeout, a rejected request). Then close the socket."},
    {kEv, ev_eof, C::any, 0, L::info, "EOF",
     "{call} returned 0, end of file: the peer closed its side of the connection (FIN), or this "
     "side had shut down reading; {received} bytes had been received.",
     "Close the socket once the remaining work is done; if data was still expected, find out why "
     "the peer closed."},
    {kEv, ev_pollhup, C::any, sit_unix, L::info, "POLLHUP",
     "The other end of {peer} was closed: a unix stream socket reports POLLHUP as soon as its peer "
     "closes. Data still queued can be read.",
     "Read the rest until recv returns 0, then close fd {fd}."},
    {kEv, ev_pollhup, C::any, 0, L::info, "POLLHUP",
     "The connection on fd {fd} is closed in both directions: {peer} reset it, or closed it while "
     "this side had already shut down writing. A TCP socket that was never connected also reports "
     "POLLHUP.",
     "Read until recv returns 0 or an error to learn how it ended, then close fd {fd}; check that "
     "the socket was connected before it was polled."},
    {kEv, ev_pollerr, C::any, 0, L::info, "POLLERR",
     "An error is pending on fd {fd} (a reset, a refused or timed-out connect, an ICMP error); the "
     "next call on the socket returns it, and that call's own record explains it.",
     "Read the error with getsockopt(SO_ERROR), or make the next call, then handle it (usually by "
     "closing the socket)."},

    // ---- notices of fault injection (the rule is named in the record) ----
    {kEv, ev_injected_delay, C::any, 0, L::info, "INJECTED_DELAY",
     "A sockdiag rule held this call back before making it, as a slow peer, network or name server "
     "would.",
     "Check that the program copes: its own timeouts should fire, and nothing else should stall."},
    {kEv, ev_injected_short, C::any, 0, L::info, "INJECTED_SHORT",
     "A sockdiag rule let this call move fewer bytes than asked for, as a full socket buffer or a "
     "slow network does; the data stays intact and the rest moves with later calls.",
     "A correct program loops until every byte is sent or read; one that assumes a whole buffer per "
     "call loses or corrupts data here."},
    {kEv, ev_injected_reset, C::any, 0, L::info, "INJECTED_RESET",
     "A sockdiag rule made this close abort the connection: the peer {peer} receives an RST instead "
     "of an orderly end.",
     "Check how the peer handles a reset (ECONNRESET on its next call)."},
    {kEv, ev_injected_datagram, C::any, 0, L::info, "INJECTED_DATAGRAM",
     "A sockdiag rule did to this datagram what a network may do to any: lost it, delivered it twice, "
     "held it back behind later ones or cut it short; the note says which.",
     "A program on UDP or unix datagrams must not count on each datagram arriving once, whole and in "
     "order: check its retries, its duplicate and order checks, and its length checks."},
};

constexpr std::size_t kRowCount = sizeof kRows / sizeof kRows[0];

// JSON records copy the texts as they are, escaping only the values filled
// into their placeholders: a text must hold no '"', '\\' or control character.
constexpr bool json_plain(const char* s) {
  for (; *s; ++s)
    if (static_cast<unsigned char>(*s) < 0x20 || *s == '"' || *s == '\\') return false;
  return true;
}
constexpr bool rows_json_plain() {
  for (const Explanation& row : kRows)
    if (!json_plain(row.text) || !json_plain(row.advice)) return false;
  return true;
}
static_assert(rows_json_plain(), "an explanation or advice needs a JSON escape: write it without '\"', '\\\\' or control characters");

// An index from a code to its rows, built at compile time: explain() and
// code_name() run for every failure, and a scan of the whole table was most
// of their cost.

constexpr bool same_code(const Explanation& a, const Explanation& b) {
  return a.code_kind == b.code_kind && a.code == b.code;
}

// The index keeps where a code's rows start and how many there are.
constexpr bool rows_of_each_code_are_together() {
  for (std::size_t i = 1; i < kRowCount; ++i) {
    if (same_code(kRows[i], kRows[i - 1])) continue;
    for (std::size_t j = 0; j + 1 < i; ++j) {
      if (same_code(kRows[j], kRows[i])) return false;
    }
  }
  return true;
}
static_assert(rows_of_each_code_are_together(), "kRows: the rows of one code must follow each other");

// A code's slot in the index of its kind: errno values and events as they are,
// getaddrinfo results (negative in glibc) negated. Out-of-range codes wrap
// to large values, which no index holds.
constexpr std::size_t slot_of(CodeKind code_kind, int code) {
  auto c = static_cast<unsigned>(code);
  return code_kind == CodeKind::gai ? 0u - c : c;
}

constexpr std::size_t slot_count(CodeKind code_kind) {
  std::size_t count = 0;
  for (const Explanation& row : kRows) {
    if (row.code_kind == code_kind && slot_of(code_kind, row.code) + 1 > count) count = slot_of(code_kind, row.code) + 1;
  }
  return count;
}
static_assert(slot_count(kErr) <= 4096 && slot_count(kGai) <= 4096 && slot_count(kEv) <= 4096,
              "kRows: a code out of its domain's range (getaddrinfo codes are negative)");

struct CodeRows {
  uint16_t first = 0;
  uint16_t count = 0;  // 0: no row for the code
};
static_assert(kRowCount <= UINT16_MAX, "kRows: too many rows for CodeRows");

template <std::size_t N>
struct CodeIndex {
  CodeRows slots[N];
};

template <std::size_t N>
constexpr CodeIndex<N> build_index(CodeKind code_kind) {
  CodeIndex<N> index{};
  for (std::size_t i = kRowCount; i-- > 0;) {
    if (kRows[i].code_kind != code_kind) continue;
    CodeRows& rows = index.slots[slot_of(code_kind, kRows[i].code)];
    rows.first = static_cast<uint16_t>(i);
    ++rows.count;
  }
  return index;
}

constexpr auto kErrnoIndex = build_index<slot_count(kErr)>(kErr);
constexpr auto kGaiIndex = build_index<slot_count(kGai)>(kGai);
constexpr auto kEventIndex = build_index<slot_count(kEv)>(kEv);

template <std::size_t N>
const CodeRows* find_in(const CodeIndex<N>& index, std::size_t slot) {
  return slot < N && index.slots[slot].count != 0 ? &index.slots[slot] : nullptr;
}

// The rows of a code; nullptr when the table has none.
const CodeRows* rows_of(CodeKind code_kind, int code) {
  std::size_t slot = slot_of(code_kind, code);
  switch (code_kind) {
    case CodeKind::errno_code: return find_in(kErrnoIndex, slot);
    case CodeKind::gai: return find_in(kGaiIndex, slot);
    case CodeKind::event: return find_in(kEventIndex, slot);
  }
  return nullptr;
}

// gai_strerror's texts without its locale lookup (glibc has none for
// EAI_OVERFLOW; the netdb.h comment is used).
struct GaiMessage {
  int code;
  const char* text;
};
constexpr GaiMessage kGaiMessages[] = {
    {EAI_BADFLAGS, "Bad value for ai_flags"},
    {EAI_NONAME, "Name or service not known"},
    {EAI_AGAIN, "Temporary failure in name resolution"},
    {EAI_FAIL, "Non-recoverable failure in name resolution"},
    {EAI_NODATA, "No address associated with hostname"},
    {EAI_FAMILY, "ai_family not supported"},
    {EAI_SOCKTYPE, "ai_socktype not supported"},
    {EAI_SERVICE, "Servname not supported for ai_socktype"},
    {EAI_ADDRFAMILY, "Address family for hostname not supported"},
    {EAI_MEMORY, "Memory allocation failure"},
    {EAI_SYSTEM, "System error"},
    {EAI_OVERFLOW, "Argument buffer overflow"},
    {EAI_INPROGRESS, "Processing request in progress"},
    {EAI_CANCELED, "Request canceled"},
    {EAI_NOTCANCELED, "Request not canceled"},
    {EAI_ALLDONE, "All requests done"},
    {EAI_INTR, "Interrupted by a signal"},
    {EAI_IDN_ENCODE, "Parameter string not correctly encoded"},
};

// Second names of errno values (glibc's strerrorname_np gives one per value).
struct Alias {
  const char* name;
  int code;
};
constexpr Alias kErrnoAliases[] = {
    {"EWOULDBLOCK", EWOULDBLOCK},
    {"EDEADLOCK", EDEADLOCK},
    {"ENOTSUP", ENOTSUP},
};

// Linux errno values stay below 4096 (the kernel's MAX_ERRNO).
constexpr int kMaxErrno = 4095;

const char* const kLevelNames[] = {"off", "error", "info", "debug", "trace"};

const char* const kCallClassNames[] = {
    "any",      "socket",  "connect", "bind", "listen", "accept", "send",
    "recv",     "close",   "shutdown", "sockopt", "poll", "dns",  "fdops",
};


char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_nocase(std::string_view a, const char* b) {
  std::size_t i = 0;
  for (; i < a.size(); ++i) {
    if (b[i] == '\0' || ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return b[i] == '\0';
}

// A whole decimal number with an optional leading '-', small enough for int.
bool parse_int(std::string_view s, int* out) {
  bool negative = !s.empty() && s[0] == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty() || s.size() > 9) return false;
  int value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *out = negative ? -value : value;
  return true;
}

const char* gai_message(int code) {
  for (const GaiMessage& m : kGaiMessages) {
    if (m.code == code) return m.text;
  }
  return nullptr;
}

}  // namespace

const char* level_name(Level level) {
  auto i = static_cast<std::size_t>(level);
  return i < sizeof kLevelNames / sizeof kLevelNames[0] ? kLevelNames[i] : "unknown";
}

const char* call_class_name(CallClass call) {
  auto i = static_cast<std::size_t>(call);
  return i < sizeof kCallClassNames / sizeof kCallClassNames[0] ? kCallClassNames[i] : "unknown";
}

bool call_class_from_name(std::string_view name, CallClass* out) {
  for (std::size_t i = 0; i < sizeof kCallClassNames / sizeof kCallClassNames[0]; ++i) {
    if (equals_nocase(name, kCallClassNames[i])) {
      *out = static_cast<CallClass>(i);
      return true;
    }
  }
  // A hooked libc function names its own class (hooks.def's CLASS column).
  for (std::size_t i = 0; i < kCallCount; ++i) {
    if (kClassOf[i] != CallClass::any && equals_nocase(name, kHookNames[i])) {
      *out = kClassOf[i];
      return true;
    }
  }
  // Not hooked (glibc 2.35's epoll_pwait2), but a wait a user may name.
  if (equals_nocase(name, "epoll_pwait2")) {
    *out = CallClass::poll;
    return true;
  }
  return false;
}

const Explanation* explanation_rows(std::size_t* count) {
  *count = kRowCount;
  return kRows;
}

const Explanation* explain(CodeKind code_kind, int code, CallClass call, uint32_t situation) {
  const CodeRows* rows = rows_of(code_kind, code);
  if (!rows) return nullptr;
  for (std::size_t i = rows->first; i < rows->first + rows->count; ++i) {
    const Explanation& row = kRows[i];
    if (row.call != CallClass::any && row.call != call) continue;
    if ((row.when & situation) != row.when) continue;
    return &row;
  }
  return nullptr;
}

const char* code_name(CodeKind code_kind, int code) {
  if (const CodeRows* rows = rows_of(code_kind, code)) return kRows[rows->first].name;
  if (code_kind == CodeKind::errno_code) {
    if (const char* name = strerrorname_np(code)) return name;
  }
  return "unknown";
}

bool code_from_name(std::string_view name, CodeKind* code_kind, int* code) {
  int number = 0;
  if (parse_int(name, &number)) {
    // Positive numbers are errno values; negative ones getaddrinfo results.
    if (number > 0 && strerrorname_np(number) != nullptr) {
      *code_kind = CodeKind::errno_code;
      *code = number;
      return true;
    }
    if (number < 0 && gai_message(number) != nullptr) {
      *code_kind = CodeKind::gai;
      *code = number;
      return true;
    }
    return false;
  }
  for (const Explanation& row : kRows) {
    if (equals_nocase(name, row.name)) {
      *code_kind = row.code_kind;
      *code = row.code;
      return true;
    }
  }
  for (const Alias& alias : kErrnoAliases) {
    if (equals_nocase(name, alias.name)) {
      *code_kind = CodeKind::errno_code;
      *code = alias.code;
      return true;
    }
  }
  for (int n = 1; n <= kMaxErrno; ++n) {
    const char* known = strerrorname_np(n);
    if (known != nullptr && equals_nocase(name, known)) {
      *code_kind = CodeKind::errno_code;
      *code = n;
      return true;
    }
  }
  return false;
}

const char* code_message(CodeKind code_kind, int code) {
  switch (code_kind) {
    case CodeKind::errno_code:
      if (const char* text = strerrordesc_np(code)) return text;
      return "Unknown error";
    case CodeKind::gai:
      if (const char* text = gai_message(code)) return text;
      return "Unknown getaddrinfo error";
    case CodeKind::event:
      switch (code) {
        case ev_eof: return "End of file: the read returned 0";
        case ev_pollhup: return "Hang up: the connection is closed";
        case ev_pollerr: return "Error pending on the socket";
        case ev_injected_delay: return "Delayed by a sockdiag rule";
        case ev_injected_short: return "Shortened by a sockdiag rule";
        case ev_injected_reset: return "Closed with a reset by a sockdiag rule";
        case ev_injected_datagram: return "A datagram changed by a sockdiag rule";
        default: return "Unknown event";
      }
  }
  return "Unknown error";
}

}  // namespace sd
