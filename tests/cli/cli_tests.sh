#!/bin/bash
# Integration tests of the `sockdiag` command, driven as a user drives it:
# the build is installed into a temporary prefix (`setup`), and each case
# runs that installed copy. CMakeLists.txt registers one test per case_NAME.
#
#   cli_tests.sh setup | cleanup | NAME
#
# Environment (set by CMakeLists.txt): SD_BUILD_DIR, SD_CLI_STATE (file that
# holds the prefix), SD_CLI_PROG, SD_CLI_STATIC, SD_CLI_FAKE_GO, SD_CLI_NO_PTRACE,
# SD_CLI_OTHER_PRELOAD, SD_CLI_VM_CHILDREN, SD_BUILD_SOCKDIAG, SD_BUILD_LIBRARY.
set -u -o pipefail

# Every command under test is bounded; nothing here should take a second.
LIMIT=30
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# capture CMD...: runs CMD (bounded), stdout in $OUT, stderr in $ERR, status in $RC.
capture() {
  timeout -k 5 "$LIMIT" "$@" >"$OUT" 2>"$ERR"
  RC=$?
}

show() { echo "--- stdout:"; head -c 3000 "$OUT"; echo "--- stderr:"; head -c 3000 "$ERR"; }

expect_status() {
  [ "$RC" = "$1" ] || fail "$2: exit status $RC, expected $1 $(show)"
}

# expect_in FILE REGEX WHAT / expect_not_in FILE REGEX WHAT
expect_in() { grep -Eq -- "$2" "$1" || fail "$3: no line matches /$2/ $(show)"; }
expect_not_in() { ! grep -Eq -- "$2" "$1" || fail "$3: a line matches /$2/ $(show)"; }

# A bad-input path: status 2, exactly one line on stderr, matching REGEX.
expect_usage_error() {
  expect_status 2 "$2"
  [ "$(wc -l <"$ERR")" = 1 ] || fail "$2: expected one line on stderr $(show)"
  expect_in "$ERR" "$1" "$2"
}

records() { grep -c '^sockdiag 20' "$1"; }

# one_line_error REGEX WHAT: exactly one line on stderr, matching REGEX.
one_line_error() {
  [ "$(wc -l <"$ERR")" = 1 ] || fail "$2: expected one line on stderr $(show)"
  expect_in "$ERR" "$1" "$2"
}

setup() {
  local prefix
  prefix=$(mktemp -d "${TMPDIR:-/tmp}/sockdiag-cli-prefix.XXXXXX") || fail "mktemp"
  chmod 0755 "$prefix"  # as an installed prefix is: programs that drop to nobody load the library from it
  cmake --install "$SD_BUILD_DIR" --prefix "$prefix" >/dev/null || fail "cmake --install into $prefix"
  echo "$prefix" >"$SD_CLI_STATE"
}

cleanup() {
  [ -f "$SD_CLI_STATE" ] || return 0
  rm -rf -- "$(cat "$SD_CLI_STATE")"
  rm -f -- "$SD_CLI_STATE"
}

# Per case: the installed command, and a private directory as cwd.
begin_case() {
  [ -f "$SD_CLI_STATE" ] || fail "no installed prefix: run the fixture first (ctest -R '^cli: ')"
  P=$(cat "$SD_CLI_STATE")
  SD="$P/bin/sockdiag"
  LIB=$(find "$P" -name libsockdiag.so -print -quit)
  [ -x "$SD" ] && [ -n "$LIB" ] || fail "the prefix $P lacks bin/sockdiag or libsockdiag.so"
  LIB=$(readlink -f "$LIB")
  T=$(mktemp -d "${TMPDIR:-/tmp}/sockdiag-cli-case.XXXXXX") || fail "mktemp"
  trap 'rm -rf -- "$T"' EXIT
  OUT="$T/stdout"
  ERR="$T/stderr"
  cd "$T" || fail "cd $T"
  # Settings of the caller's environment must not leak into the cases.
  unset $(env | sed -n 's/^\(SOCKDIAG_[A-Z_]*\)=.*/\1/p') LD_PRELOAD
  ulimit -c 0
}

# ---------------------------------------------------------------- install --

case_install_layout() {
  [ -f "$P/share/man/man1/sockdiag.1" ] || fail "no man page under $P/share/man/man1"
  grep -q '^\.TH SOCKDIAG 1' "$P/share/man/man1/sockdiag.1" || fail "the man page has no .TH SOCKDIAG 1 line"
  find "$P" -path '*/libexec/sockdiag/sockdiag-demo' -perm -u+x | grep -q . || fail "no libexec/sockdiag/sockdiag-demo"
  capture "$SD" libpath
  expect_status 0 "libpath"
  [ "$(cat "$OUT")" = "$LIB" ] || fail "libpath printed '$(cat "$OUT")', expected $LIB"
  case "$LIB" in "$(readlink -f "$P")"/lib*) ;; *) fail "the library $LIB is not under $P/lib" ;; esac
}

case_libpath_preload_by_hand() {
  LD_PRELOAD=$("$SD" libpath) capture "$SD_CLI_PROG" refuse
  expect_status 0 "LD_PRELOAD=\$(sockdiag libpath)"
  expect_in "$ERR" '^sockdiag .* connect .*ECONNREFUSED' "a record from the preloaded library"
}

case_moved_prefix() {
  cp -a "$P" "$T/copy" && mv "$T/copy" "$T/moved" || fail "copy the prefix"
  capture "$T/moved/bin/sockdiag" libpath
  expect_status 0 "libpath of a moved prefix"
  case "$(cat "$OUT")" in "$(readlink -f "$T/moved")"/lib*/libsockdiag.so) ;; *) fail "moved prefix: libpath is $(cat "$OUT")" ;; esac
  capture "$T/moved/bin/sockdiag" run -- "$SD_CLI_PROG" maps "$(readlink -f "$T/moved")/"
  expect_status 0 "run from a moved prefix"
  [ "$(cat "$OUT")" = yes ] || fail "the program did not load the moved prefix's library $(show)"
  capture "$T/moved/bin/sockdiag" demo
  expect_status 0 "demo from a moved prefix"
}

case_build_tree_finds_its_library() {
  capture "$SD_BUILD_SOCKDIAG" libpath
  expect_status 0 "libpath in the build tree"
  [ "$(cat "$OUT")" = "$(readlink -f "$SD_BUILD_LIBRARY")" ] || fail "build tree: libpath is $(cat "$OUT")"
}

case_library_missing() {
  cp -a "$P" "$T/broken" || fail "copy the prefix"
  find "$T/broken" -name libsockdiag.so -delete
  capture "$T/broken/bin/sockdiag" libpath
  expect_status 1 "libpath without the library"
  expect_in "$ERR" "cannot find libsockdiag.so; looked for $T/broken/bin/" "libpath names where it looked"
  capture "$T/broken/bin/sockdiag" run -- touch "$T/started"
  expect_usage_error "cannot find the library libsockdiag.so" "run without the library"
  [ ! -e "$T/started" ] || fail "CMD ran without the library"
}

case_library_path_with_a_space() {
  mkdir "$T/with space" && cp -a "$P" "$T/with space/p" || fail "copy the prefix"
  capture "$T/with space/p/bin/sockdiag" run -- true
  expect_usage_error "holds a space or ':'" "a prefix whose path LD_PRELOAD cannot express"
}

case_help_and_version() {
  capture "$SD" --help
  expect_status 0 "--help"
  cp "$OUT" "$T/help"
  for c in run explain report check doctor libpath demo; do
    expect_in "$T/help" "^  $c " "--help lists $c"
    capture "$SD" "$c" --help
    expect_status 0 "$c --help"
    expect_in "$OUT" "^Usage: sockdiag $c" "$c --help has its usage line"
  done
  capture "$SD" run --help
  for o in --log --format --level --summary --retry --retry-timeout-ms --retry-max --sigpipe --seccomp --inject --config \
    --seed --follow-children --no-follow-children; do
    expect_in "$OUT" "^ +(-[a-z],)?$o " "run --help describes $o"
  done
  capture "$SD" --version
  expect_status 0 "--version"
  expect_in "$OUT" '^sockdiag [0-9]+\.[0-9]+' "--version"
}

case_bad_command_line() {
  capture "$SD"
  expect_usage_error "missing COMMAND" "no command"
  capture "$SD" rnu
  expect_usage_error "unknown command 'rnu' \(did you mean run\?\)" "misspelt command"
  capture "$SD" explain --frobnicate
  expect_usage_error "unknown option '--frobnicate'" "unknown option of explain"
  capture "$SD" libpath extra
  expect_usage_error "unexpected argument 'extra'" "stray argument"
}

case_messages_quoting_control_characters_stay_one_line() {
  # What the user typed is quoted back escaped: a newline or a terminal escape
  # in an argument must not split the message or reach the terminal.
  local bad=$'x\n\033[2Jy' esc=$'\033'
  inert() { ! LC_ALL=C grep -q "$esc" "$ERR" || fail "$1: an escape character reached stderr $(show)"; }
  capture "$SD" "$bad"
  expect_usage_error "unknown command 'x\\\\n\\\\x1b\\[2Jy'" "unknown command"
  inert "unknown command"
  capture "$SD" explain "$bad"
  expect_usage_error "'x\\\\n\\\\x1b\\[2Jy' is not an errno" "explain of a bad name"
  inert "explain of a bad name"
  capture "$SD" report "$bad"
  expect_usage_error "cannot read 'x\\\\n\\\\x1b\\[2Jy'" "report of a bad file name"
  inert "report of a bad file name"
  capture "$SD" doctor "$bad"
  expect_usage_error "x\\\\n\\\\x1b\\[2Jy: command not found in PATH" "doctor of a bad command"
  inert "doctor of a bad command"
  capture "$SD" run --level "$bad" -- true
  expect_usage_error "'x\\\\n\\\\x1b\\[2Jy' is not a level" "run with a bad level"
  inert "run with a bad level"
  capture "$SD" run -- "$bad"
  expect_status 127 "run of a missing command"
  [ "$(wc -l <"$ERR")" = 1 ] || fail "run of a missing command: expected one line on stderr $(show)"
  expect_in "$ERR" "x\\\\n\\\\x1b\\[2Jy: command not found" "run of a missing command"
  inert "run of a missing command"
}

# -------------------------------------------------------------------- run --

