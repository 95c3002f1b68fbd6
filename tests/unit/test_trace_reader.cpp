// The strace engine's reader (tools/sockdiag/trace_reader.h): lines as
// strace 6.1 writes them with the engine's options (taken from real traces of
// this machine) turned into the library's records, and lines it does not
// understand turned into none.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "addr_text.h"
#include "config.h"
#include "strace_args.h"
#include "strace_line.h"
#include "trace_reader.h"
#include "tree_summary.h"

using namespace sdcli;
using nlohmann::json;

namespace {

struct Run {
  std::vector<json> records;
  std::vector<long> pids;
  uint64_t not_understood = 0;
};

Run read_trace(const std::string& text, sd::Level level = sd::Level::info, TreeSummary* summary = nullptr,
               std::map<std::string, std::string, std::less<>> rules = {}) {
  sd::Config config;
  config.format = sd::Format::json;
  config.level = level;
  Run run;
  TraceOutput out;
  out.write = [&run](long pid, std::string_view line) {
    run.records.push_back(json::parse(line));
    run.pids.push_back(pid);
  };
  out.summary = summary;
  out.rule_of_syscall = std::move(rules);
  TraceReader reader(config, std::move(out));
  // Fed in pieces that split lines anywhere, as a FIFO may.
  for (std::size_t i = 0; i < text.size(); i += 7) reader.feed(text.data() + i, std::min<std::size_t>(7, text.size() - i));
  reader.finish();
  run.not_understood = reader.not_understood();
  return run;
}

json summary_json(const TreeSummary& summary) {
  char* buf = nullptr;
  std::size_t size = 0;
  FILE* f = open_memstream(&buf, &size);
  summary.print_json(f);
  std::fclose(f);
  json j = json::parse(std::string(buf, size));
  std::free(buf);
  return j;
}

const char* kRefused =
    "25618 1796549502.524844 execve(\"./c1s\", [\"\"...], [\"\"...]) = 0 <0.004200>\n"
    "25618 1796549502.533263 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 3<socket:[20217696]> <0.000074>\n"
    "25618 1796549502.533714 connect(3<socket:[20217696]>, {sa_family=AF_INET, sin_port=htons(1), "
    "sin_addr=inet_addr(\"127.0.0.1\")}, 16) = -1 ECONNREFUSED (Connection refused) <0.000127>\n"
    "25618 1796549502.534108 close(3<socket:[20217696]>) = 0 <0.000037>\n"
    "25618 1796549502.534193 socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK, IPPROTO_IP) = 3<socket:[20217701]> <0.000057>\n"
    "25618 1796549502.534298 connect(3<socket:[20217701]>, {sa_family=AF_INET, sin_port=htons(1), "
    "sin_addr=inet_addr(\"127.0.0.1\")}, 16) = -1 EINPROGRESS (Operation now in progress) <0.000035>\n"
    "25618 1796549502.534389 poll([{fd=3<socket:[20217701]>, events=POLLOUT}], 1, 1000) = 1 ([{fd=3, "
    "revents=POLLOUT|POLLERR|POLLHUP}]) <0.000039>\n"
    "25618 1796549502.535116 getsockopt(3<socket:[20217701]>, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0 "
    "<0.000023>\n"
    "25618 1796549502.535621 write(1</dev/pts/0>, \"\"..., 4) = 4 <0.000076>\n"
    "25618 1796549502.536265 +++ exited with 0 +++\n";

}  // namespace

