// The counter table shared with `sockdiag run --summary` (counter_table.h):
// mapping it before main, and handing this process a slot of it.
#pragma once
#include "counter_table.h"

namespace sd {

// Maps the table behind the inherited fd `fd` (MAP_SHARED: the mapping
// outlives the fd, the program may close it). Returns false, with `*why`
// saying what was wrong, when `fd` is not such a table (closed, or reused
// by the program for something else before it executed this one).
bool share_attach(int fd, const char** why);
bool share_attached();

// A slot of the table nobody else counts into; nullptr when the table has
// none left (or none is attached).
ctab::Slot* share_take_slot();
// The tag of a slot of the table, for its lanes (ctab::Lane::slot).
uint32_t share_lane_tag(const ctab::Slot* s);
// A lane of the table nobody else counts into, tagged `tag`; nullptr when
// the table has none left.
ctab::Lane* share_take_lane(uint32_t tag);

}  // namespace sd
