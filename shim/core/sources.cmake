# The library's knowledge with no system call in it: explanations, settings,
# rules, formatting. One list, read by shim/CMakeLists.txt (sockdiag_core) and
# by the fuzzers' own project (tests/fuzz), so that neither can miss a file.
set(SD_CORE_SOURCES
  explain.cpp
  config.cpp
  nearest.cpp
  next_definition.cpp
  line_buffer.cpp
  escape.cpp
  addr_text.cpp
  time_text.cpp
  record.cpp
  rule_vocabulary.cpp
  rule_parser.cpp
  rule_normal_form.cpp
  rule_set.cpp
  rule_match.cpp
  injection_tally.cpp
  rule_image.cpp
  json_line.cpp
  replay_plan.cpp
)
list(TRANSFORM SD_CORE_SOURCES PREPEND ${CMAKE_CURRENT_LIST_DIR}/)
