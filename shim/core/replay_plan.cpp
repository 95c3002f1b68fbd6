// Reading a replay plan from a JSON log (see replay_plan.h).
#include "replay_plan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <tuple>

#include "escape.h"
#include "json_line.h"
#include "rules.h"

namespace sd {
namespace {

constexpr std::size_t kMaxReplayFile = 64u << 20;

const JsonMember* member(const std::vector<JsonMember>& ms, std::string_view key) {
  for (const JsonMember& m : ms)
    if (m.key == key) return &m;
  return nullptr;
}

bool whole_number(const JsonMember* m, uint64_t max, uint64_t* out) {
  if (!m || m->type != JsonMember::number || m->text.empty() || m->text.size() > 20 ||
      m->text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  errno = 0;
  unsigned long long v = std::strtoull(m->text.c_str(), nullptr, 10);
  if (errno == ERANGE || v > max) return false;
  *out = v;
  return true;
}

// The hooked call a record names ("__recv_chk") as the rules name it ("recv").
bool rule_call_of(std::string_view name, CallId* out) {
  for (std::size_t i = 0; i < kCallCount; ++i)
    if (name == kHookNames[i]) {
      *out = rule_call(static_cast<Call>(i));
      return *out != CallId::count;
    }
  return false;
}

// "PEER#K" or "": the base and K (0 for "").
bool split_conn(std::string_view key, std::string_view* base, uint32_t* ordinal) {
  if (key.empty()) {
    *base = key;
    *ordinal = 0;
    return true;
  }
  std::size_t hash = key.rfind('#');
  if (hash == std::string_view::npos || hash == 0 || hash + 1 >= key.size()) return false;
  std::string_view digits = key.substr(hash + 1);
  if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string_view::npos) return false;
  *ordinal = static_cast<uint32_t>(std::strtoul(std::string(digits).c_str(), nullptr, 10));
  *base = key.substr(0, hash);
  return *ordinal > 0;
}

}  // namespace

uint64_t conn_base_hash(std::string_view base) {
  // FNV-1a, then never 0 (0 marks an empty slot in the library's tables).
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : base) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h | 1;
}

