// The --log words that name a sink of the `sockdiag` process rather than a
// file of the library: journald, syslog[:FACILITY[:IDENT]],
// rotate:PATH[:SIZE[:COUNT]], daily:PATH, terminal. The library then writes
// its records to a channel that `sockdiag run` reads (record_channel.h) and
// forwards through spdlog (record_forwarder.h).
#pragma once
#include <cstddef>
#include <string>

namespace sdcli {

struct LogSink {
  enum Kind { journald, syslog, rotate, daily, terminal } kind = terminal;
  std::string path;              // rotate, daily
  std::size_t max_size = 0;      // rotate: bytes per file
  std::size_t max_files = 0;     // rotate: files kept besides the current one
  int facility = 0;              // syslog: LOG_USER...
  std::string ident = "sockdiag";  // syslog
};

// Defaults of rotate:PATH (documented in --help and the man page).
inline constexpr std::size_t kRotateSizeDefault = 10u << 20;
inline constexpr std::size_t kRotateCountDefault = 5;

// Whether `value` is one of the sink words (or starts like one: a bad
// "rotate:" is an error about the sink, not a file named "rotate:").
bool names_sink(const std::string& value);

// Parses a sink word; throws UsageError with one line naming `setting`
// (--log, SOCKDIAG_LOG, log in the SOCKDIAG_CONFIG file) when it is wrong.
LogSink parse_log_sink(const std::string& value, const std::string& setting);

}  // namespace sdcli
