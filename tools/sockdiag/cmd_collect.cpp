// `sockdiag collect --listen PATH --to SINK`: one collector for the
// processes of a host started elsewhere with SOCKDIAG_LOG=unix:PATH (a
// systemd unit's Environment=). They send each record as one datagram to
// PATH, afresh each time (shim/preload/log.cpp): while no collector listens
// or its socket is full they drop and count, never wait; a collector started
// again at the same path gets every record sent after it came back.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "commands.h"
#include "escape.h"
#include "log_sink.h"
#include "record_forwarder.h"
#include "usage.h"

namespace sdcli {

namespace {

volatile sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

// Room for bursts while the sink is busy (the kernel caps it at rmem_max).
constexpr int kReceiveBytes = 4 << 20;

struct CollectOptions {
  std::string listen, to, format = "json";
};

int collect(const CollectOptions& o) {
  if (o.listen.empty() || o.listen[0] != '/' || o.listen.size() >= sizeof(sockaddr_un{}.sun_path))
    throw UsageError("--listen: " + sd::quoted(o.listen) + ": accepted: an absolute path of at most " +
                     std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
  if (!names_sink(o.to))
    throw UsageError("--to: " + sd::quoted(o.to) +
                     ": accepted: journald, syslog[:FACILITY[:IDENT]], rotate:PATH[:SIZE[:COUNT]], daily:PATH, "
                     "terminal");
  if (o.format != "json" && o.format != "text")
    throw UsageError("--format: " + sd::quoted(o.format) + ": accepted: json, text");
  sd::Format format = o.format == "json" ? sd::Format::json : sd::Format::text;
  LogSink sink = parse_log_sink(o.to, "--to");
  if (channel_format(sink, format) != format)
    throw UsageError("--to " + sd::quoted(o.to) + " needs the records' fields: the programs must write JSON (SOCKDIAG_FORMAT=json, "
                     "--format json)");
  std::unique_ptr<RecordForwarder> forwarder = make_forwarder(sink, format);

  // A socket left by a collector that was killed is replaced; anything else
  // at the path is not ours to remove.
  struct stat st;
  if (lstat(o.listen.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) throw UsageError("--listen: " + sd::quoted(o.listen) + " exists and is not a socket");
    unlink(o.listen.c_str());
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, o.listen.c_str());
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    throw UsageError("--listen: cannot listen on " + sd::quoted(o.listen) + ": " + std::strerror(errno));
  // Programs of every user may send records; only the collector reads them.
  chmod(o.listen.c_str(), 0622);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kReceiveBytes, sizeof(kReceiveBytes));

  struct sigaction sa {};
  sa.sa_handler = on_stop;  // no SA_RESTART: the recv returns EINTR
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::vector<char> buf(65536);
  while (!g_stop) {
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n > 0) forwarder->forward(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    else if (n < 0 && errno != EINTR) break;
  }
  close(fd);
  unlink(o.listen.c_str());
  return 0;
}

}  // namespace

Command add_collect(CLI::App& root) {
  auto opts = std::make_shared<CollectOptions>();
  CLI::App* sub = root.add_subcommand(
      "collect",
      "Receive the records of processes started elsewhere with SOCKDIAG_LOG=unix:PATH and write them to a sink.");
  set_usage(sub, "sockdiag collect --listen PATH --to SINK [--format json|text]");
  sub->add_option("--listen", opts->listen, "The datagram socket to create at PATH (absolute), as in SOCKDIAG_LOG=unix:PATH.")
      ->type_name("PATH")
      ->required();
  sub->add_option("--to", opts->to,
                  "Where records go: journald, syslog[:FACILITY[:IDENT]], rotate:PATH[:SIZE[:COUNT]] "
                  "(defaults 10M and 5), daily:PATH or terminal.")
      ->type_name("SINK")
      ->required();
  sub->add_option("--format", opts->format,
                  "What the programs write (their SOCKDIAG_FORMAT): json (default; journald and syslog need it) or text.")
      ->type_name("json|text");
  sub->footer(
      "A program is never held up by the collector: while none listens, or its socket is full, records are "
      "dropped and counted (the next record that gets through says how many), and a collector started again "
      "at the same path receives every record sent after it came back. SIGTERM or SIGINT stops it.\n\n"
      "Exit status: 0 when stopped by a signal; 2 for bad options or a path it cannot listen on.\n\n"
      "Example:\n"
      "  sockdiag collect --listen /run/sockdiag.sock --to journald &\n"
      "  SOCKDIAG_LOG=unix:/run/sockdiag.sock SOCKDIAG_FORMAT=json LD_PRELOAD=$(sockdiag libpath) ./server");
  auto action = [opts]() { return collect(*opts); };
  return {sub, action};
}

}  // namespace sdcli
