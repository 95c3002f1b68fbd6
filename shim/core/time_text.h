// Times and durations as records and summaries show them: computed without
// libc's time zone lock or its formatting (a record may be written in a
// signal handler, or in a child forked while another thread held a lock).
#pragma once
#include <cstdint>

#include "line_buffer.h"

namespace sd {

// The date and time to the second of the last time stamp written: the
// calendar arithmetic is most of a time stamp's cost.
struct TimeCache {
  int64_t second = INT64_MIN;  // the second `text` shows; INT64_MIN: none yet
  char text[20];               // "2026-11-27T23:59:01."
};

// "2026-11-27T23:59:01.123456Z" (UTC, computed without libc's time zone lock).
void format_time(int64_t wall_ns, TimeCache& cache, LineBuffer& out);
void format_time(int64_t wall_ns, LineBuffer& out);  // for a single stamp

// "850 us", "1.2 ms", "3.4 s", "2 min 5 s".
void format_duration(uint64_t ns, LineBuffer& out);

}  // namespace sd
