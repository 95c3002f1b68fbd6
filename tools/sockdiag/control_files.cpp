// Control files, the command's side (see control_files.h).
#include "control_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <utility>
#include <iterator>

#include "rule_image.h"

namespace sdcli {

namespace ctlfile = sd::ctlfile;

namespace {

// The image of the active buffer, copied out and relocated; empty when none.
struct LoadedSet {
  std::vector<char> bytes;  // aligned copy (the RuleSet lives in it)
  const sd::RuleSet* set = nullptr;
};

LoadedSet load_active(const ctlfile::File& f) {
  LoadedSet out;
  const ctlfile::Buffer& b = f.buffers[f.header.active.load(std::memory_order_acquire) & 1];
  uint64_t size = b.size.load(std::memory_order_acquire);
  if (size < sizeof(sd::RuleSet) || size > ctlfile::kImageMax) return out;
  out.bytes.resize(size + alignof(std::max_align_t));
  void* at = out.bytes.data();
  std::size_t room = out.bytes.size();
  at = std::align(alignof(std::max_align_t), size, at, room);
  std::memcpy(at, b.image, size);
  if (sd::check_rule_image(at, size)) return out;
  out.set = sd::relocate_rule_image(at, size, nullptr);
  return out;
}

// A process's start time (ctlfile::stat_start_time); 0 when it is gone.
uint64_t start_time_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ctlfile::stat_start_time(text.c_str());
}

}  // namespace

std::vector<std::string> rules_in_file(const ctlfile::File& f) {
  std::vector<std::string> out;
  LoadedSet l = load_active(f);
  for (uint32_t i = 0; l.set && i < l.set->count; ++i) out.emplace_back(l.set->rules[i].text);
  return out;
}

bool rule_counts(const ctlfile::File& f, uint32_t i, uint64_t* seen, uint64_t* injected) {
  const ctlfile::Header& h = f.header;
  const ctlfile::Buffer& b = f.buffers[h.active.load(std::memory_order_acquire) & 1];
  if (h.counted_serial.load(std::memory_order_acquire) != b.serial.load(std::memory_order_acquire) ||
      !h.counters_shared.load(std::memory_order_relaxed))
    return false;
  uint32_t at = h.counters_at.load(std::memory_order_relaxed) + i;
  if (at >= ctlfile::kCounterEntries) return false;
  *seen = f.counters[at].seen.load(std::memory_order_relaxed);
  *injected = f.counters[at].injected.load(std::memory_order_relaxed);
  return true;
}

std::vector<TallyRow> rule_tally(const ctlfile::File& f, uint32_t i) {
  std::vector<TallyRow> rows;
  uint64_t seen = 0, injected = 0;
  if (!rule_counts(f, i, &seen, &injected)) return rows;
  uint32_t counter = f.header.counters_at.load(std::memory_order_relaxed) + i;
  for (const sd::TallyEntry& e : f.tally.entries) {
    // The key is whole once `state` says filled (release in the library).
    if (e.state.load(std::memory_order_acquire) != 2 || e.counter != counter) continue;
    auto id = static_cast<sd::CallId>(e.call);
    if (e.call >= sd::kRuleCallCount) continue;
    TallyRow row{sd::call_id_name(id), sd::tally_peer_text(e), e.injected.load(std::memory_order_relaxed)};
    // Two threads may have filled two entries for one key: added up.
    auto same = std::find_if(rows.begin(), rows.end(),
                             [&row](const TallyRow& r) { return r.call == row.call && r.peer == row.peer; });
    if (same != rows.end())
      same->injected += row.injected;
    else
      rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const TallyRow& a, const TallyRow& b) { return a.injected > b.injected; });
  return rows;
}

std::string cannot_take(const ctlfile::File& f, const sd::RuleSet& set) {
  const ctlfile::Header& h = f.header;
  if (h.sets_taken.load(std::memory_order_relaxed) + 1 >= ctlfile::kMaxSets)
    return "process " + std::to_string(h.pid) + " took in " + std::to_string(ctlfile::kMaxSets) +
           " rule sets already, the most one process keeps (each stays in its memory); restart it for more";
  std::size_t bytes = sd::rule_image(set).size();
  if (bytes > ctlfile::kImageMax)
    return "the rules take " + std::to_string(bytes) + " bytes, more than the " +
           std::to_string(ctlfile::kImageMax) + " a control file holds; give fewer rules";
  return "";
}

std::string publish_rules(ctlfile::File& f, const sd::RuleSet& set) {
  ctlfile::Header& h = f.header;
  if (std::string why = cannot_take(f, set); !why.empty()) return why;
  sd::RuleSet copy = set;
  copy.seed = h.seed;  // the process's own draws go on
  std::string image = sd::rule_image(copy);
  uint32_t active = h.active.load(std::memory_order_acquire) & 1;
  ctlfile::Buffer& next = f.buffers[active ^ 1];
  uint64_t serial = std::max(f.buffers[0].serial.load(), f.buffers[1].serial.load()) + 1;
  std::memcpy(next.image, image.data(), image.size());
  next.size.store(image.size(), std::memory_order_relaxed);
  next.serial.store(serial, std::memory_order_release);
  h.active.store(active ^ 1, std::memory_order_release);
  h.generation.fetch_add(1, std::memory_order_release);
  h.pending.store(1, std::memory_order_release);
  ctlfile::wake_stalled_calls(f);
  return "";
}