case_run_records_a_failure() {
  capture "$SD" run -- "$SD_CLI_PROG" refuse
  expect_status 0 "run"
  expect_in "$OUT" '^failed: ECONNREFUSED$' "the program's own view"
  expect_in "$ERR" '^sockdiag .* cli_prog\[[0-9]+/[0-9]+\] error connect .*-> 127\.0\.0\.1:[0-9]+ .*ECONNREFUSED' \
    "the record of the refused connect"
  expect_in "$ERR" 'Try: ' "the record's advice"
}

# A static or Go program never loads the library: under --engine preload run
# says so in one line (the doctor's reason), runs it anyway, and leaves its
# output and status alone.
case_run_says_a_program_runs_unobserved() {
  capture "$SD_CLI_STATIC" refuse
  local plain_out plain_rc=$RC
  plain_out=$(cat "$OUT")
  capture "$SD" run --engine preload -- "$SD_CLI_STATIC" refuse
  expect_status "$plain_rc" "run of a static program keeps its exit status"
  [ "$(cat "$OUT")" = "$plain_out" ] || fail "run of a static program changed its output $(show)"
  one_line_error '^sockdiag: .*cli_static runs unobserved: it is statically linked' "static program"
  capture "$SD" run --engine preload -- "$SD_CLI_FAKE_GO"
  expect_status 0 "run of a Go program"
  one_line_error '^sockdiag: .*cli_fake_go runs unobserved: it is a Go program' "Go program"
  capture "$SD" run -- "$SD_CLI_PROG" exit 0
  expect_status 0 "run of a dynamic program"
  [ ! -s "$ERR" ] || fail "run of a dynamic program said something $(show)"
}

case_run_passes_arguments_untouched() {
  capture "$SD" run -- "$SD_CLI_PROG" args --level x -- 'a b' ''
  expect_status 0 "run with CMD options"
  [ "$(cat "$OUT")" = "[--level][x][--][a b][]" ] || fail "CMD got other arguments $(show)"
  capture "$SD" run --level error "$SD_CLI_PROG" args -v --help
  expect_status 0 "run without --"
  [ "$(cat "$OUT")" = "[-v][--help]" ] || fail "without --: CMD got other arguments $(show)"
}

case_run_exit_status() {
  for n in 0 1 3 125 255; do
    capture "$SD" run -- "$SD_CLI_PROG" exit "$n"
    expect_status "$n" "CMD's exit status $n"
    [ ! -s "$ERR" ] || fail "exit $n: something on stderr $(show)"
  done
}

case_run_signal_status() {
  capture "$SD" run -- "$SD_CLI_PROG" signal 15
  expect_status 143 "CMD killed by SIGTERM"
  expect_in "$ERR" 'killed by signal 15 \(SIGTERM' "the death is reported"
  capture "$SD" run -- "$SD_CLI_PROG" signal 11
  expect_status 139 "CMD killed by SIGSEGV"
  expect_in "$ERR" 'killed by signal 11 \(SIGSEGV' "the death is reported"
}

# term_to_run [RUN OPTIONS]: `sockdiag run` of a program waiting for a
# signal, sent SIGTERM once the program is ready; its status in $RC.
term_to_run() {
  "$SD" run "$@" -- "$SD_CLI_PROG" wait-signal >"$OUT" 2>"$ERR" &
  local pid=$!
  for _ in $(seq 200); do
    grep -q ready "$OUT" && break
    sleep 0.05
  done
  grep -q ready "$OUT" || { kill -KILL "$pid"; fail "the program did not start $(show)"; }
  kill -TERM "$pid"
  wait "$pid"
  RC=$?
}

case_run_forwards_signals() {
  term_to_run
  expect_status 143 "SIGTERM sent to sockdiag reaches CMD"
  expect_in "$ERR" 'killed by signal 15' "the death is reported"
}

case_run_command_not_found() {
  capture "$SD" run -- no-such-command-sockdiag-test
  expect_status 127 "CMD not found in PATH"
  expect_in "$ERR" 'no-such-command-sockdiag-test: command not found' "message"
  capture "$SD" run -- ./no-such-file
  expect_status 127 "CMD path does not exist"
}

case_run_command_not_executable() {
  printf 'data\n' >"$T/plain"
  capture "$SD" run -- "$T/plain"
  expect_status 126 "CMD without execute permission"
  expect_in "$ERR" "cannot execute $T/plain: Permission denied" "message"
  capture "$SD" run -- "$T"
  expect_status 126 "CMD is a directory"
}

case_run_missing_command() {
  capture "$SD" run
  expect_usage_error "missing CMD" "run without CMD"
  capture "$SD" run --level info --
  expect_usage_error "missing CMD" "run with nothing after --"
}

case_run_unknown_option() {
  capture "$SD" run --levle info -- touch "$T/started"
  expect_usage_error "unknown option '--levle' \(did you mean --level\?\)" "misspelt option"
  capture "$SD" run --level
  expect_usage_error "option --level needs a value" "option without its value"
  [ ! -e "$T/started" ] || fail "CMD ran despite a bad option"
}

case_run_bad_values_stop_before_cmd() {
  while IFS='|' read -r opt value pattern; do
    capture "$SD" run "$opt" "$value" -- touch "$T/started"
    expect_usage_error "$pattern" "run $opt '$value'"
    [ ! -e "$T/started" ] || fail "CMD ran despite $opt '$value'"
  done <<'EOF'
--level|loud|--level.*'loud' is not a level; accepted: off, error, info, debug, trace
--format|xml|--format.*'xml'.*accepted: text, json
--sigpipe|drop|--sigpipe.*'drop'.*accepted: ignore, keep
--seccomp|off|--seccomp.*'off'.*accepted: standdown, keep
--retry|eintr,eagian|--retry.*'eagian'.*did you mean eagain
--retry-timeout-ms|soon|--retry-timeout-ms.*'soon' is not a whole number
--retry-max|-1|--retry-max.*'-1' is not a whole number
--seed|x7|--seed.*'x7' is not a whole number
--config|/nonexistent/sockdiag.conf|cannot read '/nonexistent/sockdiag.conf'
--inject|connect:error=ECONNREFUSD|--inject 'connect:error=ECONNREFUSD', column [0-9]+: .*did you mean ECONNREFUSED
--inject|accept:error=ECONNREFUSED|--inject 'accept:error=ECONNREFUSED', column [0-9]+: accept cannot fail with ECONNREFUSED
--log||--log.*empty
EOF
}

case_run_bad_environment_stops_before_cmd() {
  SOCKDIAG_LEVL=info capture "$SD" run -- touch "$T/started"
  expect_usage_error "unknown variable 'SOCKDIAG_LEVL'.*did you mean SOCKDIAG_LEVEL" "misspelt variable"
  SOCKDIAG_FORMAT=yaml capture "$SD" run -- touch "$T/started"
  expect_usage_error "SOCKDIAG_FORMAT.*'yaml'" "bad value in the environment"
  [ ! -e "$T/started" ] || fail "CMD ran despite bad settings in the environment"
}

case_run_log_destination_checked_before_cmd() {
  # The checks the library makes before main, made before CMD starts.
  mkdir "$T/dir" && mkfifo "$T/summary.fifo" || fail "mkdir, mkfifo in $T"
  capture "$SD" run --log /nonexistent/x.log -- touch "$T/started"
  expect_usage_error "^sockdiag run: --log: '/nonexistent/x.log': the directory '/nonexistent' does not exist; accepted: stderr" \
    "--log in a missing directory"
  capture "$SD" run --log "$T/dir" -- touch "$T/started"
  expect_usage_error "--log: '$T/dir': is a directory; accepted:" "--log naming a directory"
  SOCKDIAG_LOG="$T/dir" capture "$SD" run -- touch "$T/started"
  expect_usage_error "SOCKDIAG_LOG: '$T/dir': is a directory" "SOCKDIAG_LOG naming a directory"
  SOCKDIAG_SUMMARY="$T/summary.fifo" capture "$SD" run -- touch "$T/started"
  expect_usage_error "SOCKDIAG_SUMMARY: '$T/summary.fifo': is a FIFO" "SOCKDIAG_SUMMARY naming a FIFO"
  [ ! -e "$T/started" ] || fail "CMD ran despite a destination it could not use"
  # The same CMD with a log it can use runs, and the new log is private.
  capture "$SD" run --log "$T/x.log" -- touch "$T/started"
  expect_status 0 "run with a usable --log"
  [ -e "$T/started" ] || fail "CMD did not run with a usable --log"
  [ "$(stat -c %a "$T/x.log")" = 600 ] || fail "the new log's mode is $(stat -c %a "$T/x.log"), expected 600"
}

case_run_option_overrides_environment() {
  SOCKDIAG_LEVEL=off capture "$SD" run -- "$SD_CLI_PROG" refuse
  [ "$(records "$ERR")" = 0 ] || fail "SOCKDIAG_LEVEL=off from the environment is not applied $(show)"
  SOCKDIAG_LEVEL=off capture "$SD" run --level error -- "$SD_CLI_PROG" refuse
  [ "$(records "$ERR")" = 1 ] || fail "--level error does not override SOCKDIAG_LEVEL=off $(show)"
}

case_run_log() {
  capture "$SD" run --log "$T/records.log" -- "$SD_CLI_PROG" refuse
  expect_status 0 "run --log"
  [ "$(records "$ERR")" = 0 ] || fail "--log: a record still went to stderr $(show)"
  [ "$(records "$T/records.log")" = 1 ] || fail "--log: the file does not hold the record"
  mkdir "$T/elsewhere"
  capture "$SD" run -o relative.log -- sh -c "cd '$T/elsewhere' && exec '$SD_CLI_PROG' refuse"
  [ "$(records "$T/relative.log")" = 1 ] || fail "a relative --log must name a file in sockdiag's cwd $(show)"
  [ ! -e "$T/elsewhere/relative.log" ] || fail "the relative log followed CMD's cd"
  capture "$SD" run --log "$T/per-%p.log" -- "$SD_CLI_PROG" spawn refuse
  ls "$T"/per-[0-9]*.log >/dev/null 2>&1 || fail "--log with %p: no per-process file"
}

