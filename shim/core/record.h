// A record, as written to the log: its fields, and its text and JSON forms.
// Pure formatting (no syscalls), so that it is unit-tested on its own.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config.h"
#include "explain.h"
#include "line_buffer.h"
#include "time_text.h"

namespace sd {

// The version of the JSON record schema (docs/record.schema.json), written as
// "v" first in every JSON line the library writes: a reader (a log shipper,
// `sockdiag report`) knows which fields to expect. Raised only when a field
// changes meaning or goes; a new optional field keeps it.
inline constexpr int kRecordSchemaVersion = 1;

// Everything a record says, already gathered from the kernel and the tables.
// Strings are views, "" when unknown: their lengths are known where they
// are made, and a record need not measure them again. (Never null views: a
// record of all zeros is cleared with `rep stos`, dearer than plain stores.)
struct RecordData {
  int64_t wall_ns = 0;                // CLOCK_REALTIME
  long pid = 0, tid = 0;
  std::string_view prog = "";
  Level level = Level::error;
  std::string_view call = "";
  int fd = -1;
  std::string_view kind = "";         // tcp4, unix-stream, ...
  std::string_view local = "";        // formatted addresses
  std::string_view peer = "";
  std::string_view host = "";         // the name given to getaddrinfo, if any
  long ret = -1;
  CodeKind code_kind = CodeKind::errno_code;
  int code = 0;                       // 0: the call succeeded (trace records)
  bool notice = false;                // a notice before the call (injected delay, short): no result yet
  std::string_view code_name = "";
  std::string_view message = "";
  // The table's texts: their placeholders are filled as the record is
  // written, in the record's own format (no copy made beforehand).
  const char* explanation = "";
  const char* advice = "";
  std::string_view via = "";          // how the failure surfaced when not a -1 return
  bool injected = false;
  std::string_view rule = "";         // the injection rule, in normal form
  int retries = 0;
  bool retrying = false;              // this record announces a retry
  uint64_t waited_ns = 0;             // time the retry waited for readiness
  std::string_view note = "";
  // An injected fault's own record: where it struck, for a replay
  // (replay_plan.h). call_n 0: not one.
  std::string_view conn = "";
  uint64_t call_n = 0;
  bool drawn = false;                 // a jittered delay: the time it drew
  uint64_t drawn_ns = 0;
  bool have_history = false;          // the connection's history is known
  bool inherited = false;             // learned on first use: its history starts with this process
  uint64_t sent = 0, received = 0;
  uint64_t age_ns = 0;
  uint64_t peer_gone_ago_ns = 0;      // the peer was seen gone (EOF/reset) this long ago; 0: not seen
  bool clipped = false;               // values from outside were clipped to fit a JSON line
};

// Fills the placeholders {peer} {local} {host} {fd} {call} {sent} {received}
// {age}. In JSON the values filled in are escaped; the template's own text is
// copied as it is (the table's texts need no escape: explain.cpp checks).
void fill_template(const char* text, const RecordData& r, Format format, LineBuffer& out);

// A number in decimal, formatted again only when it changes. Keyed by the
// value, so it is never stale: a forked child's new pid is formatted anew.
class DecimalCache {
 public:
  std::string_view text(long v);

 private:
  bool known_ = false;
  long value_ = 0;
  char text_[24];
  uint8_t size_ = 0;
};

// A template filled for the last record (explanation or advice), reused
// while the values it names are the same: a failure that repeats (a client
// reconnecting to a dead server) gets the same text every time. A template
// naming {age} changes with every record and is never kept.
struct FilledText {
  static constexpr std::size_t kKeptValue = 64;  // longer values: not kept
  static constexpr std::size_t kKeptText = 1024;
  const char* tmpl = nullptr;  // the table's text (static): nullptr, nothing kept
  Format format = Format::text;
  uint8_t names = 0;  // the placeholders the template names, a bit each
  int fd = 0;
  const char* call = nullptr;
  uint64_t sent = 0, received = 0;
  uint8_t peer_len = 0, local_len = 0, host_len = 0;
  char peer[kKeptValue], local[kKeptValue], host[kKeptValue];
  uint16_t len = 0;
  char text[kKeptText];
};

// What a writer of many records (one per thread) keeps from one record to
// the next: its records come in bursts, within a second, from one thread.
struct RecordCache {
  TimeCache time;
  DecimalCache pid, tid;
  FilledText explanation, advice;
};

// fill_template through `kept`: the same text as fill_template, copied from
// the last record's when its template and the values it names are the same.
void fill_template_kept(const char* text, const RecordData& r, Format format, FilledText& kept, LineBuffer& out);

// "PROG[PID]" in a text line, the program's name escaped as in a record.
void put_prog_pid(std::string_view prog, long pid, LineBuffer& out);
// "sockdiag summary PROG[PID]   ": how each text line of the summary starts.
void put_summary_start(std::string_view prog, long pid, LineBuffer& out);

// One complete line (ending in '\n') in the configured format.
void format_record(const RecordData& r, Format format, RecordCache& cache, LineBuffer& out);

// The info notice of the seed injection drew for its probabilities, so that
// the run can be replayed: one complete line, in the configured format.
void format_seed_notice(int64_t wall_ns, long pid, std::string_view prog, uint64_t seed, Format format,
                        LineBuffer& out);

}  // namespace sd