TEST_CASE("a refused connect, blocking and through SO_ERROR, read from strace as the library records it",
          "[trace]") {
  Run run = read_trace(kRefused);
  CHECK(run.not_understood == 0);
  REQUIRE(run.records.size() == 2);
  const json& blocking = run.records[0];
  CHECK(blocking["call"] == "connect");
  CHECK(blocking["fd"] == 3);
  CHECK(blocking["kind"] == "tcp4");
  CHECK(blocking["peer"] == "127.0.0.1:1");
  CHECK(blocking["code"] == "ECONNREFUSED");
  CHECK(blocking["ret"] == -1);
  CHECK(blocking["via"] == "");
  CHECK(blocking["pid"] == 25618);
  CHECK(blocking["prog"] == "c1s");
  CHECK(blocking["level"] == "error");
  CHECK(blocking["explanation"].get<std::string>().find("127.0.0.1:1") != std::string::npos);
  CHECK(blocking["ts"] == "2026-12-06T09:31:42.533714Z");
  const json& async = run.records[1];
  CHECK(async["call"] == "connect");
  CHECK(async["via"] == "SO_ERROR");
  CHECK(async["ret"] == -1);  // the connect's own result, not the getsockopt's
  CHECK(async["code"] == "ECONNREFUSED");
  CHECK(async["peer"] == "127.0.0.1:1");
  CHECK(run.pids == std::vector<long>{25618, 25618});
}

TEST_CASE("expected flow is recorded at debug level only, and counted in the summary at every level", "[trace]") {
  TreeSummary summary;
  Run info = read_trace(kRefused, sd::Level::info, &summary);
  CHECK(info.records.size() == 2);
  Run debug = read_trace(kRefused, sd::Level::debug);
  REQUIRE(debug.records.size() == 3);
  CHECK(debug.records[1]["code"] == "EINPROGRESS");
  CHECK(debug.records[1]["level"] == "debug");
  json j = summary_json(summary);
  CHECK(j["failures"] == 2);
  CHECK(j["processes"] == 1);
  CHECK(j["strace_lines_not_understood"] == 0);
  bool einprogress = false;
  for (const json& c : j["counts"]) einprogress = einprogress || (c["code"] == "EINPROGRESS" && c["count"] == 1);
  CHECK(einprogress);
  CHECK(j["peers"][0]["peer"] == "127.0.0.1:1");
  CHECK(j["peers"][0]["failures"] == 2);
}

TEST_CASE("a call split by another thread's lines is joined, and the thread's records name its process", "[trace]") {
  std::string text =
      "100   1796549502.000001 execve(\"/usr/bin/srv\", [], []) = 0 <0.000100>\n"
      "100   1796549502.000002 clone(child_stack=0x7f, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD"
      "|CLONE_SYSVSEM <unfinished ...>\n"
      "101   1796549502.000003 socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = "
      "5<socket:[77]> <0.000010>\n"
      "100   1796549502.000004 <... clone resumed>) = 101 <0.000050>\n"
      "101   1796549502.000005 connect(5<socket:[77]>, {sa_family=AF_INET6, sin6_port=htons(8080), "
      "sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"::1\", &sin6_addr), sin6_scope_id=0}, 28 <unfinished ...>\n"
      "100   1796549502.000006 write(1</dev/null>, \"\"..., 3) = 3 <0.000001>\n"
      "101   1796549502.000007 <... connect resumed>) = -1 ECONNREFUSED (Connection refused) <0.000009>\n";
  Run run = read_trace(text);
  CHECK(run.not_understood == 0);
  REQUIRE(run.records.size() == 1);
  CHECK(run.records[0]["pid"] == 100);
  CHECK(run.records[0]["tid"] == 101);
  CHECK(run.records[0]["prog"] == "srv");
  CHECK(run.records[0]["kind"] == "tcp6");
  CHECK(run.records[0]["peer"] == "[::1]:8080");
  CHECK(run.records[0]["code"] == "ECONNREFUSED");
}

