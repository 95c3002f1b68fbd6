// Parsing and validating every setting (see config.h). The whole
// configuration is checked before the program runs: a wrong value stops the
// process with one line rather than running it with a different setup.
#include "config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "calls.h"
#include "escape.h"
#include "nearest.h"
#include "replay_plan.h"
#include "rules.h"

namespace sd {

const char* const kVariables[] = {
    "SOCKDIAG_LOG",   "SOCKDIAG_FORMAT",          "SOCKDIAG_LEVEL",     "SOCKDIAG_SUMMARY",
    "SOCKDIAG_RETRY", "SOCKDIAG_RETRY_TIMEOUT_MS", "SOCKDIAG_RETRY_MAX", "SOCKDIAG_SIGPIPE",
    "SOCKDIAG_INJECT", "SOCKDIAG_CONFIG",         "SOCKDIAG_SEED",      "SOCKDIAG_FOLLOW_CHILDREN",
    "SOCKDIAG_COUNTERS", "SOCKDIAG_SECCOMP", "SOCKDIAG_CONTROL", "SOCKDIAG_REPLAY", nullptr,
};

namespace {

// The longest unix:PATH a socket address holds, with its terminating NUL.
constexpr std::size_t kUnixPathMax = sizeof(sockaddr_un{}.sun_path);

constexpr std::size_t kVariableCount = sizeof(kVariables) / sizeof(kVariables[0]) - 1;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// One choice among words: "off|error|..." -> index, or an error that lists them.
bool parse_choice(std::string_view value, const char* const* words, std::size_t n, std::size_t* out,
                  std::string_view what, std::string* err) {
  std::string v = lower(trim(value));
  for (std::size_t i = 0; i < n; ++i) {
    if (v == words[i]) {
      *out = i;
      return true;
    }
  }
  *err = quoted(trim(value)) + " is not " + std::string(what) + "; accepted: ";
  for (std::size_t i = 0; i < n; ++i) *err += std::string(i ? ", " : "") + words[i];
  if (const char* near = suggestion(v, words, n)) *err += std::string(" (did you mean ") + near + "?)";
  return false;
}

bool parse_yes_no(std::string_view value, bool* out, std::string_view what, std::string* err) {
  static const char* const kWords[] = {"0", "1", "no", "yes", "off", "on", "false", "true"};
  std::size_t i;
  if (!parse_choice(value, kWords, 8, &i, what, err)) return false;
  *out = i % 2 == 1;
  return true;
}

bool parse_uint(std::string_view value, uint64_t max, uint64_t* out, std::string* err) {
  std::string v(trim(value));
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) {
    *err = quoted(value) + " is not a whole number; accepted: 0 to " + std::to_string(max);
    return false;
  }
  errno = 0;
  unsigned long long n = std::strtoull(v.c_str(), nullptr, 10);
  if (errno == ERANGE || n > max) {
    *err = quoted(value) + " is too large; accepted: 0 to " + std::to_string(max);
    return false;
  }
  *out = n;
  return true;
}

// SOCKDIAG_RETRY: "eintr,eagain@recv+send,econnaborted". Each error may be
// limited to call classes after '@'; without it, to every call it can come from.
static_assert(rt_eintr == 1u << retry_eintr && rt_eagain == 1u << retry_eagain &&
                  rt_econnaborted == 1u << retry_econnaborted,
              "hooks.def's RETRY bits are RetryErr's");
bool parse_retry(std::string_view value, Config* cfg, std::string* err) {
  static const char* const kErrs[] = {"eintr", "eagain", "econnaborted"};
  // Where each error can be retried at all (hooks.def's RETRY column).
  const uint32_t allowed[retry_err_count] = {retryable_classes(retry_eintr), retryable_classes(retry_eagain),
                                             retryable_classes(retry_econnaborted)};
  for (uint32_t& c : cfg->retry_calls) c = 0;
  std::string_view rest = value;
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (item.empty()) continue;
    std::size_t at = item.find('@');
    std::size_t which = 0;
    if (!parse_choice(item.substr(0, at), kErrs, 3, &which, "a retryable error", err)) return false;
    uint32_t calls = allowed[which];
    if (at != std::string_view::npos) {
      calls = 0;
      std::string_view list = item.substr(at + 1);
      // "eagain@" or "eagain@recv+" would silently retry less than written.
      for (bool more = true; more;) {
        std::size_t plus = list.find('+');
        more = plus != std::string_view::npos;
        std::string name(trim(list.substr(0, plus)));
        if (name.empty()) {
          *err = quoted(item) + " names no call after '@' or '+'; accepted: e.g. eagain@recv+send";
          return false;
        }
        list = plus == std::string_view::npos ? std::string_view() : list.substr(plus + 1);
        CallClass cls;
        if (!call_class_from_name(name, &cls)) {
          *err = quoted(name) + " in " + quoted(item) +
                 " is not a call; accepted: connect, accept, send, recv, poll (or a libc name such as recvfrom)";
          return false;
        }
        if (!(allowed[which] & (1u << int(cls)))) {
          *err = std::string(kErrs[which]) + " cannot be retried for " + call_class_name(cls) + " (in " +
                 quoted(item) + "); " +
                 (which == retry_eagain ? "EAGAIN is waited out on accept, send and recv only (from connect it "
                                          "means no free local port, which waiting does not cure)"
                  : which == retry_econnaborted ? "ECONNABORTED comes from accept only"
                                                : "EINTR is retried on connect, accept, send, recv and poll");
          return false;
        }
        calls |= 1u << int(cls);
      }
    }
    cfg->retry_calls[which] |= calls;
  }
  return true;
}

