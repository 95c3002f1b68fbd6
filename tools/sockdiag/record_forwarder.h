// Forwarding the library's records, as `sockdiag run` reads them from its
// channel, to a sink of this process (log_sink.h) through spdlog: syslog,
// rotating and daily files, a terminal coloured by level; journald by its
// native protocol, with the record's fields as journal fields.
#pragma once
#include <cstdint>
#include <memory>
#include <string_view>

#include "config.h"
#include "log_sink.h"

namespace sdcli {

class RecordForwarder {
 public:
  virtual ~RecordForwarder() = default;
  // One line as the library wrote it (its newline included or not).
  virtual void forward(std::string_view line) = 0;
};

// The format the library must write for `sink`: JSON where the sink needs a
// record's fields (journald, syslog's priority), otherwise the user's own.
sd::Format channel_format(const LogSink& sink, sd::Format user_format);

// Throws UsageError with one line when the sink cannot be opened (a
// directory that does not exist for rotate:).
std::unique_ptr<RecordForwarder> make_forwarder(const LogSink& sink, sd::Format user_format);

}  // namespace sdcli