TEST_CASE("a forked child records under its own pid, with the sockets it inherited", "[trace]") {
  std::string text =
      "200 1796549502.000001 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3<socket:[9]> <0.000010>\n"
      "200 1796549502.000002 connect(3<socket:[9]>, {sa_family=AF_INET, sin_port=htons(80), "
      "sin_addr=inet_addr(\"127.0.0.2\")}, 16) = 0 <0.000010>\n"
      "200 1796549502.000003 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, "
      "child_tidptr=0x7f) = 201 <0.000100>\n"
      "201 1796549502.000004 read(3<socket:[9]>, \"\"..., 100) = -1 ECONNRESET (Connection reset by peer) "
      "<0.000010>\n"
      "201 1796549502.000005 +++ exited with 1 +++\n";
  Run run = read_trace(text);
  REQUIRE(run.records.size() == 1);
  CHECK(run.records[0]["pid"] == 201);
  CHECK(run.records[0]["tid"] == 201);
  CHECK(run.records[0]["peer"] == "127.0.0.2:80");
  CHECK(run.records[0]["code"] == "ECONNRESET");
  CHECK(run.records[0]["call"] == "read");
}

TEST_CASE("end of stream once per connection, then EPIPE with the bytes the connection carried", "[trace]") {
  std::string text =
      "300 1796549502.000001 socketpair(AF_UNIX, SOCK_STREAM, 0, [3<socket:[20220769]>, 4<socket:[20220770]>]) = 0 "
      "<0.000169>\n"
      "300 1796549502.000002 write(3<socket:[20220769]>, \"\"..., 5) = 5 <0.000010>\n"
      "300 1796549502.000003 close(4<socket:[20220770]>) = 0 <0.000031>\n"
      "300 1796549502.000004 read(3<socket:[20220769]>, \"\", 10) = 0 <0.000045>\n"
      "300 1796549502.000005 read(3<socket:[20220769]>, \"\", 10) = 0 <0.000045>\n"
      "300 1796549502.000006 writev(3<socket:[20220769]>, [{iov_base=\"\"..., iov_len=5}], 1) = -1 EPIPE (Broken "
      "pipe) <0.000054>\n"
      "300 1796549502.000007 --- SIGPIPE {si_signo=SIGPIPE, si_code=SI_USER, si_pid=300, si_uid=0} ---\n"
      "300 1796549502.000008 +++ killed by SIGPIPE +++\n";
  Run run = read_trace(text);
  CHECK(run.not_understood == 0);
  REQUIRE(run.records.size() == 2);
  CHECK(run.records[0]["code"] == "EOF");
  CHECK(run.records[0]["kind"] == "unix-stream");
  CHECK(run.records[0]["level"] == "info");
  CHECK(run.records[1]["code"] == "EPIPE");
  CHECK(run.records[1]["call"] == "writev");
  CHECK(run.records[1]["bytes_sent"] == 5);
  CHECK_FALSE(run.records[1].contains("note"));  // what SIGPIPE did is not the reader's to say
}

TEST_CASE("ERESTARTSYS is the EINTR the program saw unless the call is made again", "[trace]") {
  std::string text =
      "400 1796549502.000001 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3<socket:[9]> <0.000010>\n"
      "400 1796549502.000002 accept(3<socket:[9]>, NULL, NULL) = ? ERESTARTSYS (To be restarted if SA_RESTART is "
      "set) <0.1>\n"
      "400 1796549502.000003 --- SIGALRM {si_signo=SIGALRM, si_code=SI_KERNEL} ---\n"
      "400 1796549502.000004 accept(3<socket:[9]>, NULL, NULL) = ? ERESTARTSYS (To be restarted if SA_RESTART is "
      "set) <0.1>\n"
      "400 1796549502.000005 --- SIGALRM {si_signo=SIGALRM, si_code=SI_KERNEL} ---\n"
      "400 1796549502.000006 close(3<socket:[9]>) = 0 <0.000010>\n";
  Run run = read_trace(text, sd::Level::debug);
  REQUIRE(run.records.size() == 1);
  CHECK(run.records[0]["call"] == "accept");
  CHECK(run.records[0]["code"] == "EINTR");
  CHECK(run.records[0]["ts"] == "2026-12-06T09:31:42.000004Z");
}