// Where a value comes from, for the rules' error messages.
struct Source {
  RuleParser* rules;
  std::string_view name;  // "SOCKDIAG_INJECT", or a config file's path
  unsigned line;          // the line in that file; 0 for a variable
  unsigned column;        // where the value starts in that line, from 1
};

struct Setting {
  const char* key;  // in a config file; the variable is SOCKDIAG_ + upper case
  bool (*apply)(std::string_view value, Config* cfg, const Source& src, std::string* err);
};

const Setting kSettings[] = {
    {"log",
     [](std::string_view v, Config* c, const Source&, std::string* err) {
       v = trim(v);
       if (v.empty() || v.size() >= sizeof(c->log)) {
         *err = v.empty() ? "the value is empty; accepted: stderr, or a file path (%p becomes the pid)"
                          : "the value is longer than " + std::to_string(sizeof(c->log) - 1) + " bytes";
         return false;
       }
       // unix:PATH: a collector's datagram socket (`sockdiag collect`),
       // whose path must fit a socket address.
       if (v.substr(0, 5) == "unix:" && (v.size() == 5 || v[5] != '/' || v.size() - 5 >= kUnixPathMax)) {
         *err = quoted(v) + ": accepted: unix:/absolute/path of a datagram socket, at most " +
                std::to_string(kUnixPathMax - 1) + " bytes";
         return false;
       }
       std::memcpy(c->log, v.data(), v.size());
       c->log[v.size()] = '\0';
       return true;
     }},
    {"format",
     [](std::string_view v, Config* c, const Source&, std::string* err) {
       static const char* const kWords[] = {"text", "json"};
       std::size_t i;
       if (!parse_choice(v, kWords, 2, &i, "a format", err)) return false;
       c->format = static_cast<Format>(i);
       return true;
     }},
    {"level",
     [](std::string_view v, Config* c, const Source&, std::string* err) {
       static const char* const kWords[] = {"off", "error", "info", "debug", "trace"};
       std::size_t i;
       if (!parse_choice(v, kWords, 5, &i, "a level", err)) return false;
       c->level = static_cast<Level>(i);
       return true;
     }},
    {"follow_children",
     [](std::string_view v, Config* c, const Source&, std::string* err) {
       return parse_yes_no(v, &c->follow_children, "a yes/no value", err);
     }},
    {"summary",
     [](std::string_view v, Config* c, const Source&, std::string* err) {
       v = trim(v);
       if (!v.empty() && v.front() == '/') {
         if (v.size() >= sizeof(c->summary_path)) {
           *err = "the value is longer than " + std::to_string(sizeof(c->summary_path) - 1) + " bytes";
           return false;
         }
         std::memcpy(c->summary_path, v.data(), v.size());
         c->summary_path[v.size()] = '\0';
         c->summary = true;
         return true;
       }
       return parse_yes_no(v, &c->summary, "a yes/no value or an absolute file path", err);
     }},
    // Set by `sockdiag run --summary`: the inherited fd of the counter table
    // (counter_table.h). Only the form is checked here; what the fd holds is
    // checked when the library maps it (a process whose parent closed the fd
    // counts privately instead, and says so).
    {"counters",
     [](std::string_view v, Config* c, const Source&, std::string* err) {
       v = trim(v);
       uint64_t n;
       std::string num_err;
       if (v.substr(0, 3) != "fd:" || !parse_uint(v.substr(3), INT32_MAX, &n, &num_err)) {
         *err = quoted(v) + " is not an inherited fd; accepted: fd:N, N from 0 to " + std::to_string(INT32_MAX) +
                " (set by `sockdiag run --summary`)";
         return false;
       }
       c->counters_fd = static_cast<int>(n);
       return true;
     }},
    {"retry", [](std::string_view v, Config* c, const Source&, std::string* err) { return parse_retry(v, c, err); }},
    {"retry_timeout_ms",
     [](std::string_view v, Config* c, const Source&, std::string* err) {
       uint64_t n;
       if (!parse_uint(v, 86400000, &n, err)) return false;
       c->retry_timeout_ms = static_cast<uint32_t>(n);
       return true;
     }},
    {"retry_max",
     [](std::string_view v, Config* c, const Source&, std::string* err) {
       uint64_t n;
       if (!parse_uint(v, 1000000000, &n, err)) return false;
       c->retry_max = static_cast<uint32_t>(n);
       return true;
     }},
    {"sigpipe",
     [](std::string_view v, Config* c, const Source&, std::string* err) {
       static const char* const kWords[] = {"ignore", "keep"};
       std::size_t i;
       if (!parse_choice(v, kWords, 2, &i, "a SIGPIPE mode", err)) return false;
       c->sigpipe = static_cast<SigpipeMode>(i);
       return true;
     }},
    {"seccomp",
     [](std::string_view v, Config* c, const Source&, std::string* err) {
       static const char* const kWords[] = {"standdown", "keep"};
       std::size_t i;
       if (!parse_choice(v, kWords, 2, &i, "a seccomp mode", err)) return false;
       c->seccomp = static_cast<SeccompMode>(i);
       return true;
     }},
    // `sockdiag ctl` may change the rules while the program runs (control.h):
    // yes, no, or run:ID, set by `sockdiag run` for every process of its tree.
    {"control",
     [](std::string_view v, Config* c, const Source&, std::string* err) {
       v = trim(v);
       if (v.substr(0, 4) == "run:") {
         uint64_t n;
         std::string num_err;
         if (!parse_uint(v.substr(4), UINT64_MAX, &n, &num_err)) {
           *err = quoted(v) + " is not a run; accepted: yes, no, or run:N with N a number (set by `sockdiag run`)";
           return false;
         }
         c->control = true;
         c->control_run = n;
         return true;
       }
       if (!parse_yes_no(v, &c->control, "a yes/no value or run:N", err)) return false;
       c->control_run = 0;
       return true;
     }},
    {"seed",
     [](std::string_view v, Config* c, const Source&, std::string* err) {
       uint64_t n;
       if (!parse_uint(v, UINT64_MAX, &n, err)) return false;
       c->seed = n;
       c->seed_set = true;
       return true;
     }},
    // The faults of an earlier run's JSON log, read and checked whole here.
    {"replay",
     [](std::string_view v, Config* c, const Source&, std::string* err) {
       std::string path(trim(v));
       if (path.empty()) {
         *err = "the value is empty; accepted: the path of the JSON log of a run";
         return false;
       }
       auto* plan = new ReplayPlan;
       if (!read_replay_file(path.c_str(), plan, err)) {
         delete plan;
         return false;
       }
       free_replay(c->replay);  // a file's, overridden by the variable
       c->replay = plan;
       return true;
     }},
    {"inject",
     [](std::string_view v, Config*, const Source& src, std::string* err) {
       return src.rules->add(v, src.name, src.line, err, src.column);
     }},
};