void publish_paused(ctlfile::File& f, bool paused) {
  f.header.paused.store(paused ? 1 : 0, std::memory_order_release);
  f.header.generation.fetch_add(1, std::memory_order_release);
  f.header.pending.store(1, std::memory_order_release);
  ctlfile::wake_stalled_calls(f);
}

ControlledProcess::ControlledProcess(ControlledProcess&& o) noexcept : fd_(o.fd_), file_(o.file_) {
  o.fd_ = -1;
  o.file_ = nullptr;
}

ControlledProcess& ControlledProcess::operator=(ControlledProcess&& o) noexcept {
  std::swap(fd_, o.fd_);
  std::swap(file_, o.file_);
  return *this;
}

ControlledProcess::~ControlledProcess() {
  if (file_) munmap(file_, sizeof(ctlfile::File));
  if (fd_ >= 0) close(fd_);  // releases the lock
}

std::optional<ControlledProcess> ControlledProcess::open(int dir_fd, const std::string& name, std::string* why) {
  ControlledProcess p;
  p.fd_ = openat(dir_fd, name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  struct stat st {};
  if (p.fd_ < 0 || fstat(p.fd_, &st) != 0) {
    *why = std::string("cannot be opened: ") + std::strerror(errno);
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode) || (st.st_uid != getuid() && getuid() != 0) || (st.st_mode & 077)) {
    *why = "is not a file of this user that only it can read (0600)";
    return std::nullopt;
  }
  if (static_cast<uint64_t>(st.st_size) != sizeof(ctlfile::File)) {
    *why = "is not a control file of this sockdiag version";
    return std::nullopt;
  }
  flock(p.fd_, LOCK_EX);
  void* m = mmap(nullptr, sizeof(ctlfile::File), PROT_READ | PROT_WRITE, MAP_SHARED, p.fd_, 0);
  if (m == MAP_FAILED) {
    *why = "cannot be mapped";
    return std::nullopt;
  }
  p.file_ = static_cast<ctlfile::File*>(m);
  if (__atomic_load_n(&p.file_->header.magic, __ATOMIC_ACQUIRE) != ctlfile::kMagic) {
    *why = "is still being made";
    return std::nullopt;
  }
  if (const char* wrong = ctlfile::check(p.file_, static_cast<uint64_t>(st.st_size))) {
    *why = wrong;
    return std::nullopt;
  }
  return p;
}

namespace {

// The files named "PID" + `suffix` of the selection, alive, locked, in pid
// order; stale ones removed.
std::vector<ControlledProcess> find_files(const std::vector<std::string>& dirs, const Selection& sel,
                                          const std::string& suffix, std::string* problems) {
  std::vector<ControlledProcess> out;
  for (const std::string& dir : dirs) {
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) continue;
    struct stat st {};
    if (fstat(dfd, &st) != 0 || (st.st_uid != getuid() && getuid() != 0) || (st.st_mode & 077)) {
      *problems += dir + " is not a directory of this user that only it can enter (0700); not looked in\n";
      close(dfd);
      continue;
    }
    DIR* d = fdopendir(dup(dfd));
    std::vector<std::string> names;
    while (dirent* e = d ? readdir(d) : nullptr) {
      std::string n = e->d_name;
      if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
        names.push_back(n);
    }
    if (d) closedir(d);
    for (const std::string& n : names) {
      int pid = std::atoi(n.c_str());
      if (sel.pid && *sel.pid != pid) continue;
      std::string why;
      std::optional<ControlledProcess> p = ControlledProcess::open(dfd, n, &why);
      if (!p) {
        if (sel.pid) *problems += dir + "/" + n + " " + why + "\n";
        continue;
      }
      const ctlfile::Header& h = p->file().header;
      if (h.pid != pid || start_time_of(pid) != h.start_time) {
        unlinkat(dfd, n.c_str(), 0);  // its process ended
        continue;
      }
      if (sel.run && h.run_id != *sel.run) continue;
      out.push_back(std::move(*p));
    }
    close(dfd);
  }
  std::sort(out.begin(), out.end(), [](const ControlledProcess& a, const ControlledProcess& b) { return a.pid() < b.pid(); });
  return out;
}

}  // namespace

std::vector<ControlledProcess> find_processes(const std::vector<std::string>& dirs, const Selection& sel,
                                              std::string* problems) {
  return find_files(dirs, sel, ".ctl", problems);
}

std::vector<ControlledProcess> find_runs(const std::vector<std::string>& dirs, const Selection& sel,
                                         std::string* problems) {
  if (sel.pid) return {};
  return find_files(dirs, sel, ".run", problems);
}

std::vector<std::string> control_dirs(const Selection& sel) {
  std::vector<std::string> dirs;
  char path[4096];
  if (ctlfile::dir_path(std::getenv("XDG_RUNTIME_DIR"), getuid(), path, sizeof(path))) dirs.emplace_back(path);
  if (ctlfile::dir_path(nullptr, getuid(), path, sizeof(path)) && path != dirs.front()) dirs.emplace_back(path);
  if (getuid() == 0 && sel.pid) {
    struct stat st {};
    if (stat(("/proc/" + std::to_string(*sel.pid)).c_str(), &st) == 0 && st.st_uid != 0) {
      std::string run = "/run/user/" + std::to_string(st.st_uid);
      if (ctlfile::dir_path(run.c_str(), st.st_uid, path, sizeof(path))) dirs.emplace_back(path);
      if (ctlfile::dir_path(nullptr, st.st_uid, path, sizeof(path))) dirs.emplace_back(path);
    }
  }
  return dirs;
}

}  // namespace sdcli