TEST_CASE("POLLHUP through epoll reaches the socket by epoll_ctl's data, once", "[trace]") {
  std::string text =
      "500 1796549502.000001 socketpair(AF_UNIX, SOCK_STREAM, 0, [3<socket:[1]>, 4<socket:[2]>]) = 0 <0.1>\n"
      "500 1796549502.000002 epoll_ctl(5<anon_inode:[eventpoll]>, EPOLL_CTL_ADD, 3<socket:[1]>, {events=EPOLLIN, "
      "data={u32=2914971392, u64=956397711104}}) = 0 <0.000022>\n"
      "500 1796549502.000003 close(4<socket:[2]>) = 0 <0.1>\n"
      "500 1796549502.000004 epoll_wait(5<anon_inode:[eventpoll]>, [{events=EPOLLIN|EPOLLHUP, data={u32=2914971392, "
      "u64=956397711104}}], 1, 10) = 1 <0.000020>\n"
      "500 1796549502.000005 epoll_pwait(5<anon_inode:[eventpoll]>, [{events=EPOLLIN|EPOLLHUP, data={u32=2914971392, "
      "u64=956397711104}}], 1, 10, NULL, 8) = 1 <0.000020>\n";
  Run run = read_trace(text);
  REQUIRE(run.records.size() == 1);
  CHECK(run.records[0]["code"] == "POLLHUP");
  CHECK(run.records[0]["via"] == "epoll_wait");
  CHECK(run.records[0]["fd"] == 3);
}

TEST_CASE("a result strace injected is the rule's, recorded at error level", "[trace]") {
  std::string text =
      "600 1796549502.000001 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3<socket:[9]> <0.000010>\n"
      "600 1796549502.000002 connect(3<socket:[9]>, {sa_family=AF_INET, sin_port=htons(5432), "
      "sin_addr=inet_addr(\"127.0.0.1\")}, 16) = -1 ECONNREFUSED (Connection refused) (INJECTED) <0.000010>\n";
  TreeSummary summary;
  Run run = read_trace(text, sd::Level::error, &summary,
                       {{"connect", "connect:error=ECONNREFUSED:nth=1"}, {"accept4", "accept4:delay=1ms"}});
  REQUIRE(run.records.size() == 1);
  CHECK(run.records[0]["injected"] == true);
  CHECK(run.records[0]["rule"] == "connect:error=ECONNREFUSED:nth=1");
  json j = summary_json(summary);
  CHECK(j["injected"] == 1);
  REQUIRE(j["rules"].size() == 2);
  for (const json& r : j["rules"])
    CHECK(r["injected"] == (r["rule"] == "connect:error=ECONNREFUSED:nth=1" ? 1 : 0));
}

TEST_CASE("files, pipes and numbers reused by them are no socket's, nor is libc's nscd test", "[trace]") {
  std::string text =
      "700 1796549502.000001 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3<socket:[9]> <0.000010>\n"
      "700 1796549502.000002 close(3<socket:[9]>) = 0 <0.000010>\n"
      // A short line, padded by strace to its result column: a second close of the socket.
      "700   1796549502.000002 close(3)  = -1 EBADF (Bad file descriptor) <0.000010>\n"
      "700 1796549502.000003 read(3</etc/passwd>, \"\"..., 10) = -1 EISDIR (Is a directory) <0.000010>\n"
      "700 1796549502.000004 write(4<pipe:[5]>, \"\"..., 10) = -1 EPIPE (Broken pipe) <0.000010>\n"
      "700 1796549502.000005 read(3</etc/passwd>, \"\", 10) = 0 <0.000010>\n"
      "700 1796549502.000006 recvfrom(0</dev/null>, 0x7f, 8, 0, NULL, NULL) = -1 ENOTSOCK (Socket operation on "
      "non-socket) <0.000010>\n"
      // glibc's own test of nscd before a look-up, which the library never sees.
      "700 1796549502.000007 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 5<socket:[10]> <0.1>\n"
      "700 1796549502.000008 connect(5<socket:[10]>, {sa_family=AF_UNIX, sun_path=\"/var/run/nscd/socket\"}, 110) = "
      "-1 ENOENT (No such file or directory) <0.000010>\n";
  Run run = read_trace(text, sd::Level::debug);
  // The double close of the socket, and recv's ENOTSOCK: a program asking what its stdin is.
  REQUIRE(run.records.size() == 2);
  CHECK(run.records[0]["call"] == "close");
  CHECK(run.records[0]["code"] == "EBADF");
  CHECK(run.records[0]["kind"] == "");
  CHECK(run.records[1]["call"] == "recv");
  CHECK(run.records[1]["code"] == "ENOTSOCK");
}