std::string variable_of(const char* key) {
  std::string name = "SOCKDIAG_";
  for (const char* p = key; *p; ++p) name += static_cast<char>(std::toupper(static_cast<unsigned char>(*p)));
  return name;
}

const Setting* setting_for_key(std::string_view key) {
  for (const Setting& s : kSettings)
    if (key == s.key) return &s;
  return nullptr;
}

// A settings file is small; /proc files report a size of 0, so the bound
// is also kept while reading.
constexpr std::size_t kMaxSettingsFile = 1 << 20;
constexpr const char* kSettingsFileAccepted = "; accepted: the path of a readable regular file of settings";

std::string cannot_read(const char* path, const std::string& why) {
  return "SOCKDIAG_CONFIG: cannot read " + quoted(path) + ": " + why + kSettingsFileAccepted;
}

// The settings file, open for reading. O_NONBLOCK: the open of a FIFO (or
// of a device) never waits before main for a writer that may never come,
// nor does a read of a /proc file that waits (/proc/kmsg). Only a regular
// file is read: a FIFO, a device or a directory is refused as such.
FILE* open_settings_file(const char* path, std::string* err) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    *err = cannot_read(path, std::strerror(errno));
    return nullptr;
  }
  struct stat st;
  std::string what;
  if (fstat(fd, &st) != 0) what = std::string("cannot read ") + quoted(path) + ": " + std::strerror(errno);
  else if (S_ISDIR(st.st_mode)) what = quoted(path) + " is a directory";
  else if (S_ISFIFO(st.st_mode)) what = quoted(path) + " is a FIFO";
  else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) what = quoted(path) + " is a device";
  else if (!S_ISREG(st.st_mode)) what = quoted(path) + " is not a regular file";
  else if (static_cast<std::size_t>(st.st_size) > kMaxSettingsFile)
    what = quoted(path) + " is larger than " + std::to_string(kMaxSettingsFile) + " bytes";
  FILE* f = what.empty() ? fdopen(fd, "r") : nullptr;
  if (!f) {
    if (what.empty()) what = std::string("cannot read ") + quoted(path) + ": " + std::strerror(errno);
    *err = "SOCKDIAG_CONFIG: " + what + kSettingsFileAccepted;
    // Through syscall(2): in the library, `close` is its own hook.
    syscall(SYS_close, fd);
  }
  return f;
}