bool parse_replay(std::string_view text, std::string_view source, ReplayPlan* out, std::string* error) {
  RuleParser rules;
  std::map<std::string, uint32_t> rule_index;  // rule text -> index in the set
  // One fault per call: (prog, call, base, K, n) -> (line, rule, drawn).
  // A call and a rule: rules that composed on one call are each a fault of it.
  using Point = std::tuple<std::string, int, uint64_t, uint32_t, uint64_t, uint32_t>;
  std::map<Point, std::tuple<unsigned, uint32_t, bool, uint64_t>> seen;
  std::vector<unsigned> fault_lines;  // each fault's line
  std::vector<std::string> rule_texts;
  std::vector<JsonMember> ms;
  unsigned lineno = 0;
  ReplayPlan plan;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    std::string where = std::string(source) + ":" + std::to_string(lineno) + ": ";
    std::string why;
    if (!read_json_object(line, &ms, &why)) {
      *error = where + "not a JSON record (" + why +
               "); accepted: the JSON log of a run (sockdiag run --format json --log FILE)";
      return false;
    }
    const JsonMember* call_n = member(ms, "call_n");
    if (!call_n) continue;
    const JsonMember* prog = member(ms, "prog");
    const JsonMember* call = member(ms, "call");
    const JsonMember* conn = member(ms, "conn");
    const JsonMember* rule = member(ms, "rule");
    const JsonMember* drawn = member(ms, "drawn_ns");
    const JsonMember* clipped = member(ms, "clipped");
    ReplayFault f;
    std::string_view base;
    auto bad = [&](const std::string& what) {
      *error = where + what + "; accepted: a record of an injected fault as the library writes it";
      return false;
    };
    if (!whole_number(call_n, UINT64_MAX, &f.n) || f.n == 0) return bad("\"call_n\" is not a whole number from 1");
    if (clipped && clipped->type == JsonMember::boolean && clipped->text == "true")
      return bad("the fault's record was clipped to fit a line, its rule with it");
    if (!prog || prog->type != JsonMember::string) return bad("a fault's record without \"prog\"");
    if (!call || call->type != JsonMember::string || !rule_call_of(call->text, &f.call))
      return bad("\"call\" is not a call a rule can name");
    if (!conn || conn->type != JsonMember::string || !split_conn(conn->text, &base, &f.ordinal))
      return bad("\"conn\" is not a connection key (PEER#K, socket#K, or \"\")");
    if (!rule || rule->type != JsonMember::string || rule->text.empty())
      return bad("a fault's record without its \"rule\"");
    f.prog = prog->text;
    f.base_hash = conn_base_hash(base);
    auto known = rule_index.find(rule->text);
    if (known == rule_index.end()) {
      std::string rule_err;
      uint32_t before = static_cast<uint32_t>(rule_texts.size());
      if (!rules.add(rule->text, where + "rule", 0, &rule_err)) {
        *error = rule_err;
        return false;
      }
      known = rule_index.emplace(rule->text, before).first;
      rule_texts.push_back(rule->text);
    }
    f.rule = known->second;
    if (drawn) {
      if (!whole_number(drawn, UINT64_MAX, &f.drawn_ns)) return bad("\"drawn_ns\" is not a whole number");
      f.drawn = true;
    }
    Point p{f.prog, static_cast<int>(f.call), f.base_hash, f.ordinal, f.n, f.rule};
    auto [it, fresh] = seen.emplace(p, std::make_tuple(lineno, f.rule, f.drawn, f.drawn_ns));
    if (!fresh) {
      if (std::get<1>(it->second) == f.rule && std::get<2>(it->second) == f.drawn && std::get<3>(it->second) == f.drawn_ns)
        continue;  // the same fault said twice (a forked child of the same program): one
      *error = where + "a different fault at the same call as line " + std::to_string(std::get<0>(it->second)) + " (" +
               quoted(f.prog) + ", " + call->text + " " + std::to_string(f.n) + " on " + quoted(conn->text) +
               "); accepted: the log of one run (a log written by several runs, or by forked processes of one "
               "program that make the same connections, cannot be replayed)";
      return false;
    }
    plan.faults.push_back(std::move(f));
    fault_lines.push_back(lineno);
  }
  if (plan.faults.empty()) {
    *error = std::string(source) +
             ": no injected fault to replay (no JSON record with \"call_n\"); accepted: the JSON log of a run that "
             "injected faults (sockdiag run --format json --log FILE)";
    return false;
  }
  plan.set = rules.finish();
  if (!plan.set || plan.set->count != rule_texts.size()) {
    if (plan.set) free_rules(plan.set);
    *error = std::string(source) + ": a fault's \"rule\" is not one rule; accepted: a log the library wrote";
    return false;
  }
  for (const ReplayFault& f : plan.faults) {
    const Rule& r = plan.set->rules[f.rule];
    bool jittered = r.wait_hi_ns || r.wait_sd_ns;
    // A wait holds input back for the read to come (inject_readiness.h):
    // its record names the wait, its rule the read.
    bool names = (r.calls & call_bit(f.call)) || class_of(f.call) == CallClass::poll;
    if (!names || jittered != f.drawn) {
      free_rules(plan.set);
      *error = std::string(source) + ": the fault of " + quoted(f.prog) + " at " + call_id_name(f.call) + " " +
               std::to_string(f.n) +
               (jittered != f.drawn ? (jittered ? " has a jittered delay without \"drawn_ns\""
                                                : " has \"drawn_ns\" for a rule that draws no delay")
                                    : " names a call its rule does not") +
               "; accepted: a log the library wrote";
      return false;
    }
  }
  // Rules compose on a call, but at most one of them ends it (rules.h).
  std::map<std::tuple<std::string, int, uint64_t, uint32_t, uint64_t>, unsigned> ending_at;
  for (std::size_t i = 0; i < plan.faults.size(); ++i) {
    const ReplayFault& f = plan.faults[i];
    if (rule_stage(plan.set->rules[f.rule].action) != RuleStage::end) continue;
    auto [it, fresh] = ending_at.emplace(std::make_tuple(f.prog, static_cast<int>(f.call), f.base_hash, f.ordinal, f.n),
                                         fault_lines[i]);
    if (fresh) continue;
    free_rules(plan.set);
    *error = std::string(source) + ":" + std::to_string(fault_lines[i]) + ": a second fault ending the call of line " +
             std::to_string(it->second) + " (" + quoted(f.prog) + ", " + call_id_name(f.call) + " " +
             std::to_string(f.n) + "); accepted: the log of one run (a log written by several runs, or by forked "
             "processes of one program that make the same connections, cannot be replayed)";
    return false;
  }
  *out = std::move(plan);
  return true;
}

void free_replay(const ReplayPlan* plan) {
  if (!plan) return;
  free_rules(plan->set);
  delete plan;
}

bool read_replay_file(const char* path, ReplayPlan* out, std::string* error) {
  const char* accepted = "; accepted: the path of a readable JSON log of a run";
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    *error = "cannot read " + quoted(path) + ": " + std::strerror(errno) + accepted;
    return false;
  }
  struct stat st;
  std::string text, why;
  if (fstat(fd, &st) != 0) why = std::strerror(errno);
  else if (!S_ISREG(st.st_mode)) why = "not a regular file";
  else if (static_cast<std::size_t>(st.st_size) > kMaxReplayFile)
    why = "larger than " + std::to_string(kMaxReplayFile) + " bytes";
  char buf[65536];
  while (why.empty()) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) why = std::strerror(errno);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxReplayFile) why = "larger than " + std::to_string(kMaxReplayFile) + " bytes";
  }
  // Through syscall(2): in the library, `close` is its own hook.
  syscall(SYS_close, fd);
  if (!why.empty()) {
    *error = "cannot read " + quoted(path) + ": " + why + accepted;
    return false;
  }
  return parse_replay(text, path, out, error);
}

}  // namespace sd
