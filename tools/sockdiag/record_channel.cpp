#include "record_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "record_forwarder.h"
#include "spawn.h"
#include "usage.h"

namespace sdcli {

namespace {
// Room for bursts while the sink is busy: the most an unprivileged process
// may give a pipe by default (/proc/sys/fs/pipe-max-size).
constexpr int kChannelBytes = 1 << 20;

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

RecordChannel::RecordChannel() {
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
  for (int* fd : {&read_fd_, &own_writer_, &stop_[0], &stop_[1], &done_[0], &done_[1]}) close_fd(*fd);
  if (!fifo_.empty()) unlink(fifo_.c_str());
  if (!dir_.empty()) rmdir(dir_.c_str());
}

void RecordChannel::start(RecordForwarder& to) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  reader_ = std::thread([this, &to] { read_loop(to); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void RecordChannel::read_loop(RecordForwarder& to) {
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
      to.forward(std::string_view(pending).substr(start, nl + 1 - start));
      start = nl + 1;
    }
    pending.erase(0, start);
  }
  if (!pending.empty()) to.forward(pending);
  poke(done_[1]);
}

void RecordChannel::drain() {
  close_fd(own_writer_);
  if (!reader_.joinable()) return;
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
}

}  // namespace sdcli