// SOCKDIAG_CONFIG: "key = value" lines, '#' comments; `inject = RULE` may repeat.
bool parse_file(const char* path, Config* cfg, RuleParser* rules, std::string* err) {
  FILE* f = open_settings_file(path, err);
  if (!f) return false;
  char* line = nullptr;
  std::size_t cap = 0;
  ssize_t n;
  int lineno = 0;
  std::size_t total = 0;
  bool ok = true;
  while (ok && (n = getline(&line, &cap, f)) >= 0) {
    ++lineno;
    total += static_cast<std::size_t>(n);
    if (total > kMaxSettingsFile) {
      *err = "SOCKDIAG_CONFIG: " + quoted(path) + " is larger than " + std::to_string(kMaxSettingsFile) +
             " bytes" + kSettingsFileAccepted;
      ok = false;
      break;
    }
    std::string_view whole(line, static_cast<std::size_t>(n));
    whole = whole.substr(0, whole.find('\n'));
    // A rule line goes to the rule parser whole: it knows where a '#'
    // starts a comment (a path or a quoted value may hold one).
    std::size_t eq = whole.find('=');
    bool is_rule = eq != std::string_view::npos && lower(trim(whole.substr(0, eq))) == "inject";
    std::string_view text = is_rule ? whole : trim(whole.substr(0, whole.find('#')));
    if (trim(text).empty() || trim(text).front() == '#') continue;
    eq = text.find('=');
    std::string where = std::string(path) + ":" + std::to_string(lineno);
    if (eq == std::string_view::npos) {
      *err = where + ": expected 'key = value', got " + quoted(trim(text));
      ok = false;
      break;
    }
    std::string key = lower(trim(text.substr(0, eq)));
    const Setting* s = setting_for_key(key);
    if (!s) {
      static const char* keys[sizeof(kSettings) / sizeof(kSettings[0])];
      for (std::size_t i = 0; i < sizeof(kSettings) / sizeof(kSettings[0]); ++i) keys[i] = kSettings[i].key;
      *err = where + ": unknown setting " + quoted(key) + "; accepted: ";
      for (std::size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); ++i) *err += std::string(i ? ", " : "") + keys[i];
      if (const char* near = suggestion(key, keys, sizeof(keys) / sizeof(keys[0])))
        *err += std::string(" (did you mean ") + near + "?)";
      ok = false;
      break;
    }
    std::string value_err;
    // A rule's error columns count in the line, from after "inject =".
    Source src{rules, path, static_cast<unsigned>(lineno), static_cast<unsigned>(eq + 2)};
    if (!s->apply(text.substr(eq + 1), cfg, src, &value_err)) {
      // A rule's error already names the file, line and column.
      *err = key == "inject" ? value_err : where + ": " + key + ": " + value_err;
      ok = false;
    }
  }
  // A read error (EIO from /proc/self/mem, EAGAIN from a file that waits)
  // is not the end of the file: the settings after it would be lost.
  if (ok && std::ferror(f)) {
    *err = cannot_read(path, std::strerror(errno));
    ok = false;
  }
  std::free(line);
  std::fclose(f);
  return ok;
}

}  // namespace

