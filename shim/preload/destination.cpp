// Checking and opening where records go (see destination.h).
#include "destination.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "config.h"
#include "escape.h"

namespace sd {
namespace {

// Through syscall(2): linked into the library, the names close and fcntl
// would bind to its own hooks, which observe and record the program's calls.
void close_fd(int fd) { syscall(SYS_close, fd); }

// A path as its directory and its last component, split in place (no copy:
// a per-process log is opened at its first record, perhaps on a signal
// handler's small stack): the last '/' is a NUL until the split ends.
class Place {
 public:
  explicit Place(char* path) : leaf(path) {
    slash_ = std::strrchr(path, '/');
    if (!slash_) return;
    leaf = slash_ + 1;
    if (slash_ == path) {
      dir = "/";
      slash_ = nullptr;
    } else {
      *slash_ = '\0';
      dir = path;
    }
  }
  ~Place() {
    if (slash_) *slash_ = '/';
  }
  Place(const Place&) = delete;
  Place& operator=(const Place&) = delete;

  const char* dir = ".";
  const char* leaf;

 private:
  char* slash_;
};

// O_PATH: the directory need not be readable, only searchable.
int open_directory(const Place& p, struct stat* st, Refusal* why) {
  if (!*p.leaf) {
    why->why = Refusal::names_directory;
    return -1;
  }
  int fd = open(p.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0 && fstat(fd, st) == 0) {
    why->dir_owner = st->st_uid;
    return fd;
  }
  why->why = Refusal::no_directory;
  why->err = errno;
  if (fd >= 0) close_fd(fd);
  return -1;
}

// The kernel's protected_symlinks (and protected_regular, protected_fifos)
// rule: in a sticky world-writable directory such as /tmp anyone may plant
// an entry under a name another user will open; only the opener's own and
// the directory owner's are trusted.
bool trusted(const struct stat& dir, uid_t owner) {
  bool shared = (dir.st_mode & (S_ISVTX | S_IWOTH)) == (S_ISVTX | S_IWOTH);
  return !shared || owner == geteuid() || owner == dir.st_uid;
}

bool type_allowed(Destination kind, mode_t mode) {
  if (kind == Destination::summary) return S_ISREG(mode);
  return S_ISREG(mode) || S_ISFIFO(mode) || S_ISCHR(mode);
}

bool refuse_type(Destination kind, mode_t mode, Refusal* why) {
  if (type_allowed(kind, mode)) return false;
  why->why = Refusal::wrong_type;
  why->type = mode & S_IFMT;
  return true;
}

void set_open_error(int err, bool fifo, Refusal* why) {
  why->err = err;
  // O_NONBLOCK|O_WRONLY on a FIFO fails with ENXIO when nobody reads it:
  // a blocking open would wait, before main, for a reader that may never come.
  why->why = err == ENXIO && fifo ? Refusal::fifo_no_reader : Refusal::cannot_open;
}

// Writes block again once opened: a FIFO or terminal log then behaves as a
// pipe or terminal on stderr does.
void make_blocking(int fd) {
  long flags = syscall(SYS_fcntl, fd, F_GETFL);
  if (flags >= 0) syscall(SYS_fcntl, fd, F_SETFL, flags & ~static_cast<long>(O_NONBLOCK));
}

}  // namespace

int open_destination(char* path, Destination kind, Refusal* why) {
  *why = Refusal{};
  Place local(path);
  struct stat dir;
  int dfd = open_directory(local, &dir, why);
  if (dfd < 0) return -1;
  // O_NONBLOCK: opening a FIFO or a device never waits; O_NOCTTY: a terminal
  // never becomes the program's controlling terminal.
  const int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  int fd = -1;
  // A name made or removed by someone else between the look and the open is
  // looked at again; what was looked at is what is opened, or nothing.
  for (int round = 0; round < 8 && fd < 0 && why->why == Refusal::none; ++round) {
    struct stat leaf;
    if (fstatat(dfd, local.leaf, &leaf, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) {
        set_open_error(errno, false, why);
        break;
      }
      // O_EXCL: a file planted after the look is not taken for ours.
      fd = openat(dfd, local.leaf, flags | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
      if (fd < 0 && errno == EEXIST) continue;
      if (fd < 0) {
        why->why = Refusal::not_writable;
        why->err = errno;
      }
      break;
    }
    if (S_ISLNK(leaf.st_mode)) {
      if (!trusted(dir, leaf.st_uid)) {
        why->why = Refusal::untrusted_link;
        why->owner = leaf.st_uid;
        break;
      }
      // Only the link's owner, the directory's and root may replace a link
      // in a sticky directory: the link followed is the one looked at.
      struct stat target;
      bool exists = fstatat(dfd, local.leaf, &target, 0) == 0;
      if (exists && refuse_type(kind, target.st_mode, why)) break;
      fd = openat(dfd, local.leaf, flags | O_CREAT, 0600);
      if (fd < 0) set_open_error(errno, exists && S_ISFIFO(target.st_mode), why);
      break;
    }
    if (!trusted(dir, leaf.st_uid)) {
      why->why = Refusal::untrusted_file;
      why->owner = leaf.st_uid;
      break;
    }
    if (refuse_type(kind, leaf.st_mode, why)) break;
    fd = openat(dfd, local.leaf, flags | O_NOFOLLOW);
    if (fd < 0 && (errno == ENOENT || errno == ELOOP)) continue;  // removed, or replaced by a link
    if (fd < 0) {
      set_open_error(errno, S_ISFIFO(leaf.st_mode), why);
      break;
    }
    struct stat opened;
    if (fstat(fd, &opened) != 0 || opened.st_dev != leaf.st_dev || opened.st_ino != leaf.st_ino) {
      close_fd(fd);  // replaced between the look and the open
      fd = -1;
    }
  }
  if (fd < 0 && why->why == Refusal::none) why->why = Refusal::unstable;
  if (fd >= 0) {
    struct stat opened;
    if (fstat(fd, &opened) != 0 || refuse_type(kind, opened.st_mode, why)) {
      close_fd(fd);
      fd = -1;
    } else {
      make_blocking(fd);
    }
  }
  close_fd(dfd);
  return fd;
}

bool check_destination(const char* path, Destination kind, Refusal* why) {
  *why = Refusal{};
  std::string copy(path);
  Place local(copy.data());
  struct stat dir;
  int dfd = open_directory(local, &dir, why);
  if (dfd < 0) return false;
  struct stat leaf;
  if (fstatat(dfd, local.leaf, &leaf, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) set_open_error(errno, false, why);
    else if (faccessat(dfd, ".", W_OK | X_OK, AT_EACCESS) != 0) {
      why->why = Refusal::not_writable;
      why->err = errno;
    }
  } else if (S_ISLNK(leaf.st_mode)) {
    struct stat target;
    if (!trusted(dir, leaf.st_uid)) {
      why->why = Refusal::untrusted_link;
      why->owner = leaf.st_uid;
    } else if (fstatat(dfd, local.leaf, &target, 0) == 0 && !refuse_type(kind, target.st_mode, why) &&
               faccessat(dfd, local.leaf, W_OK, AT_EACCESS) != 0) {
      set_open_error(errno, false, why);
    }
  } else if (!trusted(dir, leaf.st_uid)) {
    why->why = Refusal::untrusted_file;
    why->owner = leaf.st_uid;
  } else if (!refuse_type(kind, leaf.st_mode, why) &&
             faccessat(dfd, local.leaf, W_OK, AT_EACCESS | AT_SYMLINK_NOFOLLOW) != 0) {
    set_open_error(errno, false, why);
  }
  close_fd(dfd);
  return why->why == Refusal::none;
}

namespace {

const char* type_name(mode_t type) {
  switch (type) {
    case S_IFDIR: return "a directory";
    case S_IFSOCK: return "a socket";
    case S_IFBLK: return "a block device";
    case S_IFIFO: return "a FIFO";
    case S_IFCHR: return "a character device";
    case S_IFLNK: return "a symbolic link";
    default: return "not a regular file";
  }
}

}  // namespace

std::string describe_refusal(const std::string& setting, const char* path, Destination kind, const Refusal& why) {
  std::string copy(path);
  std::string dir = quoted(Place(copy.data()).dir);
  std::string what;
  switch (why.why) {
    case Refusal::none: break;
    case Refusal::names_directory: what = "names a directory (it ends in '/')"; break;
    case Refusal::no_directory:
      what = "the directory " + dir +
             (why.err == ENOENT    ? " does not exist"
              : why.err == ENOTDIR ? " is not a directory"
                                   : std::string(" cannot be opened (") + std::strerror(why.err) + ")");
      break;
    case Refusal::not_writable:
      what = std::string("no file can be made in the directory ") + dir + " (" + std::strerror(why.err) + ")";
      break;
    case Refusal::untrusted_link:
    case Refusal::untrusted_file:
      what = std::string(why.why == Refusal::untrusted_link ? "is a symbolic link" : "is a file") + " of uid " +
             std::to_string(why.owner) + " in the sticky world-writable directory " + dir + " of uid " +
             std::to_string(why.dir_owner) +
             ", where anyone may plant one; such an entry is used only when it belongs to you or to the "
             "directory's owner";
      break;
    case Refusal::wrong_type: what = std::string("is ") + type_name(why.type); break;
    case Refusal::fifo_no_reader:
      what = "is a FIFO that no process has open for reading (writing to it would stop the program)";
      break;
    case Refusal::cannot_open:
      what = std::string("cannot be opened for appending (") + std::strerror(why.err) + ")";
      break;
    case Refusal::unstable: what = "was replaced again and again while it was being opened"; break;
  }
  const char* accepted = kind == Destination::summary
                             ? "an absolute path of a regular file, or of a new file in an existing directory"
                             : "stderr, or a regular file (new or existing) in an existing directory, a FIFO that a "
                               "reader has open, or a character device";
  return setting + ": " + quoted(path) + ": " + what + "; accepted: " + accepted;
}

std::string setting_name(const char* variable, const char* key) {
  if (getenv(variable)) return variable;
  return std::string(key) + " in the SOCKDIAG_CONFIG file";
}

bool summary_path_usable(const char* path, std::string* error) {
  Refusal why;
  if (check_destination(path, Destination::summary, &why)) return true;
  *error = "sockdiag: " + describe_refusal(setting_name("SOCKDIAG_SUMMARY", "summary"), path, Destination::summary, why);
  return false;
}

}  // namespace sd
