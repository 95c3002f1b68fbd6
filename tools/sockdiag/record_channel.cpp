#include "record_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <string_view>

#include "record_forwarder.h"
#include "spawn.h"
#include "usage.h"

namespace sdcli {

namespace {
// Room for bursts while the sink is busy: the most an unprivileged process
// may give a pipe by default (/proc/sys/fs/pipe-max-size).
constexpr int kChannelBytes = 1 << 20;
// Records waiting for the sink, beyond the FIFO's.
constexpr std::size_t kQueuedMax = 8192;
// Once the tree is done, how long the sink may take one record before it
// counts as hung: a slow sink is waited for to the end, a hung one is not.
constexpr int kForwardGraceMs = 3000;

// One byte to a pipe that only wakes a poll: its result changes nothing.
void poke(int fd) {
  ssize_t n = write(fd, "x", 1);
  (void)n;
}

void close_fd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}
}  // namespace

// Shared with the forwarding thread, which may outlive the channel when a
// sink hangs: it is then left behind (detached), and ends with the process.
struct RecordChannel::Queue {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::string> lines;
  bool closed = false;     // the reader is done: nothing more comes
  bool finished = false;   // the forwarder has taken everything
  bool abandoned = false;  // drain() stopped waiting for the sink
  bool in_flight = false;  // the forwarder is giving the sink a line
  uint64_t forwarded = 0;  // lines the sink has taken
  uint64_t dropped = 0;    // lines the queue could not hold, or left in it
  std::shared_ptr<RecordForwarder> to;
};

RecordChannel::RecordChannel() : queue_(std::make_shared<Queue>()) {
  const char* tmp = std::getenv("TMPDIR");
  dir_ = std::string(tmp && *tmp == '/' ? tmp : "/tmp") + "/sockdiag-channel-XXXXXX";
  if (!mkdtemp(dir_.data())) {
    std::string why = std::strerror(errno);
    dir_.clear();
    throw UsageError("cannot create a directory for the record channel under " +
                     std::string(tmp && *tmp == '/' ? tmp : "/tmp") + ": " + why);
  }
  fifo_ = dir_ + "/records";
  if (mkfifo(fifo_.c_str(), 0600) != 0) throw UsageError("cannot create the record channel " + fifo_ + ": " + std::strerror(errno));
  // The reader first (a writer's open without one fails with ENXIO), then our
  // own writer, which holds off end-of-file until CMD has ended.
  read_fd_ = open(fifo_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  own_writer_ = read_fd_ < 0 ? -1 : open(fifo_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (read_fd_ < 0 || own_writer_ < 0 || pipe2(stop_, O_CLOEXEC) != 0 || pipe2(done_, O_CLOEXEC) != 0)
    throw UsageError("cannot open the record channel " + fifo_ + ": " + std::strerror(errno));
  fcntl(read_fd_, F_SETPIPE_SZ, kChannelBytes);  // a smaller pipe only drops sooner
}

RecordChannel::~RecordChannel() {
  if (reader_.joinable()) {
    poke(stop_[1]);
    reader_.join();
  }
  if (forwarder_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(queue_->mutex);
      queue_->abandoned = true;
      queue_->changed.notify_all();
    }
    forwarder_.join();
  }
  for (int* fd : {&read_fd_, &own_writer_, &stop_[0], &stop_[1], &done_[0], &done_[1]}) close_fd(*fd);
  if (!fifo_.empty()) unlink(fifo_.c_str());
  if (!dir_.empty()) rmdir(dir_.c_str());
}

void RecordChannel::start(std::shared_ptr<RecordForwarder> to) {
  queue_->to = std::move(to);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  forwarder_ = std::thread([q = queue_] {
    std::unique_lock<std::mutex> lock(q->mutex);
    for (;;) {
      q->changed.wait(lock, [&] { return !q->lines.empty() || q->closed || q->abandoned; });
      if (q->abandoned) return;
      if (q->lines.empty()) break;
      std::string line = std::move(q->lines.front());
      q->lines.pop_front();
      q->in_flight = true;
      lock.unlock();
      q->to->forward(line);
      lock.lock();
      q->in_flight = false;
      ++q->forwarded;
      q->changed.notify_all();
    }
    q->finished = true;
    q->changed.notify_all();
  });
  reader_ = std::thread([this] { read_loop(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void RecordChannel::read_loop() {
  auto to_sink = [q = queue_.get()](std::string_view line) {
    std::lock_guard<std::mutex> lock(q->mutex);
    if (q->lines.size() >= kQueuedMax) {
      ++q->dropped;
      return;
    }
    q->lines.emplace_back(line);
    q->changed.notify_one();
  };
  std::string pending;
  char buf[65536];
  for (;;) {
    pollfd p[2] = {{read_fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents) break;
    ssize_t n = read(read_fd_, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // every writer has closed the channel
    pending.append(buf, static_cast<std::size_t>(n));
    // A record is written whole in one write (at most PIPE_BUF bytes):
    // lines are complete, several may come in one read.
    std::size_t start = 0, nl;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      to_sink(std::string_view(pending).substr(start, nl + 1 - start));
      start = nl + 1;
    }
    pending.erase(0, start);
  }
  if (!pending.empty()) to_sink(pending);
  {
    std::lock_guard<std::mutex> lock(queue_->mutex);
    queue_->closed = true;
    queue_->changed.notify_all();
  }
  poke(done_[1]);
}

uint64_t RecordChannel::drain() {
  close_fd(own_writer_);
  if (!reader_.joinable()) return 0;
  for (;;) {
    pollfd p{done_[0], POLLIN, 0};
    int r = spawn_interrupted() ? -1 : poll(&p, 1, -1);
    if (r > 0) break;
    if (spawn_interrupted()) {
      poke(stop_[1]);
      break;
    }
  }
  reader_.join();
  std::unique_lock<std::mutex> lock(queue_->mutex);
  for (;;) {
    uint64_t before = queue_->forwarded;
    queue_->changed.wait_for(lock, std::chrono::milliseconds(kForwardGraceMs),
                             [this, before] { return queue_->finished || queue_->forwarded != before; });
    if (queue_->finished || queue_->forwarded != before) {
      if (queue_->finished) break;
      continue;
    }
    // Hung: what it holds and what waits for it are lost with the process.
    queue_->abandoned = true;
    queue_->dropped += queue_->lines.size() + (queue_->in_flight ? 1 : 0);
    queue_->changed.notify_all();
    break;
  }
  uint64_t dropped = queue_->dropped;
  bool hung = !queue_->finished;
  lock.unlock();
  if (hung) forwarder_.detach();  // held in the sink: it ends with the process
  else forwarder_.join();
  if (dropped)
    std::fprintf(stderr, "sockdiag run: %llu records dropped: the --log sink did not take them in time\n",
                 static_cast<unsigned long long>(dropped));
  return dropped;
}

}  // namespace sdcli