case_run_format_json() {
  capture "$SD" run --format json -- "$SD_CLI_PROG" refuse
  expect_status 0 "run --format json"
  python3 - "$ERR" <<'EOF' || fail "--format json: records are not the documented JSON $(show)"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
assert len(lines) == 1, lines
r = json.loads(lines[0])
for key in ("v", "ts", "pid", "tid", "prog", "level", "call", "fd", "kind", "local", "peer", "host", "ret", "errno",
            "code", "message", "explanation", "advice", "via", "injected", "rule", "retries"):
    assert key in r, key
assert r["call"] == "connect" and r["code"] == "ECONNREFUSED" and r["injected"] is False, r
EOF
}

case_run_level() {
  capture "$SD" run --level off -- "$SD_CLI_PROG" refuse
  [ "$(records "$ERR")" = 0 ] || fail "--level off still writes records $(show)"
  capture "$SD" run --level error -- "$SD_CLI_PROG" refuse
  [ "$(records "$ERR")" = 1 ] || fail "--level error: expected the connect record $(show)"
  capture "$SD" run --level trace -- "$SD_CLI_PROG" refuse
  [ "$(records "$ERR")" -gt 1 ] || fail "--level trace: expected records of the calls that succeeded too $(show)"
}

case_run_summary_of_the_tree() {
  mkdir "$T/tmp"
  TMPDIR="$T/tmp" capture "$SD" run --summary -- "$SD_CLI_PROG" spawn spawn refuse
  expect_status 0 "run --summary"
  expect_in "$ERR" '^sockdiag summary: ' "the summary's heading"
  expect_in "$ERR" '^ +connect +ECONNREFUSED +failure +1 +0 +cli_prog\[[0-9]+\]$' "the summary's count"
  [ "$(grep -c '^sockdiag summary' "$ERR")" = 1 ] || fail "expected ONE summary for the tree $(show)"
  [ -z "$(ls -A "$T/tmp")" ] || fail "the summary's temporary file was left behind: $(ls -A "$T/tmp")"
  TMPDIR="$T/tmp" capture "$SD" run --summary -- sh -c "'$SD_CLI_PROG' refuse; '$SD_CLI_PROG' refuse; true"
  expect_in "$ERR" '^ +connect +ECONNREFUSED +failure +2 +0 +cli_prog\[[0-9]+\], cli_prog\[[0-9]+\]$' \
    "two processes' failures added up"
  TMPDIR="$T/tmp" capture "$SD" run --summary --format json -- "$SD_CLI_PROG" spawn refuse
  python3 - "$ERR" <<'EOF' || fail "--summary --format json $(show)"
import json, sys
tree = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{"counts"') or '"summary":"tree"' in l]
assert len(tree) == 1, tree
t = tree[0]
assert t["summary"] == "tree" and t["failures"] == 1, t
assert t["counts"][0]["call"] == "connect" and t["counts"][0]["code"] == "ECONNREFUSED", t
EOF
  [ -z "$(ls -A "$T/tmp")" ] || fail "the summary's temporary file was left behind"
}

# Failures, events, expected flow and injection notices are counted apart
# (category_check.py says what `cli_prog outcomes 2 3 4` meets, and how
# many of each), in every summary: the library's own at exit (text, JSON),
# the tree's of `run --summary` (text, JSON), `report` of a JSON log.
OUTCOMES_RULES="send:delay=1ms;setsockopt:error=ENOBUFS"
case_summaries_count_categories_apart() {
  mkdir "$T/tmp"
  # Without the library, then with it and the rules: the same output, but
  # for the one call the rules make fail.
  capture "$SD_CLI_PROG" outcomes 2 3 4
  expect_status 0 "outcomes without the library"
  sed 's/^setsockopt: ok$/setsockopt: ENOBUFS/' "$OUT" >"$T/expected.out"
  grep -q '^recv: EAGAIN$' "$T/expected.out" && grep -q '^recv: end of stream$' "$T/expected.out" &&
    grep -q '^connect: EINPROGRESS$' "$T/expected.out" || fail "outcomes: not the outcomes expected $(show)"
  local form
  for form in text json; do
    LD_PRELOAD="$LIB" SOCKDIAG_SUMMARY=1 SOCKDIAG_FORMAT=$form SOCKDIAG_INJECT="$OUTCOMES_RULES" \
      capture "$SD_CLI_PROG" outcomes 2 3 4
    expect_status 0 "outcomes under the library ($form)"
    cmp -s "$OUT" "$T/expected.out" || fail "outcomes: another output under the library $(show)"
    python3 "$HERE/category_check.py" "process-$form" "$ERR" >/dev/null || fail "the process's $form summary $(show)"
  done
  for form in text json; do
    TMPDIR="$T/tmp" capture "$SD" run --summary --format $form --inject "$OUTCOMES_RULES" -- \
      "$SD_CLI_PROG" outcomes 2 3 4
    expect_status 0 "outcomes under run --summary ($form)"
    cmp -s "$OUT" "$T/expected.out" || fail "outcomes: another output under run --summary $(show)"
    python3 "$HERE/category_check.py" "tree-$form" "$ERR" >/dev/null || fail "the tree's $form summary $(show)"
  done
  capture "$SD" run --format json --level debug --log "$T/rec.json" --inject "$OUTCOMES_RULES" -- \
    "$SD_CLI_PROG" outcomes 2 3 4
  expect_status 0 "outcomes logged at level debug"
  for form in text json; do
    capture "$SD" report --format $form "$T/rec.json"
    expect_status 0 "report --format $form"
    python3 "$HERE/category_check.py" "report-$form" "$OUT" >/dev/null || fail "report --format $form $(show)"
  done
}

# Calls that pass through unobserved (here those of a clone(CLONE_VM)
# child, 3 for each of its 10 connects) are said in the tree summary too.
case_run_summary_says_the_calls_not_observed() {
  mkdir "$T/tmp"
  capture "$SD_CLI_VM_CHILDREN" clone 10
  expect_status 0 "vm_children without the library"
  cp "$OUT" "$T/expected.out"
  TMPDIR="$T/tmp" capture "$SD" run --summary -- "$SD_CLI_VM_CHILDREN" clone 10
  expect_status 0 "vm_children under run --summary"
  cmp -s "$OUT" "$T/expected.out" || fail "vm_children: another output under the library $(show)"
  expect_in "$ERR" "^  \(30 calls not observed: 0 of signal handlers nested 3 deep, 30 of children sharing the process's memory \(vfork, clone\)\)$" \
    "the calls not observed"
  TMPDIR="$T/tmp" capture "$SD" run --summary --format json -- "$SD_CLI_VM_CHILDREN" clone 10
  python3 - "$ERR" <<'EOF' || fail "--summary --format json $(show)"
import json, sys
t = [json.loads(l) for l in open(sys.argv[1]) if '"summary":"tree"' in l][0]
assert t["unobserved"] == {"nested_handlers": 0, "memory_sharing_children": 30}, t
assert t["failures"] == 10 and t["categories"]["failure"] == {"count": 10, "injected": 0}, t
EOF
}

case_run_summary_when_cmd_is_killed() {
  mkdir "$T/tmp"
  TMPDIR="$T/tmp" capture "$SD" run --summary -- sh -c "'$SD_CLI_PROG' refuse; kill -TERM \$\$"
  expect_status 143 "CMD killed"
  expect_in "$ERR" '^ +connect +ECONNREFUSED +failure +1 ' "the summary still covers the tree"
  [ -z "$(ls -A "$T/tmp")" ] || fail "the summary's temporary file was left behind"
}

# summary_scenario NAME STATUS RECORDS PROCESSES: a process tree of
# summary_scenarios.py, run without the library and then under `sockdiag run
# --summary`: the same status and output, and a tree summary that counts
# exactly the records written, by code and by process. Each of these trees
# ends in a way that skipped or defeated the exit-time write.
summary_scenario() {
  local name=$1 status=$2 records=$3 processes=$4
  mkdir -p "$T/tmp"
  capture env SD_DAEMON_PIDFILE="$T/daemon.pid" python3 "$HERE/summary_scenarios.py" "$name"
  expect_status "$status" "$name without the library"
  if [ -f "$T/daemon.pid" ]; then
    # Without the library nothing waits for the daemon: wait for it here.
    local pid n=0
    pid=$(cat "$T/daemon.pid")
    while kill -0 "$pid" 2>/dev/null && [ $n -lt 1000 ]; do sleep 0.01; n=$((n + 1)); done
    ! kill -0 "$pid" 2>/dev/null || fail "$name: the daemon did not end"
  fi
  cp "$OUT" "$T/plain.out"
  TMPDIR="$T/tmp" capture "$SD" run --summary --format json -- python3 "$HERE/summary_scenarios.py" "$name"
  expect_status "$status" "$name under sockdiag run --summary"
  cmp -s "$OUT" "$T/plain.out" || fail "$name: the output differs with the library $(show)"
  python3 "$HERE/summary_check.py" "$ERR" "$records" "$processes" >/dev/null || fail "$name: $(show)"
  [ -z "$(ls -A "$T/tmp")" ] || fail "$name: the summary's temporary file was left behind"
}

case_run_summary_survives_sigterm() { summary_scenario sigterm 143 3 2; }
case_run_summary_survives_reraised_sigint() { summary_scenario sigint 130 2 1; }
case_run_summary_survives_exit_in_a_handler() { summary_scenario exit_in_handler 3 2 1; }
case_run_summary_survives_a_daemon() { summary_scenario daemon 0 3 2; }
case_run_summary_counts_a_forked_child_apart() { summary_scenario fork 0 4 2; }
case_run_summary_counts_threads_failing_at_once() { summary_scenario threads 0 200 1; }

case_run_summary_survives_a_privilege_drop() {
  [ "$(id -u)" = 0 ] || { echo "SKIP: needs root (setuid to nobody)"; exit 77; }
  chmod 0755 "$T"  # nobody's process runs here
  summary_scenario setuid 0 3 2
}

# The summary file of `run` is its own fallback, not the program's setting:
# a program exec'd after a privilege drop runs, and counts into the table.
case_run_summary_follows_an_exec_after_a_privilege_drop() {
  [ "$(id -u)" = 0 ] || { echo "SKIP: needs root (setuid to nobody)"; exit 77; }
  chmod 0755 "$T"
  summary_scenario exec_as_nobody 0 3 2
}

# A daemon that runs on: `run --summary` waits for it, and a SIGTERM to
# `run` ends the wait with the counts so far.
case_run_summary_interrupted_while_a_daemon_runs() {
  mkdir "$T/tmp"
  TMPDIR="$T/tmp" SD_DAEMON_PIDFILE="$T/daemon.pid" "$SD" run --summary -- \
    python3 "$HERE/summary_scenarios.py" daemon_stays >"$OUT" 2>"$ERR" &
  local run=$!
  timeout 20 sh -c "until grep -q 'waiting for the processes it left running' '$ERR'; do sleep 0.05; done"
  kill -TERM "$run"
  wait "$run"
  RC=$?
  [ -f "$T/daemon.pid" ] && kill -KILL "$(cat "$T/daemon.pid")" 2>/dev/null
  expect_status 0 "run interrupted after CMD ended"
  expect_in "$ERR" '^sockdiag run: python3 has ended; waiting for the processes it left running' "the wait is said"
  expect_in "$ERR" '^ +connect +ECONNREFUSED +failure +1 +0 +python3\[[0-9]+\]$' "the daemon's count, read while it runs"
  expect_in "$ERR" '^  \(processes of the tree were still running: their counts so far\)$' "the summary says so"
  [ -z "$(ls -A "$T/tmp")" ] || fail "the summary's temporary file was left behind"
}

# A program that closes its inherited fds before executing another: that
# one cannot map the table, counts apart, and the summary says so.
case_run_summary_says_who_counted_apart() {
  mkdir "$T/tmp"
  TMPDIR="$T/tmp" capture "$SD" run --summary -- python3 -c "
import os, sys
os.closerange(3, 65536)
os.execvp('$SD_CLI_PROG', ['cli_prog', 'refuse'])"
  expect_status 0 "a program run with its fds closed"
  expect_in "$ERR" '^ +connect +ECONNREFUSED +failure +1 +0 +cli_prog\[[0-9]+\]$' "its count, written at exit"
  expect_in "$ERR" "^  \(1 process counted apart, written at exit only .*the counter table's fd was closed before the program was executed: cli_prog\[[0-9]+\]\)$" \
    "the note on the process that counted apart"
}

# Bad values of the setting `sockdiag run --summary` passes.
case_counters_setting_refused() {
  capture env SOCKDIAG_SUMMARY=/tmp/x SOCKDIAG_COUNTERS=7 LD_PRELOAD="$LIB" "$SD_CLI_PROG" exit 0
  expect_status 78 "SOCKDIAG_COUNTERS=7"
  expect_in "$ERR" "^sockdiag: SOCKDIAG_COUNTERS: '7' is not an inherited fd; accepted: fd:N" "the error"
  capture env SOCKDIAG_COUNTERS=fd:3 LD_PRELOAD="$LIB" "$SD_CLI_PROG" exit 0
  expect_status 78 "SOCKDIAG_COUNTERS without SOCKDIAG_SUMMARY"
  expect_in "$ERR" "^sockdiag: SOCKDIAG_COUNTERS needs SOCKDIAG_SUMMARY set to a file path" "the error"
}

# A counter table of another layout (here: version 1, as made by an older
# `sockdiag run`) is refused by the library, which counts on its own and
# says why: the version check of counter_table.h.
case_counters_table_of_another_version() {
  capture "$SD" run --summary -- python3 -c "import os; print(os.fstat(int(os.environ['SOCKDIAG_COUNTERS'][3:])).st_size)"
  expect_status 0 "the size of this version's table"
  local size
  size=$(head -1 "$OUT")
  python3 - "$size" "$LIB" "$SD_CLI_PROG" "$T/summary.json" <<'EOF' || fail "a table of version 1"
import fcntl, json, os, struct, subprocess, sys
size, lib, prog, summary = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
fd = os.memfd_create("old-table", os.MFD_ALLOW_SEALING)
os.ftruncate(fd, size)
# magic, version, size, slot_count: the header of counter_table.h, version 1.
os.pwrite(fd, struct.pack("<IIQI", 0x54434453, 1, size, 4096), 0)
fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
env = dict(os.environ, LD_PRELOAD=lib, SOCKDIAG_COUNTERS=f"fd:{fd}", SOCKDIAG_SUMMARY=summary)
r = subprocess.run([prog, "refuse"], env=env, pass_fds=[fd], capture_output=True, timeout=20)
assert r.returncode == 0 and r.stdout == b"failed: ECONNREFUSED\n", r
lines = [json.loads(l) for l in open(summary)]
private = [l for l in lines if l.get("summary") == "private"]
assert [p["reason"] for p in private] == ["the counter table is of another sockdiag version"], lines
counts = [(l["call"], l["code"], l["category"], l["count"]) for l in lines if l.get("summary") == "count"]
assert counts == [("connect", "ECONNREFUSED", "failure", 1)], lines
# Nothing was counted into the table of the other version.
# (the header's next_slot at 32, the first slot at 64)
assert os.pread(fd, 4, 32) == bytes(4) and not any(os.pread(fd, 4096, 64)), "the table was written to"
EOF
}

case_run_inject() {
  capture "$SD" run -- "$SD_CLI_PROG" connect 127.0.0.3
  [ "$(cat "$OUT")" = connected ] || fail "without a rule the connection must succeed $(show)"
  capture "$SD" run --inject 'connect:error=ECONNREFUSED:peer=127.0.0.3' -- "$SD_CLI_PROG" connect 127.0.0.3
  expect_status 1 "an injected refusal"
  [ "$(cat "$OUT")" = "failed: ECONNREFUSED" ] || fail "--inject: the program did not see the fault $(show)"
  expect_in "$ERR" "injected by 'connect:error=ECONNREFUSED:peer=127.0.0.3'" "the record names the rule"
  capture "$SD" run -i 'connect:error=ENETUNREACH:peer=127.0.0.4' -i 'connect:error=ECONNREFUSED:peer=127.0.0.3' \
    -- "$SD_CLI_PROG" connect 127.0.0.3
  [ "$(cat "$OUT")" = "failed: ECONNREFUSED" ] || fail "the second --inject rule is not applied $(show)"
  capture "$SD" run -i 'connect:error=ENETUNREACH:peer=127.0.0.4' -i 'connect:error=ECONNREFUSED:peer=127.0.0.3' \
    -- "$SD_CLI_PROG" connect 127.0.0.4
  [ "$(cat "$OUT")" = "failed: ENETUNREACH" ] || fail "the first --inject rule is not applied $(show)"
}

case_run_seed() {
  local rule='connect:error=ECONNREFUSED:peer=127.0.0.3:prob=0.5'
  capture "$SD" run --seed 7 -- "$SD_CLI_PROG" env SOCKDIAG_SEED
  [ "$(cat "$OUT")" = 7 ] || fail "--seed is not passed on $(show)"
  capture "$SD" run --seed 7 --level off --inject "$rule" -- "$SD_CLI_PROG" connect-many 127.0.0.3 40
  local first
  first=$(cat "$OUT")
  case "$first" in *c*f* | *f*c*) ;; *) fail "prob=0.5 over 40 calls gave '$first'" ;; esac
  capture "$SD" run --seed 7 --level off --inject "$rule" -- "$SD_CLI_PROG" connect-many 127.0.0.3 40
  [ "$(cat "$OUT")" = "$first" ] || fail "the same --seed gave '$(cat "$OUT")', then '$first'"
  capture "$SD" run --seed 8 --level off --inject "$rule" -- "$SD_CLI_PROG" connect-many 127.0.0.3 40
  [ "$(cat "$OUT")" != "$first" ] || fail "--seed 7 and --seed 8 gave the same 40 outcomes"
}

