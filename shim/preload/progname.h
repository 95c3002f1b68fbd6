// The program's name in records and summaries: argv[0]'s base name as it
// was when the process image started.
#pragma once

namespace sd {

// Copies the name; called once at start-up (again in a new image after exec).
// Programs rewrite their argv later (setproctitle: postgres backends,
// nginx workers), and program_invocation_short_name points into it.
void remember_program_name();

const char* program_name();

}  // namespace sd
