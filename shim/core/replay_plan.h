// A replay plan: the faults an earlier run injected, each tied to the call
// it hit by what stays the same from one run of a deterministic program to
// the next (no pid, no fd number, no time): the program's name, the
// connection's key within the process and the call's index on it. Read from
// that run's JSON log (SOCKDIAG_REPLAY, `sockdiag run --replay`);
// tools/INJECT.md ("Replaying a run") says the same for users.
//
// A connection's key (the record's "conn"):
//   "PEER#K"    the K-th connection (from 1) this program opened to PEER,
//               as a record writes it ("127.0.0.1:8080", "[::1]:443",
//               "/run/x.sock"): each connect attempt on a socket starts one
//   "socket#K"  the K-th socket that met the rules without this program
//               connecting it first (accepted, inherited, unconnected UDP)
//   ""          no socket: getaddrinfo, or a call on no descriptor
// A call's index (the record's "call_n"): the N-th call (from 1) with the
// same rule name (recv covers __recv_chk; hooks.def's RULE column) on that
// connection, or in the process for "", counted while a rule names the call.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "calls.h"

namespace sd {

struct RuleSet;

// A connection key's text before '#': hashed the same by the library when
// it counts and by the plan's reader.
uint64_t conn_base_hash(std::string_view base);

struct ReplayFault {
  std::string prog;
  CallId call = CallId::count;
  uint64_t base_hash = 0;  // conn_base_hash of the key's PEER part ("" for no socket)
  uint32_t ordinal = 0;    // K; 0 for ""
  uint64_t n = 0;          // the call's index, from 1
  uint32_t rule = 0;       // its rule in ReplayPlan::set
  bool drawn = false;      // a jittered delay: the time this call drew
  uint64_t drawn_ns = 0;
};

struct ReplayPlan {
  std::vector<ReplayFault> faults;
  RuleSet* set = nullptr;  // the distinct rules of the faults, in order of first appearance
};

// Reads the faults from a log's text: every non-empty line must be a JSON
// object; those with "call_n" are faults (prog, call, conn, call_n, rule,
// and drawn_ns for a jittered delay). Two different faults at one call, a
// rule that does not parse, or no fault at all: false, with one line in
// `error` naming `source` and the line.
bool parse_replay(std::string_view text, std::string_view source, ReplayPlan* out, std::string* error);

// The same from a file (a regular file of at most 64 MiB).
bool read_replay_file(const char* path, ReplayPlan* out, std::string* error);

// A plan made with new, and its rules, freed (nullptr: nothing).
void free_replay(const ReplayPlan* plan);

}  // namespace sd