TEST_CASE("lines not understood make no record and are counted", "[trace]") {
  std::string text =
      "garbage\n"
      "800 1796549502.000001 <... connect resumed>) = -1 ECONNREFUSED (Connection refused) <0.1>\n"
      "800 1796549502.000002 connect(3<socket:[9]>, {sa_family=AF_INET, sin_port=htons(1), "
      "sin_addr=inet_addr(\"127.0.0.1\")}, 16) = -1 ECONNREFUSED (Connection refused\n"
      "800 1796549502.000003 connect(3<socket:[9]>, {sa_family=AF_INET) = 0\n"
      "800 1796549502.000004 connect(3<socket:[9]>, {sa_family=AF_INET, sin_port=htons(1), "
      "sin_addr=inet_addr(\"127.0.0.1\")}, 16) = -1 ECONNREFUSED";  // cut: no newline at the end
  TreeSummary summary;
  Run run = read_trace(text, sd::Level::trace, &summary);
  CHECK(run.records.empty());
  CHECK(run.not_understood == 5);
}

TEST_CASE("socket addresses as strace prints them", "[trace]") {
  sockaddr_storage ss;
  socklen_t len = 0;
  char text[128];
  auto format = [&]() {
    sd::format_addr(reinterpret_cast<sockaddr*>(&ss), len, text, sizeof(text));
    return std::string(text);
  };
  REQUIRE(parse_sockaddr("{sa_family=AF_UNIX, sun_path=\"/tmp/no such\\\"sock\"}", &ss, &len));
  CHECK(format() == "/tmp/no such\"sock");
  REQUIRE(parse_sockaddr("{sa_family=AF_UNIX, sun_path=@\"abs\"}", &ss, &len));
  CHECK(format() == "@abs");
  REQUIRE(parse_sockaddr("{sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "
                         "\"::ffff:127.0.0.1\", &sin6_addr), sin6_scope_id=0}",
                         &ss, &len));
  CHECK(format() == "[::ffff:127.0.0.1]:443");
  CHECK_FALSE(parse_sockaddr("0x7ffd1234", &ss, &len));
  CHECK_FALSE(parse_sockaddr("NULL", &ss, &len));
  CHECK_FALSE(parse_sockaddr("{sa_family=AF_INET, sin_port=htons(99999), sin_addr=inet_addr(\"1.2.3.4\")}", &ss, &len));
  CHECK_FALSE(parse_sockaddr("{sa_family=AF_UNIX, sun_path=\"/tmp/cut\"...}", &ss, &len));
}

TEST_CASE("the program's name is its file's, escapes undone", "[trace]") {
  std::string text =
      "900 1796549502.000001 execve(\"/opt/my app/cli\\\"ent\", [\"\"...], [\"\"...]) = 0 <0.000100>\n"
      "900 1796549502.000002 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3<socket:[9]> <0.000010>\n"
      "900 1796549502.000003 connect(3<socket:[9]>, {sa_family=AF_INET, sin_port=htons(1), "
      "sin_addr=inet_addr(\"127.0.0.1\")}, 16) = -1 ECONNREFUSED (Connection refused) <0.000010>\n";
  Run run = read_trace(text);
  REQUIRE(run.records.size() == 1);
  CHECK(run.records[0]["prog"] == "cli\"ent");
}