case_run_config_file() {
  printf '# test settings\nlevel = off\n' >"$T/quiet.conf"
  capture "$SD" run --config "$T/quiet.conf" -- "$SD_CLI_PROG" refuse
  [ "$(records "$ERR")" = 0 ] || fail "--config with level = off $(show)"
  capture "$SD" run --config "$T/quiet.conf" --level error -- "$SD_CLI_PROG" refuse
  [ "$(records "$ERR")" = 1 ] || fail "an option must override the --config file $(show)"
  printf 'inject = connect:error=ECONNREFUSED:peer=127.0.0.3\n' >"$T/faults.conf"
  capture "$SD" run --config faults.conf -- sh -c "cd / && exec '$SD_CLI_PROG' connect 127.0.0.3"
  [ "$(cat "$OUT")" = "failed: ECONNREFUSED" ] || fail "a relative --config must still be found after CMD's cd $(show)"
  printf 'levle = info\n' >"$T/bad.conf"
  capture "$SD" run --config "$T/bad.conf" -- touch "$T/started"
  expect_usage_error "bad.conf:1: unknown setting 'levle'.*did you mean level" "bad --config file"
  [ ! -e "$T/started" ] || fail "CMD ran despite a bad --config file"
}

case_run_retry() {
  capture "$SD" run -- "$SD_CLI_PROG" eintr-recv
  [ "$(cat "$OUT")" = EINTR ] || fail "without --retry the program must see EINTR $(show)"
  capture "$SD" run --retry eintr -- "$SD_CLI_PROG" eintr-recv
  [ "$(cat "$OUT")" = "data after 3 signals" ] || fail "--retry eintr: recv was not resumed $(show)"
  capture "$SD" run --retry eintr --retry-max 1 -- "$SD_CLI_PROG" eintr-recv
  [ "$(cat "$OUT")" = EINTR ] || fail "--retry-max 1: the second EINTR must reach the program $(show)"
  capture "$SD" run -- "$SD_CLI_PROG" eagain-recv 300
  [ "$(cat "$OUT")" = EAGAIN ] || fail "without --retry the program must see EAGAIN $(show)"
  capture "$SD" run --retry eagain -- "$SD_CLI_PROG" eagain-recv 300
  [ "$(cat "$OUT")" = data ] || fail "--retry eagain: the program must get the late answer $(show)"
  # The peer never answers: the default bound (10 s) would outlast this
  # case's own limit; --retry-timeout-ms ends the wait.
  LIMIT=8 capture "$SD" run --retry eagain --retry-timeout-ms 50 -- "$SD_CLI_PROG" eagain-recv 0
  [ "$(cat "$OUT")" = EAGAIN ] || fail "--retry-timeout-ms 50: EAGAIN must reach the program $(show)"
}

case_run_sigpipe() {
  capture "$SD" run -- "$SD_CLI_PROG" epipe
  expect_status 0 "default SIGPIPE handling"
  [ "$(cat "$OUT")" = EPIPE ] || fail "by default the program must see EPIPE $(show)"
  capture "$SD" run --sigpipe keep -- "$SD_CLI_PROG" epipe
  expect_status 141 "--sigpipe keep"
  expect_in "$ERR" 'send .*EPIPE' "the EPIPE record comes before the death"
  expect_in "$ERR" 'killed by signal 13 \(SIGPIPE' "the death is reported"
}