bool parse_config(EnvLookup get, void* ctx, const char* const* environ_names, Config* out, std::string* error) {
  Config cfg;
  // A configuration refused keeps nothing it read: the replay plan goes.
  struct DropPlan {
    Config& c;
    ~DropPlan() { free_replay(c.replay); }
  } drop_plan{cfg};
  RuleParser rules;

  // A misspelt variable would silently leave its setting out.
  for (const char* const* e = environ_names; e && *e; ++e) {
    std::string_view name(*e);
    if (name.substr(0, 9) != "SOCKDIAG_") continue;
    bool known = false;
    for (std::size_t i = 0; i < kVariableCount; ++i) known = known || name == kVariables[i];
    if (!known) {
      *error = "sockdiag: unknown variable " + quoted(name) + "; accepted: ";
      for (std::size_t i = 0; i < kVariableCount; ++i) *error += std::string(i ? ", " : "") + kVariables[i];
      if (const char* near = suggestion(name, kVariables, kVariableCount))
        *error += std::string(" (did you mean ") + near + "?)";
      return false;
    }
  }

  // Rules: the variable's first (they are the most specific), then the file's.
  if (const char* inject = get("SOCKDIAG_INJECT", ctx)) {
    std::string err;
    if (!rules.add(inject, "SOCKDIAG_INJECT", 0, &err)) {
      *error = "sockdiag: " + err;
      return false;
    }
  }
  // Settings: the file first, so that a variable set in the environment overrides it.
  if (const char* path = get("SOCKDIAG_CONFIG", ctx)) {
    std::string err;
    if (!*path) {
      *error = "sockdiag: SOCKDIAG_CONFIG is empty; accepted: the path of a settings file";
      return false;
    }
    if (!parse_file(path, &cfg, &rules, &err)) {
      *error = "sockdiag: " + err;
      return false;
    }
  }
  for (const Setting& s : kSettings) {
    std::string var = variable_of(s.key);
    const char* value = get(var.c_str(), ctx);
    if (!value || std::string_view(s.key) == "inject") continue;
    std::string err;
    Source src{&rules, var, 0, 1};
    if (!s.apply(value, &cfg, src, &err)) {
      *error = "sockdiag: " + var + ": " + err;
      return false;
    }
  }
  if (cfg.counters_fd >= 0 && !cfg.summary_path[0]) {
    *error = "sockdiag: SOCKDIAG_COUNTERS needs SOCKDIAG_SUMMARY set to a file path, where a process that cannot "
             "share the counters writes its own at exit (`sockdiag run --summary` sets both)";
    return false;
  }
  RuleSet* set = rules.finish();
  if (cfg.replay) {
    // A replay is the whole of the run's injection: rules beside it would
    // make a different run than the one replayed.
    if (set && set->count > 0) {
      free_rules(set);
      *error = "sockdiag: SOCKDIAG_REPLAY replaces the injection rules, and SOCKDIAG_INJECT (or an inject line "
               "of SOCKDIAG_CONFIG) gives some; accepted: one or the other";
      return false;
    }
    if (set) free_rules(set);
    set = cfg.replay->set;
    set->seed = cfg.seed_set ? cfg.seed : 0;
    cfg.rules = set;
  } else if (set && set->count > 0) {
    set->seed = cfg.seed_set ? cfg.seed : seed_from_clock();
    cfg.rules = set;
  } else if (set) {
    free_rules(set);
  }

  *out = cfg;
  cfg.replay = nullptr;  // the caller's now
  return true;
}

}  // namespace sd
