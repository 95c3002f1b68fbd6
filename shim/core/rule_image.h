// A rule set as one block of bytes with offsets instead of pointers, so that
// `sockdiag ctl` (which parses and checks the rules, with the parser and the
// messages of start-up) can hand a set to a running process through a shared
// file, and the library can take it in without allocating: a hook may run in
// a signal handler that interrupted malloc. The library copies the block into
// memory of its own (mmap), checks every offset and index, and relocates.
//
// Layout: a RuleSet whose pointer fields hold offsets from the block's start
// (counters: 0, the library gives its own), then the rules (their string
// pointers are offsets too), the by_call index, and the strings. Only a block
// made by the same build means anything: kRuleImageLayout says which.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "rules.h"

namespace sd {

// Changes with every change of Rule, RuleSet or the calls rules name.
constexpr uint64_t kRuleImageLayout =
    (uint64_t{1} << 56) | (uint64_t{sizeof(Rule)} << 32) | (uint64_t{sizeof(RuleSet)} << 12) | kRuleCallCount;

// The block of `set` (its counters are not part of it).
std::string rule_image(const RuleSet& set);

// Whether `size` bytes at `image` are a block this build made: every offset
// and index inside it, every string ended. No allocation. nullptr when they
// are, else what is wrong.
const char* check_rule_image(const void* image, std::size_t size);

// Makes the checked block at `mem` (a copy of the image, `size` bytes, which
// it then belongs to) a usable RuleSet in place, counting into `counters`
// (one per rule, zeroed by the caller). No allocation.
RuleSet* relocate_rule_image(void* mem, std::size_t size, RuleCounters* counters);

}  // namespace sd
