// The strace engine's records: strace's output (the command line of
// strace_engine.h) read line by line and turned into the records the library
// would write for the same calls, through the same table and formats.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "config.h"

namespace sdcli {

class RecordLog;
class TreeSummary;

class TraceReader {
 public:
  // summary: where the run's counts go (--summary), or nullptr.
  TraceReader(const sd::Config& config, RecordLog& log, TreeSummary* summary);
  ~TraceReader();
  TraceReader(const TraceReader&) = delete;
  TraceReader& operator=(const TraceReader&) = delete;

  // Bytes of strace's output, split anywhere.
  void feed(const char* data, std::size_t n);
  // The end of the output: a last line without its newline is not understood.
  void finish();

  // Lines read, and lines not understood (never turned into a record).
  uint64_t lines() const;
  uint64_t not_understood() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sdcli
