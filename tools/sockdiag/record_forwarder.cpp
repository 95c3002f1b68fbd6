#include "record_forwarder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/ansicolor_sink.h>
#include <spdlog/sinks/daily_file_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/syslog_sink.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "journal_native.h"
#include "usage.h"

namespace sdcli {

namespace {

using Json = nlohmann::json;

std::string_view without_newline(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  return line;
}

std::string str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

spdlog::level::level_enum level_of(const std::string& word) {
  if (word == "error") return spdlog::level::err;
  if (word == "debug") return spdlog::level::debug;
  if (word == "trace") return spdlog::level::trace;
  return spdlog::level::info;
}

// A text record: "sockdiag TS prog[pid/tid] LEVEL call ..." (record.cpp).
spdlog::level::level_enum level_of_text(std::string_view line) {
  for (const char* word : {"error", "info", "debug", "trace"}) {
    std::string mark = std::string("] ") + word + " ";
    if (line.find(mark) != std::string_view::npos) return level_of(word);
  }
  return spdlog::level::info;
}

// One line a person reads (syslog's text, journald's MESSAGE): what failed,
// where, and why, from a JSON record's fields.
std::string human_text(const Json& j, std::string_view raw) {
  if (!j.contains("call")) {
    std::string m = str(j, "message");
    return m.empty() ? std::string(raw) : m;
  }
  std::string t = str(j, "prog") + "[" + std::to_string(j.value("pid", 0L)) + "] " + str(j, "call");
  if (j.value("fd", -1) >= 0) t += " fd=" + std::to_string(j.value("fd", -1));
  std::string local = str(j, "local"), peer = str(j, "peer");
  if (!local.empty() || !peer.empty()) t += " " + (local.empty() ? "?" : local) + " -> " + (peer.empty() ? "?" : peer);
  std::string code = str(j, "code");
  if (!code.empty()) t += ": " + code;
  std::string message = str(j, "message");
  if (!message.empty()) t += " (" + message + ")";
  if (j.value("injected", false)) t += " [injected by '" + str(j, "rule") + "']";
  std::string explanation = str(j, "explanation");
  if (!explanation.empty()) t += ": " + explanation;
  return t;
}

// journald's PRIORITY of a level (syslog's numbers).
int priority_of(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::err: return LOG_ERR;
    case spdlog::level::warn: return LOG_WARNING;
    case spdlog::level::info: return LOG_INFO;
    default: return LOG_DEBUG;
  }
}

class SpdlogForwarder : public RecordForwarder {
 public:
  SpdlogForwarder(spdlog::sink_ptr sink, bool json_channel, bool json_out, bool colour)
      : logger_("sockdiag", std::move(sink)), json_channel_(json_channel), json_out_(json_out) {
    logger_.set_pattern(colour ? "%^%v%$" : "%v");
    logger_.set_level(spdlog::level::trace);
    logger_.flush_on(spdlog::level::trace);  // a reader of the file sees each record at once
  }
  void forward(std::string_view raw) override {
    std::string_view line = without_newline(raw);
    if (line.empty()) return;
    if (!json_channel_) {
      logger_.log(level_of_text(line), spdlog::string_view_t(line.data(), line.size()));
      return;
    }
    Json j = Json::parse(line, nullptr, false);
    if (!j.is_object()) {
      logger_.log(spdlog::level::info, spdlog::string_view_t(line.data(), line.size()));
      return;
    }
    spdlog::level::level_enum level = level_of(str(j, "level"));
    if (json_out_) {
      logger_.log(level, spdlog::string_view_t(line.data(), line.size()));
    } else {
      std::string text = human_text(j, line);
      logger_.log(level, spdlog::string_view_t(text));
    }
  }

 private:
  spdlog::logger logger_;
  bool json_channel_, json_out_;
};

class JournaldForwarder : public RecordForwarder {
 public:
  void forward(std::string_view raw) override {
    std::string_view line = without_newline(raw);
    Json j = Json::parse(line, nullptr, false);
    if (!j.is_object()) return;
    std::vector<std::pair<std::string, std::string>> fields;
    fields.emplace_back("MESSAGE", human_text(j, line));
    fields.emplace_back("PRIORITY", std::to_string(priority_of(level_of(str(j, "level")))));
    fields.emplace_back("SYSLOG_IDENTIFIER", "sockdiag");
    if (j.contains("pid")) fields.emplace_back("SYSLOG_PID", j["pid"].dump());
    // Every field of the record as SOCKDIAG_<KEY>: `journalctl
    // SOCKDIAG_CODE=ECONNRESET SOCKDIAG_PEER=...` finds records. Empty
    // strings are left out (a rule only when injected).
    for (const auto& [key, value] : j.items()) {
      std::string name = "SOCKDIAG_";
      for (char c : key) name += static_cast<char>(std::isalnum(static_cast<unsigned char>(c)) ? std::toupper(c) : '_');
      if (value.is_string()) {
        if (!value.get_ref<const std::string&>().empty()) fields.emplace_back(name, value.get<std::string>());
      } else {
        fields.emplace_back(name, value.dump());
      }
    }
    fields.emplace_back("SOCKDIAG_RECORD", std::string(line));
    journal_.send(fields);
  }
  // The records the journal did not take (none listens, its socket is full).
  ~JournaldForwarder() override {
    if (uint64_t n = journal_.dropped())
      std::fprintf(stderr, "sockdiag: %llu record%s not delivered to journald (%s)\n",
                   static_cast<unsigned long long>(n), n == 1 ? "" : "s", kJournalSocket);
  }

