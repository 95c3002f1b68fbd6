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
#pragma once
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

  // Starts reading, in a thread of its own with every signal blocked (they
  // stay the main thread's, see spawn.h), forwarding each record to `to`.
  // A slow sink slows the reading only: the FIFO then fills, and the
  // library drops (and counts) records rather than wait.
  void start(RecordForwarder& to);

  // Once CMD has ended: lets go of this command's own writer and waits until
  // every process of the tree has closed the channel, or until a signal
  // ends the wait (spawn_interrupted()).
  void drain();

 private:
  void read_loop(RecordForwarder& to);

  std::string dir_, fifo_;
  int read_fd_ = -1, own_writer_ = -1;
  int stop_[2] = {-1, -1};  // drain() asks the reader to stop
  int done_[2] = {-1, -1};  // the reader says it has seen the end
  std::thread reader_;
};

}  // namespace sdcli