TEST_CASE("a thread's socket() written before the close that freed its number keeps its kind and peer",
          "[trace]") {
  // As strace wrote fork_refused's lines in CI: the thread's socket() at fd
  // 4 comes out before the main thread's close of the fd 4 it had; then the
  // main thread's connect on its new fd 4... after the thread's.
  std::string text =
      "300 1796549502.000001 clone(child_stack=0x7f, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|"
      "CLONE_THREAD|CLONE_SYSVSEM) = 301 <0.1>\n"
      "300 1796549502.000002 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 4<socket:[100]> <0.1>\n"
      "300 1796549502.000003 connect(4<socket:[100]>, {sa_family=AF_INET, sin_port=htons(7), "
      "sin_addr=inet_addr(\"127.0.0.1\")}, 16) = -1 ECONNREFUSED (Connection refused) <0.1>\n"
      "301 1796549502.000005 socket(AF_INET6, SOCK_STREAM, IPPROTO_IP) = 4<socket:[200]> <0.1>\n"
      "300 1796549502.000004 close(4<socket:[100]>) = 0 <0.1>\n"
      "301 1796549502.000006 connect(4<socket:[200]>, {sa_family=AF_INET6, sin6_port=htons(7), "
      "sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"::1\", &sin6_addr), sin6_scope_id=0}, 28) = -1 ECONNREFUSED "
      "(Connection refused) <0.1>\n"
      // The old socket's last call, written after the new one's making.
      "301 1796549502.000007 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 5<socket:[300]> <0.1>\n"
      "300 1796549502.000008 getsockopt(5<socket:[300]>, SOL_SOCKET, SO_ERROR, [0], [4]) = 0 <0.1>\n"
      "301 1796549502.000009 close(4<socket:[200]>) = 0 <0.1>\n";
  Run run = read_trace(text);
  CHECK(run.not_understood == 0);
  REQUIRE(run.records.size() == 2);
  CHECK(run.records[0]["kind"] == "tcp4");
  CHECK(run.records[1]["kind"] == "tcp6");
  CHECK(run.records[1]["peer"] == "[::1]:7");
  CHECK(run.records[1]["tid"] == 301);
}

TEST_CASE("the last call of a closed socket written after its number's next socket() is its own", "[trace]") {
  std::string text =
      "400 1796549502.000001 clone(child_stack=0x7f, flags=CLONE_VM|CLONE_FILES|CLONE_THREAD) = 401 <0.1>\n"
      "400 1796549502.000002 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 4<socket:[100]> <0.1>\n"
      "400 1796549502.000003 connect(4<socket:[100]>, {sa_family=AF_INET, sin_port=htons(7), "
      "sin_addr=inet_addr(\"127.0.0.2\")}, 16) = 0 <0.1>\n"
      // Thread 401 gets number 4 once 400 has closed it; strace writes its
      // socket() first, then 400's last read and its close.
      "401 1796549502.000006 socket(AF_UNIX, SOCK_STREAM, 0) = 4<socket:[200]> <0.1>\n"
      "400 1796549502.000004 read(4<socket:[100]>, \"\"..., 10) = -1 ECONNRESET (Connection reset by peer) <0.1>\n"
      "400 1796549502.000005 close(4<socket:[100]>) = 0 <0.1>\n"
      "401 1796549502.000007 connect(4<socket:[200]>, {sa_family=AF_UNIX, sun_path=\"/run/none.sock\"}, 110) = -1 "
      "ENOENT (No such file or directory) <0.1>\n";
  Run run = read_trace(text);
  REQUIRE(run.records.size() == 2);
  CHECK(run.records[0]["code"] == "ECONNRESET");
  CHECK(run.records[0]["kind"] == "tcp4");
  CHECK(run.records[0]["peer"] == "127.0.0.2:7");
  CHECK(run.records[1]["code"] == "ENOENT");
  CHECK(run.records[1]["kind"] == "unix-stream");
  CHECK(run.records[1]["peer"] == "/run/none.sock");
}