case_run_children_inherit() {
  capture "$SD" run -- "$SD_CLI_PROG" spawn maps /libsockdiag.so
  [ "$(cat "$OUT")" = yes ] || fail "an exec'd child does not have the library $(show)"
  capture "$SD" run --follow-children -- sh -c "'$SD_CLI_PROG' refuse; '$SD_CLI_PROG' refuse; true"
  [ "$(records "$ERR")" = 2 ] || fail "records of both children expected $(show)"
  [ "$(sed -n 's/.* cli_prog\[\([0-9]*\)\/.*/\1/p' "$ERR" | sort -u | wc -l)" = 2 ] || fail "two children's pids expected $(show)"
}

case_run_no_follow_children() {
  capture "$SD" run --no-follow-children -- "$SD_CLI_PROG" maps /libsockdiag.so
  expect_status 0 "--no-follow-children"
  [ "$(cat "$OUT")" = yes ] || fail "--no-follow-children: CMD itself must have the library $(show)"
  capture "$SD" run --no-follow-children -- "$SD_CLI_PROG" spawn maps /libsockdiag.so
  [ "$(cat "$OUT")" = no ] || fail "--no-follow-children: an exec'd child still loads the library $(show)"
  capture "$SD" run --no-follow-children -- "$SD_CLI_PROG" spawn refuse
  [ "$(records "$ERR")" = 0 ] || fail "--no-follow-children: a record from an exec'd child $(show)"
  capture "$SD" run --no-follow-children -- "$SD_CLI_PROG" fork refuse
  [ "$(records "$ERR")" = 0 ] || fail "--no-follow-children: a record from a forked child $(show)"
  capture "$SD" run --no-follow-children -- "$SD_CLI_PROG" refuse
  [ "$(records "$ERR")" = 1 ] || fail "--no-follow-children: CMD's own failure must be recorded $(show)"
}

case_run_keeps_users_ld_preload() {
  LD_PRELOAD="$SD_CLI_OTHER_PRELOAD" capture "$SD" run -- "$SD_CLI_PROG" env LD_PRELOAD
  [ "$(cat "$OUT")" = "$LIB:$SD_CLI_OTHER_PRELOAD" ] || fail "LD_PRELOAD must be ours, then the user's $(show)"
  LD_PRELOAD="$SD_CLI_OTHER_PRELOAD" capture "$SD" run -- "$SD_CLI_PROG" spawn maps cli_other_preload
  [ "$(cat "$OUT")" = yes ] || fail "the user's preload library is not loaded in a child $(show)"
  LD_PRELOAD="$LIB $SD_CLI_OTHER_PRELOAD" capture "$SD" run -- "$SD_CLI_PROG" env LD_PRELOAD
  [ "$(cat "$OUT")" = "$LIB:$SD_CLI_OTHER_PRELOAD" ] || fail "our library must appear once $(show)"
}

# ---------------------------------------------------------------- explain --

case_explain_by_name_and_number() {
  capture "$SD" explain ECONNRESET
  expect_status 0 "explain ECONNRESET"
  expect_in "$OUT" '^ECONNRESET \(errno 104\): Connection reset by peer$' "heading"
  expect_in "$OUT" 'Try: ' "advice"
  cp "$OUT" "$T/by-name"
  capture "$SD" explain 104
  cmp -s "$OUT" "$T/by-name" || fail "explain 104 differs from explain ECONNRESET"
  capture "$SD" explain econnreset
  cmp -s "$OUT" "$T/by-name" || fail "names are case-insensitive"
  capture "$SD" explain EAI_AGAIN
  expect_status 0 "explain EAI_AGAIN"
  expect_in "$OUT" '^EAI_AGAIN \(getaddrinfo -3\): Temporary failure in name resolution$' "getaddrinfo heading"
  cp "$OUT" "$T/gai"
  capture "$SD" explain -- -3
  cmp -s "$OUT" "$T/gai" || fail "explain -- -3 differs from explain EAI_AGAIN"
  capture "$SD" explain EOF
  expect_in "$OUT" '^EOF: ' "an event"
}

case_explain_call() {
  capture "$SD" explain ECONNREFUSED --call connect
  expect_status 0 "explain --call connect"
  expect_in "$OUT" '^connect' "rows for connect"
  expect_not_in "$OUT" '^(recv|send|accept)' "rows of other calls"
  capture "$SD" explain ECONNREFUSED --call recvfrom
  expect_status 0 "a libc name for --call"
  capture "$SD" explain ECONNREFUSED --call frobnicate
  expect_usage_error "'frobnicate' is not a call; accepted: " "unknown call"
}

case_explain_list() {
  capture "$SD" explain --list
  expect_status 0 "explain --list"
  for n in ECONNREFUSED ECONNRESET EPIPE ETIMEDOUT EAI_AGAIN EAI_NONAME EOF; do
    expect_in "$OUT" "^$n " "--list has $n"
  done
  capture "$SD" explain --list --format json
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert any(c["name"]=="EPIPE" and c["number"]==32 for c in d)' "$OUT" ||
    fail "explain --list --format json $(show)"
}

case_explain_bad_input() {
  capture "$SD" explain ECONNREFUSD
  expect_usage_error "'ECONNREFUSD' is not an errno.*did you mean ECONNREFUSED" "misspelt code"
  capture "$SD" explain 99999
  expect_usage_error "'99999' is not an errno" "number out of range"
  capture "$SD" explain
  expect_usage_error "missing CODE" "no code"
  capture "$SD" explain EPIPE --list
  expect_usage_error "either CODE or --list" "both"
  capture "$SD" explain EPIPE --format yaml
  expect_usage_error "'yaml' is not a format" "bad format"
}

case_explain_code_without_explanation() {
  capture "$SD" explain EDOM
  expect_status 1 "a real errno the table does not explain"
  expect_in "$OUT" '^EDOM \(errno 33\)' "its name and number are still given"
}

# ----------------------------------------------------------------- report --

make_json_logs() {
  mkdir -p "$T/logs"
  "$SD" run --format json --log "$T/logs/rec.%p.json" \
    --inject 'connect:error=ECONNREFUSED:peer=127.0.0.3' -- \
    sh -c "'$SD_CLI_PROG' refuse; '$SD_CLI_PROG' refuse; '$SD_CLI_PROG' connect 127.0.0.3; true" >/dev/null 2>&1
  ls "$T"/logs/rec.*.json >/dev/null 2>&1 || fail "no JSON logs were written"
}

case_report() {
  make_json_logs
  capture "$SD" report "$T"/logs/rec.*.json
  expect_status 0 "report"
  expect_in "$OUT" '^3 records from 3 processes, .*: 3 failures \(1 injected\); 1 injected, listed apart$' "heading"
  expect_in "$OUT" '^Failures by peer:$' "by peer"
  expect_in "$OUT" '^By call and code:$' "by call"
  expect_in "$OUT" '^ +connect +ECONNREFUSED +failure +2 ' "the two real refusals"
  expect_in "$OUT" '^Failures by process:$' "by process"
  expect_in "$OUT" '^Injected by sockdiag rules:$' "injected apart"
  expect_in "$OUT" 'connect:error=ECONNREFUSED:peer=127\.0\.0\.3$' "the rule"
  capture "$SD" report --format json "$T"/logs/rec.*.json
  python3 - "$OUT" <<'EOF' || fail "report --format json $(show)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["records"] == 3 and r["injected"] == 1 and r["processes"] == 3, r
assert r["by_call"][0]["call"] == "connect" and r["by_call"][0]["count"] == 2, r["by_call"]
assert r["injected_by_rule"][0]["count"] == 1, r["injected_by_rule"]
assert len(r["by_process"]) == 2 and r["unreadable_lines"] == 0, r
EOF
  cat "$T"/logs/rec.*.json | capture "$SD" report --format json -
  python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["records"] == 3' "$OUT" || fail "report - (stdin)"
}

case_report_tolerates_bad_lines() {
  make_json_logs
  cat "$T"/logs/rec.*.json >"$T/all.json"
  printf '{"summary":"count","pid":1,"call":"connect","code":"ECONNREFUSED","count":3}\nnot json at all\n' >>"$T/all.json"
  printf '{"ts":"2026-01-01T00:00:00.000000Z","pid":5,"call":"recv","code":"ECONNR' >>"$T/all.json"
  capture "$SD" report "$T/all.json"
  expect_status 0 "report with bad lines"
  expect_in "$OUT" '^3 records' "the readable records are counted"
  expect_in "$OUT" 'Skipped: 1 exit-summary line' "summary lines are counted apart"
  expect_in "$ERR" "2 lines could not be read as JSON records \(.*all\.json:[0-9]+, .*all\.json:[0-9]+ \(cut short\)\)" \
    "unreadable lines are counted and located"
}

case_report_escapes_what_programs_gave() {
  # A log holds what programs gave (argv[0], unix paths): decoded from JSON,
  # a newline or a terminal escape must not reach the terminal as it is.
  printf '%s\n' '{"ts":"2026-01-01T00:00:00.000000Z","pid":7,"prog":"evil\u001b[2J\nname","level":"error","call":"connect","fd":3,"peer":"/tmp/s\u001b]0;t\u0007","code":"ECONNREFUSED","injected":false,"rule":""}' >"$T/hostile.json"
  capture "$SD" report "$T/hostile.json"
  expect_status 0 "report of hostile values"
  expect_in "$OUT" '^1 record from 1 process.*: 1 failure \(0 injected\)' "the record is counted"
  if LC_ALL=C grep -q "$(printf '\033')" "$OUT"; then fail "an escape character reached the output $(show)"; fi
  expect_in "$OUT" 'evil\\x1b\[2J\\nname' "the program name, escaped"
  expect_in "$OUT" '/tmp/s\\x1b\]0;t\\x07' "the peer, escaped"
}

# A retry's notice (level info) is no outcome of the program: the summary
# counts it as a retry, and so does report, apart from the categories.
case_report_counts_retry_notices_apart() {
  capture "$SD" run --retry eagain --level info --format json --log "$T/retry.json" -- "$SD_CLI_PROG" eagain-recv 300
  expect_status 0 "a retried EAGAIN"
  [ "$(cat "$OUT")" = data ] || fail "the retried recv did not get the data $(show)"
  capture "$SD" report --format json "$T/retry.json"
  python3 - "$OUT" <<'EOF' || fail "report of a retry notice $(show)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["retry_notices"] == 1 and r["records"] == 0 and r["by_call"] == [], r
assert all(c == {"count": 0, "injected": 0} for c in r["categories"].values()), r
EOF
}

