// The channel from the library to `sockdiag run` when --log names a sink of
// the command (log_sink.h): a FIFO in a private directory, which the
// library opens as its log (SOCKDIAG_LOG), so that its careful writer
// (shim/preload/log.cpp: whole records of at most 4 KiB, never blocking,
// drops counted, the fd high and hidden from the program) is the one used.
//
// Every process of the tree that loads the library holds the FIFO open for
// writing while it runs; this command holds one more writer of its own until
// CMD has ended. The reader sees end-of-file only once the last of them has
// closed it: a daemon that outlives CMD keeps being heard.
//
// Reading and forwarding are two threads with a bounded queue between them:
// a sink that hangs (a syslog daemon that stopped reading: syslog(3) then
// blocks) costs the records the queue cannot hold, counted and said, and
// holds `run` up at most kForwardGraceMs after the tree is done.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace sdcli {

class RecordForwarder;

class RecordChannel {
 public:
  // Throws UsageError when the directory or FIFO cannot be made.
  RecordChannel();
  ~RecordChannel();
  RecordChannel(const RecordChannel&) = delete;
  RecordChannel& operator=(const RecordChannel&) = delete;

  // The FIFO's path, for SOCKDIAG_LOG.
  const std::string& path() const { return fifo_; }

  // Starts reading and forwarding each record to `to`, in threads of their
  // own with every signal blocked (they stay the main thread's, see
  // spawn.h). The program never waits for the sink: the FIFO and the queue
  // fill, and records are dropped and counted (by the library, or here).
  void start(std::shared_ptr<RecordForwarder> to);

  // Once CMD has ended: lets go of this command's own writer and waits until
  // every process of the tree has closed the channel, or until a signal
  // ends the wait (spawn_interrupted()); then for the sink to take what is
  // queued, kForwardGraceMs at most. Says on stderr what the sink lost, and
  // returns that count (the tree summary's records_dropped includes it).
  uint64_t drain();

 private:
  struct Queue;
  void read_loop();

  std::shared_ptr<Queue> queue_;
  std::thread forwarder_;
  std::string dir_, fifo_;
  int read_fd_ = -1, own_writer_ = -1;
  int stop_[2] = {-1, -1};  // drain() asks the reader to stop
  int done_[2] = {-1, -1};  // the reader says it has seen the end
  std::thread reader_;
};

}  // namespace sdcli