 private:
  JournalWriter journal_;
};

// A journal or syslog daemon that is not there loses every record without a
// word from the sink (syslog(3) drops them, or writes to the console): said
// once, before the program starts. Not refused: the daemon may come up later.
void warn_if_nobody_listens(const char* socket_path, const char* sink, const char* daemon) {
  struct stat st;
  if (stat(socket_path, &st) == 0 && S_ISSOCK(st.st_mode)) return;
  std::fprintf(stderr, "sockdiag: --log %s: no %s listens at %s (%s): its records will be lost\n", sink, daemon,
               socket_path, errno == 0 ? "not a socket" : std::strerror(errno));
}

// A file the sink makes is the owner's only, as the library's log files are
// (records hold peers, host names, paths); an existing file keeps its mode.
spdlog::file_event_handlers private_new_files() {
  spdlog::file_event_handlers h;
  h.after_open = [](const spdlog::filename_t&, std::FILE* f) {
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && st.st_size == 0) fchmod(fileno(f), 0600);
  };
  return h;
}

// The terminal's sink. spdlog's colour sink writes a record in pieces (the
// text, each colour code) and flushes after it: on unbuffered stderr each
// piece is its own write(2), and the program's output, on the same
// terminal, could land between them. A fully buffered stream of its own
// makes a record one write.
spdlog::sink_ptr terminal_sink() {
  int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
  std::FILE* out = fd < 0 ? nullptr : fdopen(fd, "w");
  if (!out) {
    if (fd >= 0) close(fd);
    throw UsageError(std::string("--log terminal: cannot open the terminal's stream: ") + std::strerror(errno));
  }
  // The forwarder lives until the command exits: the stream with it.
  std::setvbuf(out, nullptr, _IOFBF, 1 << 16);
  return std::make_shared<spdlog::sinks::ansicolor_sink<spdlog::details::console_mutex>>(out,
                                                                                          spdlog::color_mode::automatic);
}

}  // namespace

sd::Format channel_format(const LogSink& sink, sd::Format user_format) {
  return sink.kind == LogSink::journald || sink.kind == LogSink::syslog ? sd::Format::json : user_format;
}

std::unique_ptr<RecordForwarder> make_forwarder(const LogSink& sink, sd::Format user_format) {
  bool json_user = user_format == sd::Format::json;
  bool json_channel = channel_format(sink, user_format) == sd::Format::json;
  try {
    switch (sink.kind) {
      case LogSink::journald:
        warn_if_nobody_listens(kJournalSocket, "journald", "systemd-journald");
        return std::make_unique<JournaldForwarder>();
      case LogSink::syslog:
        warn_if_nobody_listens("/dev/log", "syslog", "syslog daemon");
        return std::make_unique<SpdlogForwarder>(
            std::make_shared<spdlog::sinks::syslog_sink_mt>(sink.ident, LOG_PID, sink.facility, true), true, json_user,
            false);
      case LogSink::rotate:
        return std::make_unique<SpdlogForwarder>(
            std::make_shared<spdlog::sinks::rotating_file_sink_mt>(sink.path, sink.max_size, sink.max_files, false,
                                                                   private_new_files()),
            json_channel, json_user, false);
      case LogSink::daily:
        return std::make_unique<SpdlogForwarder>(std::make_shared<spdlog::sinks::daily_file_sink_mt>(sink.path, 0, 0, false, 0,
                                                                                     private_new_files()),
                                                 json_channel, json_user, false);
      case LogSink::terminal:
        return std::make_unique<SpdlogForwarder>(terminal_sink(), json_channel, json_user, true);
    }
  } catch (const spdlog::spdlog_ex& e) {
    throw UsageError(std::string("--log: cannot open the sink: ") + e.what());
  }
  return nullptr;
}

}  // namespace sdcli
