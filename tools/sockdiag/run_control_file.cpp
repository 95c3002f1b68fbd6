// The run file, made and removed by `sockdiag run` (see run_control_file.h).
#include "run_control_file.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "control_file.h"
#include "rule_image.h"

namespace sdcli {

namespace ctlfile = sd::ctlfile;

RunControlFile::RunControlFile(const sd::RuleSet* rules) {
  char dir[4096];
  if (!ctlfile::dir_path(std::getenv("XDG_RUNTIME_DIR"), geteuid(), dir, sizeof(dir))) {
    why_ = "the directory's path is too long";
    return;
  }
  char name[24];
  ctlfile::file_name(static_cast<int>(getpid()), name, ".run");
  const char* why = "";
  int fd = ctlfile::make_file(dir, name, geteuid(), &why, ::close);
  std::string where = std::string(dir) + "/" + name;
  if (fd < 0) {
    why_ = where + ": " + why;
    return;
  }
  void* m = mmap(nullptr, sizeof(ctlfile::File), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  sd::RuleSet empty;
  std::string image = sd::rule_image(rules ? *rules : empty);
  if (m == MAP_FAILED || image.size() > ctlfile::kImageMax) {
    if (m != MAP_FAILED) munmap(m, sizeof(ctlfile::File));
    unlink(where.c_str());
    why_ = where + (m == MAP_FAILED ? ": it cannot be mapped" : ": the rules do not fit in it");
    return;
  }
  auto* f = static_cast<ctlfile::File*>(m);
  ctlfile::Header& h = f->header;
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  h.version = ctlfile::kVersion;
  h.layout = sd::kRuleImageLayout;
  h.pid = static_cast<int32_t>(getpid());
  h.uid = geteuid();
  h.start_time = ctlfile::stat_start_time(stat.c_str());
  h.run_id = static_cast<uint64_t>(getpid());
  std::strncpy(h.prog, "sockdiag run", sizeof(h.prog) - 1);
  std::memcpy(f->buffers[0].image, image.data(), image.size());
  f->buffers[0].size.store(image.size(), std::memory_order_relaxed);
  f->buffers[0].serial.store(1, std::memory_order_relaxed);
  h.generation.store(1, std::memory_order_relaxed);  // 1: never changed
  __atomic_store_n(&h.magic, ctlfile::kMagic, __ATOMIC_RELEASE);
  munmap(m, sizeof(ctlfile::File));
  path_ = where;
}

RunControlFile::~RunControlFile() {
  if (!path_.empty()) unlink(path_.c_str());
}

}  // namespace sdcli