case_report_bad_input() {
  capture "$SD" report
  expect_usage_error "missing FILE" "no file"
  capture "$SD" report "$T/none.json"
  expect_usage_error "cannot read '$T/none.json': No such file or directory" "missing file"
  capture "$SD" report "$T"
  expect_usage_error "it is a directory" "a directory"
  capture "$SD" report --format xml "$T"
  expect_usage_error "'xml' is not a format" "bad format"
  "$SD" run -o "$T/text.log" -- "$SD_CLI_PROG" refuse >/dev/null 2>&1
  capture "$SD" report "$T/text.log"
  expect_status 0 "a text-format log"
  expect_in "$ERR" "1 line of a text-format log skipped; record with --format json" "hint about text logs"
}

# ------------------------------------------------------------------ check --

case_check_prints_normal_form() {
  capture "$SD" check
  expect_status 0 "check"
  for l in 'log = stderr' 'format = text' 'level = error' 'summary = no' 'sigpipe = ignore' 'seccomp = standdown'; do
    expect_in "$OUT" "^$l$" "defaults: $l"
  done
  capture "$SD" check --level INFO --retry 'eintr, eagain@recv' --seed 42 \
    -i ' connect : error = ECONNREFUSED : port = 5432 ' -i 'recv:delay=200ms:prob=25%'
  expect_status 0 "check with settings"
  expect_in "$OUT" '^level = info$' "level in normal form"
  expect_in "$OUT" '^retry = eintr@[a-z+]+,eagain@recv$' "retry in normal form"
  expect_in "$OUT" '^seed = 42$' "seed"
  expect_in "$OUT" '^inject = connect:error=ECONNREFUSED:port=5432$' "first rule in normal form"
  expect_in "$OUT" '^inject = recv:delay=200ms:prob=0\.25$' "second rule in normal form"
  # The output is a settings file that checks to itself.
  cp "$OUT" "$T/normal.conf"
  capture "$SD" check --config "$T/normal.conf"
  expect_status 0 "check --config of check's own output"
  cmp -s "$OUT" "$T/normal.conf" || fail "check's output does not read back to itself $(diff "$T/normal.conf" "$OUT")"
}

case_check_reads_environment() {
  SOCKDIAG_LEVEL=debug SOCKDIAG_INJECT='connect:error=ETIMEDOUT' capture "$SD" check
  expect_status 0 "check with the environment"
  expect_in "$OUT" '^level = debug$' "SOCKDIAG_LEVEL"
  expect_in "$OUT" '^inject = connect:error=ETIMEDOUT$' "SOCKDIAG_INJECT"
}

case_check_bad_input() {
  capture "$SD" check --inject 'connect:error=ECONNREFUSD:port=5432'
  expect_usage_error "--inject 'connect:error=ECONNREFUSD:port=5432', column 15: .*did you mean ECONNREFUSED" "bad rule"
  capture "$SD" check --inject 'conect:error=ECONNREFUSED'
  expect_usage_error "column 1: .*did you mean connect" "unknown call in a rule"
  capture "$SD" check --level loud
  expect_usage_error "--level.*'loud'" "bad level"
  printf 'inject = send:short=0\n' >"$T/bad.conf"
  capture "$SD" check --config "$T/bad.conf"
  expect_usage_error "bad.conf" "bad rule in a config file"
  capture "$SD" check extra
  expect_usage_error "unexpected argument 'extra'" "stray argument"
}

case_check_engine_strace() {
  # Each rule: exact, approximate or not mappable, why, and its -e inject.
  capture "$SD" check --engine strace -i 'connect:error=ECONNREFUSED:nth=2..:every=3:times=2' \
    -i 'accept4:delay=200ms' -i 'recvmsg:error=ECONNRESET'
  expect_status 0 "check --engine strace, every rule mappable"
  [ ! -s "$ERR" ] || fail "nothing on stderr when every rule maps $(show)"
  expect_in "$OUT" '^inject = accept4:delay=200ms$' "the settings are still printed"
  expect_in "$OUT" '^# exact: connect:error=ECONNREFUSED:nth=2\.\.:every=3:times=2$' "exact rule"
  expect_in "$OUT" '^#   -e inject=connect:error=ECONNREFUSED:when=3\.\.6\+3$' "when= of nth, every and times"
  expect_in "$OUT" '^#   -e inject=accept4:delay_enter=200ms$' "delay"
  expect_in "$OUT" '^# approximate: recvmsg:error=ECONNRESET$' "approximate rule"
  expect_in "$OUT" '^#   the connection stays up: no RST reaches the peer' "why approximate"
  expect_in "$OUT" "^# note: strace counts each thread's calls apart" "counts are per thread"
  # The comments keep the output a settings file.
  cp "$OUT" "$T/strace.conf"
  capture "$SD" check --config "$T/strace.conf"
  expect_status 0 "check --config of the strace check's output"
  # Counts are per thread in a multi-threaded program (Go).
  capture "$SD" check --engine strace --multithreaded -i 'connect:error=ECONNREFUSED:nth=2'
  expect_status 0 "check --engine strace --multithreaded"
  expect_in "$OUT" '^# approximate: connect:error=ECONNREFUSED:nth=2$' "counts in a multi-threaded program"
  expect_in "$OUT" "^#   strace counts each thread's calls apart" "why"
  expect_not_in "$OUT" '^# note:' "no note where the rule says it"
  # A rule strace cannot carry: status 2, one line per such rule.
  capture "$SD" check --engine strace -i 'recv:short=1' -i 'connect:error=ECONNREFUSED:port=5432' \
    -i 'poll:error=EINTR' -i 'ppoll:error=EINTR'
  expect_status 2 "check --engine strace with unmappable rules"
  [ "$(wc -l <"$ERR")" = 3 ] || fail "one line per unmappable rule $(show)"
  expect_in "$ERR" "^sockdiag check: rule 'recv:short=1' cannot run under strace: strace cannot cut a transfer short" "short"
  expect_in "$ERR" "rule 'connect:error=ECONNREFUSED:port=5432' cannot run under strace: .*whatever its socket" "port"
  expect_in "$ERR" "rule 'ppoll:error=EINTR' cannot run under strace: the rule 'poll:error=EINTR' already injects into ppoll" \
    "two rules on one system call"
  expect_in "$OUT" '^# not mappable: recv:short=1$' "not mappable on stdout too"
  capture "$SD" check --engine strac
  expect_usage_error "--engine 'strac' is not an engine; accepted: preload, strace" "bad engine"
  capture "$SD" check --multithreaded
  expect_usage_error "--multithreaded goes with --engine strace" "--multithreaded alone"
}

# sockdiag run --engine strace makes a rule's fault through strace, and its
# records and summary name the rule as the library's do.
case_engine_strace_injects_rules() {
  command -v strace >/dev/null || { echo "no strace here"; exit 77; }
  capture "$SD" run --engine strace --summary --format json --log "$T/rec.json" \
    -i 'connect:error=ENETUNREACH:nth=2' -- "$SD_CLI_PROG" connect-many 127.0.0.1 3
  expect_status 0 "a mappable rule under strace"
  grep -q '^cfc' "$OUT" || fail "the second connect only should fail $(show)"
  grep -q "nth, every and times are exact only while the program runs one thread" "$ERR" ||
    fail "the per-thread counting should be said $(show)"
  python3 - "$T/rec.json" "$ERR" <<'PY' || fail "records or summary $(show; cat "$T/rec.json")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
injected = [r for r in recs if r["injected"]]
assert len(injected) == 1, recs
r = injected[0]
assert r["call"] == "connect" and r["code"] == "ENETUNREACH" and r["rule"] == "connect:error=ENETUNREACH:nth=2", r
assert r["peer"].startswith("127.0.0.1:") and r["kind"] == "tcp4", r
summary = [j for j in (json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")) if j.get("summary") == "tree"]
assert summary and summary[0]["rules"] == [{"rule": "connect:error=ENETUNREACH:nth=2", "injected": 1}], summary
PY
}

case_check_engine_strace_injections_work() {
  # The -e inject values check prints do what the rules say, under strace itself.
  command -v strace >/dev/null || { echo "no strace here"; exit 77; }
  inject_of() {  # RULE: the -e inject value check prints for it
    capture "$SD" check --engine strace -i "$1"
    expect_status 0 "check --engine strace -i '$1'"
    sed -n 's/^#   -e inject=//p' "$OUT"
  }
  under_strace() {  # INJECT CMD...: CMD under strace, tracing the injected system calls
    local inject=$1
    shift
    capture strace -f -q -o /dev/null -e trace="${inject%%:*}" -e inject="$inject" "$@"
  }
  local inj
  inj=$(inject_of 'connect:error=ECONNREFUSED:nth=2') || exit 1
  under_strace "$inj" "$SD_CLI_PROG" connect-many 127.0.0.1 4
  expect_status 0 "cli_prog connect-many under strace -e inject=$inj"
  [ "$(cat "$OUT")" = cfcc ] || fail "nth=2: the second connect only should fail $(show)"
  inj=$(inject_of 'connect:error=ECONNREFUSED:every=2:times=2') || exit 1
  under_strace "$inj" "$SD_CLI_PROG" connect-many 127.0.0.1 6
  [ "$(cat "$OUT")" = cfcfcc ] || fail "every=2:times=2: connects 2 and 4 should fail $(show)"
  inj=$(inject_of 'connect:timeout=5ms') || exit 1
  under_strace "$inj" "$SD_CLI_PROG" connect 127.0.0.1
  [ "$(cat "$OUT")" = "failed: ETIMEDOUT" ] || fail "timeout: the connect should wait, then fail $(show)"
}

# ----------------------------------------------------------------- engine --

case_engine_bad_value() {
  capture "$SD" run --engine bogus -- touch "$T/started"
  expect_usage_error "--engine 'bogus' is not an engine; accepted: auto, preload, strace" "a bad --engine"
  [ ! -e "$T/started" ] || fail "CMD ran despite a bad --engine"
}

# auto: strace for a static or Go program (or a script run by one), said in
# one line; the library for a dynamic one, silently.
case_engine_auto_choice() {
  capture "$SD" run -- "$SD_CLI_STATIC" exit 3
  expect_status 3 "auto on a static program"
  one_line_error '^sockdiag: .*cli_static is statically linked: observed through strace \(--engine strace' "static"
  capture "$SD" run -- "$SD_CLI_FAKE_GO"
  expect_status 0 "auto on a Go program"
  one_line_error '^sockdiag: .*cli_fake_go is a Go program: observed through strace' "Go"
  ln -s "$SD_CLI_STATIC" "$T/static-interp"
  printf '#!/usr/bin/env -S static-interp exit\n' >"$T/env.sh"
  chmod +x "$T/env.sh"
  PATH="$T:$PATH" capture "$SD" run -- "$T/env.sh"
  expect_status 0 "auto on a script whose interpreter (through env) is static"
  one_line_error "env.sh is run by $T/static-interp, which is statically linked: observed through strace" "script"
  capture "$SD" run -- "$SD_CLI_PROG" maps /libsockdiag.so
  [ "$(cat "$OUT")" = yes ] || fail "auto on a dynamic program: the library is not loaded $(show)"
  [ ! -s "$ERR" ] || fail "auto on a dynamic program said something $(show)"
  capture "$SD" run -- grep TracerPid /proc/self/status
  expect_in "$OUT" '^TracerPid:[[:space:]]+0$' "auto on a dynamic program does not trace it"
  capture "$SD" run --engine strace -- grep TracerPid /proc/self/status
  expect_in "$OUT" '^TracerPid:[[:space:]]+[1-9]' "--engine strace traces a dynamic program"
  [ ! -s "$ERR" ] || fail "--engine strace on a dynamic program said something $(show)"
}

# Without strace in PATH: status 2 before CMD starts, one line saying why.
case_engine_strace_missing() {
  mkdir "$T/bin" && ln -s "$(command -v touch)" "$T/bin/touch" && ln -s "$SD_CLI_STATIC" "$T/bin/cli_static" ||
    fail "make $T/bin"
  capture env PATH="$T/bin" "$SD" run --engine strace -- touch "$T/started"
  expect_usage_error 'the strace engine needs strace, and there is none in PATH: install it' "no strace"
  [ ! -e "$T/started" ] || fail "CMD ran without strace"
  capture env PATH="$T/bin" "$SD" run -- cli_static exit 0
  expect_usage_error 'needs strace, and there is none in PATH' "auto, static program, no strace"
}

# Tracing refused by the kernel (here a seccomp filter, as a container's
# profile may have): status 2 before CMD starts, one line saying why.
case_engine_strace_ptrace_refused() {
  capture "$SD_CLI_NO_PTRACE" "$SD" run --engine strace -- touch "$T/started"
  expect_usage_error 'the strace engine cannot work here: the kernel refuses tracing \(ptrace: Operation not permitted' \
    "ptrace refused"
  [ ! -e "$T/started" ] || fail "CMD ran although tracing is refused"
  capture "$SD_CLI_NO_PTRACE" "$SD" run -- "$SD_CLI_STATIC" exit 0
  expect_usage_error 'the kernel refuses tracing' "auto on a static program, ptrace refused"
  capture "$SD_CLI_NO_PTRACE" "$SD" run --engine preload -- "$SD_CLI_PROG" exit 0
  expect_status 0 "the preload engine needs no ptrace"
}

# What the strace engine cannot do is refused before CMD starts.
case_engine_strace_refused_settings() {
  capture "$SD" run --engine strace --retry eintr -- touch "$T/started"
  expect_usage_error 'the strace engine cannot retry calls' "--retry"
  SOCKDIAG_RETRY=eagain capture "$SD" run --engine strace -- touch "$T/started"
  expect_usage_error 'the strace engine cannot retry calls' "SOCKDIAG_RETRY"
  capture "$SD" run --retry eintr -- "$SD_CLI_STATIC" exit 0
  expect_usage_error 'the strace engine cannot retry calls' "--retry, auto on a static program"
  capture "$SD" run --engine strace --sigpipe ignore -- touch "$T/started"
  expect_usage_error 'the strace engine cannot make the program ignore SIGPIPE' "--sigpipe ignore"
  SOCKDIAG_SIGPIPE=ignore capture "$SD" run --engine strace -- touch "$T/started"
  expect_usage_error 'cannot make the program ignore SIGPIPE' "SOCKDIAG_SIGPIPE=ignore"
  printf 'sigpipe = ignore  # explicit\n' >"$T/s.conf"
  capture "$SD" run --engine strace --config "$T/s.conf" -- touch "$T/started"
  expect_usage_error 'cannot make the program ignore SIGPIPE' "sigpipe = ignore in a settings file"
  capture "$SD" run --engine strace --inject 'connect:error=ECONNREFUSED:port=5432' -i 'recv:short=1' -- touch "$T/started"
  expect_status 2 "rules strace cannot make"
  grep -q "^sockdiag run: rule 'connect:error=ECONNREFUSED:port=5432' cannot run under strace: .*port" "$ERR" &&
    grep -q "^sockdiag run: rule 'recv:short=1' cannot run under strace: " "$ERR" ||
    fail "each refused rule should have its line, with the reason $(show)"
  [ ! -e "$T/started" ] || fail "CMD ran despite a refused setting"
  capture "$SD" run --engine strace --sigpipe keep -- "$SD_CLI_PROG" epipe
  expect_status 141 "--sigpipe keep: SIGPIPE keeps its default"
  capture "$SD" run --engine strace -- "$SD_CLI_PROG" epipe
  expect_status 141 "no setting: SIGPIPE keeps its default"
}

# A caller's closed stdin, stdout or stderr: the run's own descriptors (the
# FIFO, the reader's pipes) must not take their numbers, or the reader would
# lose strace's output and strace would wait for it for ever.
case_engine_strace_closed_stdio() {
  local how
  for how in '<&-' '>&-' '2>&-' '<&- >&- 2>&-'; do
    eval "timeout -k 5 \"\$LIMIT\" \"\$SD\" run --engine strace -- \"\$SD_CLI_STATIC\" exit 3 $how"
    RC=$?
    expect_status 3 "stdio closed ($how) under strace"
  done
  # The program sees them closed, as alone.
  local fds='ls /proc/self/fd | sort -n | tr "\n" " "'
  local alone traced
  alone=$(sh -c "$fds" <&- 2>/dev/null)
  traced=$("$SD" run --engine strace --level off -- sh -c "$fds" <&- 2>/dev/null)
  [ "$alone" = "$traced" ] || fail "with stdin closed, fds alone '$alone', under strace '$traced'"
}

# Under strace, CMD has the descriptors, exit status and death it has alone.
case_engine_strace_keeps_fds_and_status() {
  # Same stdout and stderr files for both; pipe numbers and pids set aside.
  local fds='ls -l /proc/self/fd | sed -n "s/.* \([0-9]* -> \)/\1/p" | sed "s/\[[0-9]*\]//; s#/proc/[0-9]*/#/proc/PID/#"'
  sh -c "$fds" >"$T/fds" 2>&1 </dev/null && mv "$T/fds" "$T/plain"
  # --level off: ls's own failures (nscd's socket) would be records in the file.
  "$SD" run --engine strace --level off -- sh -c "$fds" >"$T/fds" 2>&1 </dev/null && mv "$T/fds" "$T/traced"
  [ -s "$T/plain" ] && cmp -s "$T/plain" "$T/traced" || fail "fds differ under strace: $(diff "$T/plain" "$T/traced")"
  for n in 0 1 3 255; do
    capture "$SD" run --engine strace -- "$SD_CLI_PROG" exit "$n"
    expect_status "$n" "exit status $n under strace"
    [ ! -s "$ERR" ] || fail "exit $n under strace: something on stderr $(show)"
  done
  capture "$SD" run --engine strace -- "$SD_CLI_PROG" signal 11
  expect_status 139 "SIGSEGV under strace"
  expect_in "$ERR" 'killed by signal 11 \(SIGSEGV' "the death is reported"
  capture "$SD" run --engine strace -- sh -c 'kill -TERM $$'
  expect_status 143 "a shell that kills itself with SIGTERM under strace"
  # CMD is sockdiag's own child, as without the engine.
  "$SD" run --engine strace -- grep PPid /proc/self/status >"$OUT" 2>"$ERR" &
  local sdpid=$!
  wait "$sdpid"
  [ "$(tr -dc 0-9 <"$OUT")" = "$sdpid" ] || fail "CMD's parent is not sockdiag ($sdpid) $(show)"
  capture "$SD" run --engine strace -- no-such-command-sockdiag-test
  expect_status 127 "CMD not found under strace"
  expect_in "$ERR" 'no-such-command-sockdiag-test: command not found' "message"
  printf 'data\n' >"$T/plain-file"
  capture "$SD" run --engine strace -- "$T/plain-file"
  expect_status 126 "CMD not executable under strace"
  printf 'echo no-shebang\n' >"$T/noshebang" && chmod +x "$T/noshebang"
  capture "$SD" run --engine strace -- "$T/noshebang"
  [ "$(cat "$OUT")" = no-shebang ] || fail "a file without #! is run by /bin/sh $(show)"
  term_to_run --engine strace
  expect_status 143 "SIGTERM sent to sockdiag reaches CMD under strace"
}

# The FIFO's directory: private while the run lasts, gone after it.
case_engine_strace_fifo_directory_removed() {
  mkdir "$T/tmp"
  TMPDIR="$T/tmp" capture "$SD" run --engine strace -- sh -c 'stat -c %a "$TMPDIR"/sockdiag-strace-*'
  [ "$(cat "$OUT")" = 700 ] || fail "the FIFO's directory is not mode 0700 $(show)"
  TMPDIR="$T/tmp" capture "$SD" run --engine strace -- "$SD_CLI_PROG" signal 9
  expect_status 137 "CMD killed by SIGKILL"
  TMPDIR="$T/tmp" capture "$SD" run --engine strace -- "$SD_CLI_PROG" signal 11
  TMPDIR="$T/tmp" capture "$SD" run --engine strace --summary -- "$SD_CLI_PROG" exit 4
  expect_status 4 "--summary under strace"
  TMPDIR="$T/tmp" capture "$SD" run --engine strace --log "$T/no-such-dir/x" -- true
  [ -z "$(ls -A "$T/tmp")" ] || fail "left in TMPDIR: $(ls -A "$T/tmp")"
}

# A daemon that CMD leaves running keeps being traced, with working calls;
# without --summary it does not keep run waiting, with --summary it does.
case_engine_strace_daemon() {
  local marker="sleep 4.$$"
  mkdir "$T/tmp"
  TMPDIR="$T/tmp" capture "$SD" run --engine strace -- sh -c "($marker; echo wrote >'$T/daemon') >/dev/null 2>&1 </dev/null &"
  expect_status 0 "CMD that leaves a daemon"
  # The traced subshell may exec sleep only after CMD has ended and run
  # returned: its sleep is looked for a while (well within its 4 s).
  local seen=""
  for _ in $(seq 40); do
    pgrep -f "^$marker\$" >/dev/null && { seen=1; break; }
    sleep 0.05
  done
  [ -n "$seen" ] || fail "run waited for the daemon (it has ended) $(show)"
  [ -z "$(ls -A "$T/tmp")" ] || fail "the FIFO's directory outlives run: $(ls -A "$T/tmp")"
  for _ in $(seq 200); do
    [ -s "$T/daemon" ] && break
    sleep 0.05
  done
  [ "$(cat "$T/daemon" 2>/dev/null)" = wrote ] || fail "the daemon's write failed after run returned"
  capture "$SD" run --engine strace --summary -- sh -c "(sleep 0.5; echo wrote >'$T/daemon2') >/dev/null 2>&1 </dev/null &"
  expect_status 0 "--summary with a daemon"
  [ "$(cat "$T/daemon2" 2>/dev/null)" = wrote ] || fail "--summary did not wait for the daemon $(show)"
  expect_in "$ERR" 'waiting for the processes it left running' "the wait is said"
}

case_engine_strace_no_follow_children() {
  capture "$SD" run --engine strace -- sh -c 'grep TracerPid /proc/$$/status; grep TracerPid /proc/self/status'
  [ "$(grep -c 'TracerPid:[[:space:]]*[1-9]' "$OUT")" = 2 ] || fail "a child is not traced $(show)"
  capture "$SD" run --engine strace --no-follow-children -- sh -c 'grep TracerPid /proc/$$/status; grep TracerPid /proc/self/status'
  [ "$(sed -n 1p "$OUT" | grep -c 'TracerPid:[[:space:]]*[1-9]')" = 1 ] || fail "CMD is not traced $(show)"
  [ "$(sed -n 2p "$OUT" | grep -c 'TracerPid:[[:space:]]*0$')" = 1 ] || fail "a child is traced $(show)"
  [ ! -s "$ERR" ] || fail "strace complained $(show)"
}

# ----------------------------------------------------------------- doctor --

case_doctor_dynamic_program() {
  capture "$SD" doctor "$SD_CLI_PROG"
  expect_status 0 "doctor on a dynamic program"
  expect_in "$OUT" 'ELF 64-bit .* dynamically linked' "what it is"
  expect_in "$OUT" '^verdict: sockdiag can observe' "verdict"
  capture "$SD" doctor sh
  expect_status 0 "doctor finds CMD in PATH"
}

case_doctor_static_program() {
  capture "$SD" doctor "$SD_CLI_STATIC"
  expect_status 1 "doctor on a static program"
  expect_in "$OUT" '^cannot: it is statically linked' "reason"
  expect_in "$OUT" '^verdict: the library cannot observe .*: sockdiag run --engine strace -- ' "the strace engine advised"
}

case_doctor_go_program() {
  capture "$SD" doctor "$SD_CLI_FAKE_GO"
  expect_status 1 "doctor on a Go program"
  expect_in "$OUT" '^cannot: it is a Go program \(a \.go\.buildinfo section\)' "reason"
}

case_doctor_setuid_and_setcap() {
  cp "$SD_CLI_PROG" "$T/suid" && chmod u+s "$T/suid"
  if findmnt -no OPTIONS -T "$T" | grep -qw nosuid; then
    capture "$SD" doctor "$T/suid"
    expect_status 0 "doctor on a setuid program on a nosuid file system"
    expect_in "$OUT" '^note: its setuid/setgid bits and file capabilities are ignored' "the note"
  elif [ "$(id -u)" = 0 ]; then
    chown nobody "$T/suid" && chmod u+s "$T/suid" || fail "chown nobody"
    capture "$SD" doctor "$T/suid"
    expect_status 1 "doctor on a program setuid to another user"
    expect_in "$OUT" "^cannot: it is setuid \(owner uid $(id -u nobody)\): .*secure-execution" "reason"
    cp "$SD_CLI_PROG" "$T/cap" && setcap cap_net_raw+ep "$T/cap" || fail "setcap"
    capture "$SD" doctor "$T/cap"
    expect_status 0 "doctor on a program with file capabilities, as root"
    expect_in "$OUT" '^limit: it has file capabilities' "the limit is named"
  else
    capture "$SD" doctor "$T/suid"
    expect_status 0 "doctor on a program setuid to ourselves"
    expect_in "$OUT" "^limit: it is setuid \(owner uid $(id -u)\): observed when its owner runs it" "the limit is named"
  fi
}

case_doctor_scripts() {
  printf '#!/bin/sh\nexit 0\n' >"$T/ok.sh"
  chmod +x "$T/ok.sh"
  capture "$SD" doctor "$T/ok.sh"
  expect_status 0 "doctor on a shell script"
  expect_in "$OUT" 'a script, run by: #!/bin/sh' "the script is seen"
  ln -s "$SD_CLI_STATIC" "$T/static-interp"
  printf '#!/usr/bin/env -S static-interp -x\n' >"$T/env.sh"
  chmod +x "$T/env.sh"
  PATH="$T:$PATH" capture "$SD" doctor "$T/env.sh"
  expect_status 1 "a script whose interpreter (through env) is static"
  expect_in "$OUT" "the interpreter decides: $T/static-interp" "env is followed through PATH"
  expect_in "$OUT" '^cannot: it is statically linked' "the interpreter's problem"
  printf 'echo hi\n' >"$T/noshebang"
  chmod +x "$T/noshebang"
  capture "$SD" doctor "$T/noshebang"
  expect_status 0 "a file without #!"
  expect_in "$OUT" 'not an ELF file and no #! line: .* /bin/sh' "handed to /bin/sh"
}

case_doctor_other_machine() {
  cp "$SD_CLI_PROG" "$T/arm"
  # e_machine (offset 18, little-endian) := EM_AARCH64 (183)
  printf '\xb7\x00' | dd of="$T/arm" bs=1 seek=18 conv=notrunc status=none
  capture "$SD" doctor "$T/arm"
  expect_status 1 "a program for another machine"
  expect_in "$OUT" '^cannot: it is a 64-bit AArch64 program and the library is 64-bit x86-64' "reason"
}

case_doctor_bad_input() {
  capture "$SD" doctor no-such-command-sockdiag-test
  expect_usage_error "no-such-command-sockdiag-test: command not found" "doctor on a missing command"
  capture "$SD" doctor
  expect_usage_error "missing CMD" "doctor without CMD"
  # An ELF identification followed by 0xff bytes: offsets far outside the file.
  { printf '\177ELF\002\001\001'; head -c 120 /dev/zero | tr '\0' '\377'; } >"$T/junk"
  chmod +x "$T/junk"
  capture "$SD" doctor "$T/junk"
  [ "$RC" = 1 ] || fail "a damaged ELF file: status $RC, expected 1 $(show)"
}

# Files that are no program, or only the start of one: one clear reason each.
case_doctor_files_that_are_not_programs() {
  local size
  size=$(stat -c %s /bin/true)
  head -c 100 /bin/true >"$T/header-only"
  head -c $((size / 2)) /bin/true >"$T/half"
  : >"$T/empty"
  mkdir "$T/dir"
  # Opened for reading, a FIFO without a writer would wait for one forever.
  mkfifo "$T/fifo"
  chmod +x "$T/header-only" "$T/half" "$T/empty" "$T/fifo"
  capture "$SD" doctor "$T/header-only"
  expect_status 1 "the first 100 bytes of /bin/true"
  expect_in "$OUT" "^cannot: $T/header-only: its program headers lie outside the file" "reason"
  capture "$SD" doctor "$T/half"
  expect_status 1 "the first half of /bin/true"
  expect_in "$OUT" "^cannot: $T/half: its (dynamic section|program headers) lies? outside the file" "reason"
  capture "$SD" doctor "$T/empty"
  expect_status 0 "an empty file"
  expect_in "$OUT" 'not an ELF file and no #! line: .* /bin/sh' "handed to /bin/sh"
  capture "$SD" doctor "$T/dir"
  expect_status 1 "a directory"
  expect_in "$OUT" "^cannot: $T/dir: it is a directory" "reason"
  LIMIT=10 capture "$SD" doctor "$T/fifo"
  expect_status 1 "a FIFO"
  expect_in "$OUT" "^cannot: $T/fifo: it is not a regular file" "reason"
}

# ------------------------------------------------------------------- demo --

case_demo() {
  capture "$SD" demo
  expect_status 0 "sockdiag demo"
  expect_in "$ERR" "^\\\$ sockdiag run --summary --inject '.*' -- .*sockdiag-demo$" "the command it runs"
  expect_in "$OUT" 'connect failed: Connection refused' "scene 1"
  expect_in "$ERR" ' error connect .*ECONNREFUSED' "scene 1 record"
  expect_in "$ERR" ' error recv .*ECONNRESET' "scene 2 record"
  expect_in "$ERR" ' error send .*EPIPE' "scene 3 record"
  expect_in "$OUT" 'send failed: Broken pipe \(the process is still alive\)' "scene 3"
  expect_in "$ERR" 'injected by ' "scene 4 record"
  expect_in "$OUT" 'attempt 3: connected' "scene 4 recovers"
  expect_in "$ERR" '^sockdiag summary: ' "the summary"
  expect_in "$ERR" '^ +2 +connect:error=ECONNREFUSED:' "the summary counts the rule's two injections"
}

# The cases of the record schema and of the command's sinks.
# shellcheck source=sink_cases.sh
. "$HERE/sink_cases.sh"

main() {
  case "${1:-}" in
    setup) setup ;;
    cleanup) cleanup ;;
    "") fail "usage: $0 setup | cleanup | CASE" ;;
    *)
      declare -F "case_$1" >/dev/null || fail "no case named $1"
      begin_case
      "case_$1"
      echo "ok: $1"
      ;;
  esac
}

main "$@"
