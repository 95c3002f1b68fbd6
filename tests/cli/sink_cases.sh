# Cases of cli_tests.sh (sourced by it) for the JSON record schema and for
# the sinks of `sockdiag run --log journald|syslog|rotate:|daily:|terminal`.
# CMakeLists.txt registers the case_ functions of this file too.

SCHEMA="$HERE/../../docs/record.schema.json"

# validate_json FILE...: every line of the files is valid against the schema
# (python3-jsonschema from Debian, /usr/bin/python3: tools/install-deps.sh).
# Prints the kinds of lines seen, one per line ("record", "summary:count"...).
validate_json() {
  /usr/bin/python3 - "$SCHEMA" "$@" <<'PY'
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
kinds = set()
for path in sys.argv[2:]:
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.strip()
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        errors = sorted(v.iter_errors(rec), key=lambda e: list(e.path))
        if errors:
            sys.exit(f"{path}:{n}: not valid against the schema: {errors[0].message}: {line[:300]}")
        kinds.add("summary:" + rec["summary"] if "summary" in rec else
                  "record" if "call" in rec else "dropped" if "dropped" in rec else "seed")
print("\n".join(sorted(kinds)))
PY
}

# Real lines of real runs, of every kind the library and the command write
# in JSON, checked against docs/record.schema.json.
case_record_schema_validates_real_lines() {
  [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import jsonschema' 2>/dev/null || fail "python3-jsonschema missing: tools/install-deps.sh"
  # Records (injected and real, a retry notice at level info), a seed notice,
  # the run's own tree summary.
  capture "$SD" run --format json --level info --summary --log "$T/records.json" --retry econnaborted \
    --inject 'connect:error=ECONNREFUSED:prob=50%' -- "$SD_CLI_PROG" connect-many 127.0.0.1 20
  expect_status 0 "a run with injected connect failures"
  "$SD" run --format json --level trace --log "$T/records.json" -- "$SD_CLI_PROG" refuse 2>>"$ERR"
  # Each process's exit summary, as the library writes it to a summary file.
  SOCKDIAG_FORMAT=json SOCKDIAG_SUMMARY="$T/summary.json" SOCKDIAG_LOG="$T/records.json" \
    SOCKDIAG_INJECT='connect:error=ECONNREFUSED' LD_PRELOAD="$LIB" "$SD_CLI_PROG" refuse 2>>"$ERR"
  grep -q '"v":1,' "$T/records.json" || fail "no \"v\":1 in the records $(head -c 500 "$T/records.json")"
  ! grep -v '^{"v":1,' "$T/records.json" "$T/summary.json" | grep -q . || fail "a line without \"v\" first: $(grep -v '^{"v":1,' "$T/records.json" "$T/summary.json" | head -3)"
  grep '^{' "$ERR" >"$T/stderr.json"
  validate_json "$T/records.json" "$T/summary.json" "$T/stderr.json" >"$T/kinds" || fail "schema: $(cat "$T/kinds")"
  for kind in record seed summary:tree summary:count summary:totals summary:inject summary:peer; do
    grep -qx "$kind" "$T/kinds" || fail "no line of kind $kind was validated (seen: $(tr '\n' ' ' <"$T/kinds"))"
  done
  # The schema refuses what it must: a record without "v", or with a field it does not know.
  head -1 "$T/records.json" | sed 's/^{"v":1,/{/' >"$T/bad1.json"
  ! validate_json "$T/bad1.json" >/dev/null 2>&1 || fail "a record without v passed the schema"
  head -1 "$T/records.json" | sed 's/^{"v":1,/{"v":1,"bogus":3,/' >"$T/bad2.json"
  ! validate_json "$T/bad2.json" >/dev/null 2>&1 || fail "a record with an unknown field passed the schema"
}

# Bad sink words: one line naming what was wrong and what is accepted, status 2.
case_sink_bad_words() {
  local word
  for word in 'rotate:' 'rotate:/x:abc' 'rotate:/x:1M:zero' 'rotate:/x:100' 'syslog:nofacility' 'syslog:user:' 'daily:'; do
    capture "$SD" run --log "$word" -- "$SD_CLI_PROG" exit 0
    expect_usage_error "^sockdiag run: --log: '.*': .*; accepted: journald, syslog" "--log $word"
  done
  printf 'log = rotate:/x:abc\n' >"$T/conf"
  capture "$SD" run --config "$T/conf" -- "$SD_CLI_PROG" exit 0
  expect_usage_error "^sockdiag run: log in the SOCKDIAG_CONFIG file: 'rotate:/x:abc': the size 'abc'" "log = in a config file"
  capture "$SD" run --engine strace --log journald -- "$SD_CLI_STATIC" exit 0
  expect_usage_error "^sockdiag run: --log: 'journald': .*with --engine strace, accepted: stderr or a file" "a sink under strace"
}

# count_records FILE...: the records in the files, every line a whole JSON object.
count_lines_checked() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
records = dropped = 0
for path in sys.argv[1:]:
    for n, raw in enumerate(open(path, "rb"), 1):
        if not raw.endswith(b"\n"):
            sys.exit(f"{path}:{n}: a cut line: {raw[:200]!r}")
        rec = json.loads(raw)  # a torn line fails here
        if "call" in rec:
            records += 1
        elif "dropped" in rec:
            dropped += rec["dropped"]
print(records, dropped)
PY
}

# rotate: under load: 8 writer processes of one run, small files; every
# record is in exactly one file, whole, and none was lost (the library's
# drop count, if the sink fell behind, makes up the difference).
case_sink_rotate_under_load() {
  local per=400 writers=8
  capture "$SD" run --format json --summary --log "rotate:$T/r.log:16K:1000" --inject 'connect:error=ECONNREFUSED' \
    -- bash -c 'for w in $(seq '$writers'); do "$1" connect-many 127.0.0.1 '$per' >/dev/null & done; wait' sh "$SD_CLI_PROG"
  expect_status 0 "8 writers under --log rotate:"
  local files
  files=$(ls "$T"/r*.log | wc -l)
  [ "$files" -ge 10 ] || fail "only $files files: no rotation under load"
  [ -z "$(find "$T" -name 'r*.log' ! -perm 600)" ] || fail "rotated files not of mode 600: $(ls -l "$T")"
  local counts
  counts=$(count_lines_checked "$T"/r*.log) || fail "a line in the rotated files is not whole JSON: $counts"
  local dropped
  dropped=$(grep -o '"records_dropped":[0-9]*' "$ERR" | cut -d: -f2)
  [ -n "$dropped" ] || fail "no tree summary $(show)"
  local records=${counts% *}
  [ $((records + dropped)) = $((per * writers)) ] ||
    fail "$records records in the files + $dropped dropped, expected $((per * writers))"
  [ "$records" -gt 0 ] || fail "no record reached the files"
}

# daily:PATH writes today's file, named with the date.
case_sink_daily() {
  capture "$SD" run --format json --log "daily:$T/d.log" -- "$SD_CLI_PROG" refuse
  expect_status 0 "--log daily:"
  local f="$T/d_$(date +%Y-%m-%d).log"
  [ -f "$f" ] || f="$T/d_$(date -u +%Y-%m-%d).log"
  [ -f "$f" ] || fail "no dated file: $(ls "$T")"
  expect_in "$f" '^\{"v":1,.*"call":"connect".*"code":"ECONNREFUSED"' "the record in the daily file"
  [ "$(stat -c %a "$f")" = 600 ] || fail "a new daily file is mode $(stat -c %a "$f"), not 600"
  # Text format too: the library's own text line.
  capture "$SD" run --log "daily:$T/t.log" -- "$SD_CLI_PROG" refuse
  expect_in "$T"/t_*.log '^sockdiag 20.* error connect .*ECONNREFUSED' "a text record in the daily file"
}

# A daemon that outlives CMD keeps being heard: run reads until the last
# process of the tree has closed the channel.
case_sink_hears_daemon_after_cmd() {
  capture "$SD" run --format json --log "rotate:$T/r.log" --inject 'connect:error=ECONNREFUSED' \
    -- bash -c '(sleep 1; "$1" refuse >/dev/null) </dev/null >/dev/null 2>&1 & "$1" exit 0' sh "$SD_CLI_PROG"
  expect_status 0 "a CMD that leaves a daemon"
  expect_in "$T/r.log" '"call":"connect".*"injected":true' "the daemon's record, written after CMD ended"
  # A double-forked daemon that execs after CMD and its parent are gone:
  # the channel stays open across the exec.
  capture "$SD" run --format json --log "rotate:$T/d.log" --inject 'connect:error=ECONNREFUSED' \
    -- bash -c '(sh -c "sleep 1; exec \"\$0\" refuse" "$1" </dev/null >"$2" 2>&1 &); exit 0' sh "$SD_CLI_PROG" "$T/daemon.out"
  expect_status 0 "a CMD whose double-forked daemon execs later"
  expect_in "$T/d.log" '"prog":"cli_prog".*"call":"connect".*"injected":true' "the exec'd daemon's record $(cat "$T/daemon.out")"
}

# The program sees the same fds as with a log file: the channel is the
# library's own high fd, run's reader and writer are not inherited.
case_sink_program_fds() {
  local fds='ls -l /proc/self/fd | sed -n "s/.* \([0-9]* -> \)/\1/p" | sed "s/\[[0-9]*\]//; s#/proc/[0-9]*/#/proc/PID/#"'
  "$SD" run --log "$T/file.log" -- sh -c "$fds" >"$T/fds" 2>&1 </dev/null && mv "$T/fds" "$T/with-file"
  "$SD" run --log "rotate:$T/r.log" -- sh -c "$fds" >"$T/fds" 2>&1 </dev/null && mv "$T/fds" "$T/with-sink"
  # The log itself: the file, or the channel.
  sed -i "s# -> $T/file.log\$# -> LOG#; s# -> .*/sockdiag-channel-.*/records\$# -> LOG#" "$T/with-file" "$T/with-sink"
  [ -s "$T/with-file" ] && cmp -s "$T/with-file" "$T/with-sink" || fail "fds differ: $(diff "$T/with-file" "$T/with-sink")"
}

# A slow sink never stalls the program: with syslog's socket blocked (a
# datagram socket nobody reads), the program ends and the drops are counted.
# The same words work in a SOCKDIAG_CONFIG file.
case_sink_from_config_file() {
  printf 'log = rotate:%s/c.log:64K:3\nformat = json\n' "$T" >"$T/conf"
  capture "$SD" run --config "$T/conf" -- "$SD_CLI_PROG" refuse
  expect_status 0 "log = rotate: in a config file"
  expect_in "$T/c.log" '"call":"connect"' "the record, through the config file's sink"
}

# in_mount_namespace: unshare -m works here (root, no seccomp forbidding it).
in_mount_namespace() { unshare -m true 2>/dev/null; }

# syslog: a real rsyslogd of the test, with its own configuration and
# socket; /dev/log is bind-mounted to it in a private mount namespace.
case_sink_syslog_rsyslogd() {
  command -v rsyslogd >/dev/null || fail "rsyslogd missing: tools/install-deps.sh"
  in_mount_namespace || { echo "SKIP: unshare -m is not possible here"; exit 77; }
  cat >"$T/rsyslog.conf" <<CONF
global(workDirectory="$T")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$T/log.sock" CreatePath="on")
template(name="t" type="string" string="%syslogfacility-text% %syslogseverity-text% %programname% %msg%\n")
*.* action(type="omfile" file="$T/out.log" template="t")
CONF
  rsyslogd -n -f "$T/rsyslog.conf" -i "$T/rsyslog.pid" >"$T/rsyslogd.out" 2>&1 &
  local rs=$!
  trap 'kill $rs 2>/dev/null; wait $rs 2>/dev/null; rm -rf -- "$T"' EXIT
  local i
  for i in $(seq 100); do [ -S "$T/log.sock" ] && break; sleep 0.1; done
  [ -S "$T/log.sock" ] || fail "rsyslogd made no socket: $(cat "$T/rsyslogd.out")"
  # /dev/log, in the namespace only: a /dev of the test's own with the
  # devices a run needs and `log` bound to the test's rsyslogd socket.
  local in_ns='mkdir -p "$1/dev" && for d in null zero urandom; do touch "$1/dev/$d" && mount --bind /dev/$d "$1/dev/$d"; done &&
    touch "$1/dev/log" && mount --bind "$1/log.sock" "$1/dev/log" && mount --rbind "$1/dev" /dev && shift && exec "$@"'
  timeout -k 5 "$LIMIT" unshare -m sh -c "$in_ns" sh "$T" \
    "$SD" run --log syslog:local3:sdtest --inject 'connect:error=ECONNREFUSED' -- "$SD_CLI_PROG" refuse >"$OUT" 2>"$ERR"
  RC=$?
  expect_status 0 "--log syslog:local3:sdtest"
  timeout -k 5 "$LIMIT" unshare -m sh -c "$in_ns" sh "$T" \
    "$SD" run --format json --log syslog -- "$SD_CLI_PROG" refuse >"$OUT" 2>"$ERR"
  for i in $(seq 100); do [ "$(cat "$T/out.log" 2>/dev/null | grep -c connect)" -ge 2 ] && break; sleep 0.1; done
  expect_in "$T/out.log" "^local3 err sdtest .*connect fd=[0-9]+ .*-> 127.0.0.1:[0-9]+: ECONNREFUSED .*injected by 'connect:error=ECONNREFUSED'" "the record in rsyslog, facility local3, ident sdtest, severity err"
  expect_in "$T/out.log" '^user err sockdiag +\{"v":1,.*"call":"connect"' "--log syslog: facility user, ident sockdiag, the JSON record with --format json"
}

# journald: the fields of the native protocol, as a datagram socket at
# /run/systemd/journal/socket receives them (a test directory bind-mounted
# over /run/systemd/journal in a private mount namespace).
case_sink_journald_fields() {
  in_mount_namespace || { echo "SKIP: unshare -m is not possible here"; exit 77; }
  mkdir -p "$T/journal"
  /usr/bin/python3 - "$T/journal/socket" "$T/entries" <<'PY' &
import socket, struct, sys, json
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
out = []
while len(out) < 2:
    data = s.recv(65536)
    fields, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            k = line
            n = struct.unpack("<Q", data[nl + 1:nl + 9])[0]
            v = data[nl + 9:nl + 9 + n]
            assert data[nl + 9 + n:nl + 10 + n] == b"\n", "binary field not ended by a newline"
            i = nl + 10 + n
        fields[k.decode()] = v.decode()
    out.append(fields)
json.dump(out, open(sys.argv[2], "w"))
PY
  local py=$!
  trap 'kill $py 2>/dev/null; wait $py 2>/dev/null; rm -rf -- "$T"' EXIT
  local i
  for i in $(seq 100); do [ -S "$T/journal/socket" ] && break; sleep 0.1; done
  [ -S "$T/journal/socket" ] || fail "the test's journal socket was not made"
  # A tmpfs over /run first: the host's /run is left as it is.
  timeout -k 5 "$LIMIT" unshare -m sh -c 'mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal &&
      mount --bind "$1" /run/systemd/journal && shift && exec "$@"' \
    sh "$T/journal" "$SD" run --log journald --inject 'connect:error=ECONNREFUSED:port=9' \
    -- bash -c 'exec 3<>/dev/tcp/127.0.0.1/9; "$1" refuse' sh "$SD_CLI_PROG" >"$OUT" 2>"$ERR"
  RC=$?
  wait $py || fail "the journal socket did not receive two entries $(show)"
  /usr/bin/python3 - "$T/entries" <<'PY' || fail "journald fields"
import json, sys
entries = json.load(open(sys.argv[1]))
for e in entries:
    for key in ("MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "SYSLOG_PID", "SOCKDIAG_CODE", "SOCKDIAG_PEER", "SOCKDIAG_CALL",
                "SOCKDIAG_FD", "SOCKDIAG_PID", "SOCKDIAG_V", "SOCKDIAG_RECORD"):
        assert key in e, f"no {key} in {e}"
    assert e["PRIORITY"] == "3", e
    assert e["SYSLOG_IDENTIFIER"] == "sockdiag", e
    assert e["SOCKDIAG_CODE"] == "ECONNREFUSED", e
    assert e["SOCKDIAG_CALL"] == "connect", e
    assert json.loads(e["SOCKDIAG_RECORD"])["pid"] == int(e["SOCKDIAG_PID"]) == int(e["SYSLOG_PID"]), e
    assert "ECONNREFUSED" in e["MESSAGE"] and "\n" not in e["MESSAGE"], e
injected = [e for e in entries if e.get("SOCKDIAG_INJECTED") == "true"]
real = [e for e in entries if e.get("SOCKDIAG_INJECTED") == "false"]
assert len(injected) == 1 and injected[0]["SOCKDIAG_RULE"] == "connect:error=ECONNREFUSED:port=9", entries
assert injected[0]["SOCKDIAG_PEER"] == "127.0.0.1:9", entries
assert len(real) == 1 and "SOCKDIAG_RULE" not in real[0], entries
PY
}

# wait_for TEST...: up to 20 s for the test to hold.
wait_for() {
  local i
  for i in $(seq 200); do "$@" && return 0; sleep 0.1; done
  return 1
}

# `sockdiag collect`: two client processes started elsewhere with
# SOCKDIAG_LOG=unix:PATH. With the collector killed they run on unblocked
# and count what they lose; a collector started again gets what comes after.
case_collect_survives_restart() {
  local sock="$T/collect.sock" out="$T/collected.log"
  "$SD" collect --listen "$sock" --to "rotate:$out" 2>"$T/c1.err" &
  local c1=$! c2=
  trap 'kill $c1 $c2 2>/dev/null; wait 2>/dev/null; rm -rf -- "$T"' EXIT
  wait_for test -S "$sock" || fail "the collector made no socket: $(cat "$T/c1.err")"
  local client='c() { exec 3<>/dev/tcp/127.0.0.1/9; } 2>/dev/null
    c; until [ -e "$1/phase2" ]; do sleep 0.05; done
    for i in $(seq 50); do c; done; touch "$1/done.$2"
    until [ -e "$1/phase3" ]; do sleep 0.05; done; c'
  local n
  for n in 1 2; do
    SOCKDIAG_LOG="unix:$sock" SOCKDIAG_FORMAT=json SOCKDIAG_INJECT='connect:error=ECONNREFUSED' LD_PRELOAD="$LIB" \
      timeout -k 5 "$LIMIT" bash -c "$client" sh "$T" "$n" &
  done
  wait_for sh -c '[ "$(grep -c "\"call\":\"connect\"" "$1" 2>/dev/null)" = 2 ]' sh "$out" ||
    fail "the collector did not write both clients' first records: $(cat "$out" "$T/c1.err" 2>&1 | head -c 2000)"
  kill $c1
  wait $c1
  [ ! -e "$sock" ] || fail "the collector left its socket behind"
  touch "$T/phase2"
  wait_for test -e "$T/done.1" -a -e "$T/done.2" || fail "clients were held up while no collector listened"
  "$SD" collect --listen "$sock" --to "rotate:$out" 2>"$T/c2.err" &
  c2=$!
  wait_for test -S "$sock" || fail "the second collector made no socket: $(cat "$T/c2.err")"
  touch "$T/phase3"
  wait_for sh -c '[ "$(grep -c "\"call\":\"connect\"" "$1")" = 4 ]' sh "$out" ||
    fail "records after the restart did not arrive: $(cut -c1-200 "$out")"
  kill $c2
  wait $c2
  local counts
  counts=$(count_lines_checked "$out") || fail "collected lines not whole JSON: $counts"
  [ "$counts" = "4 100" ] || fail "collected: $counts (records, said dropped), expected 4 records and 100 dropped"
  validate_json "$out" >/dev/null || fail "collected lines do not follow the schema"
}

# unix:PATH must be an absolute path that fits a socket address.
case_collect_bad_values() {
  capture env SOCKDIAG_LOG=unix:relative LD_PRELOAD="$LIB" "$SD_CLI_PROG" exit 0
  expect_status 78 "SOCKDIAG_LOG=unix:relative"
  one_line_error "SOCKDIAG_LOG.*'unix:relative': accepted: unix:/absolute/path" "unix: with a relative path"
  capture "$SD" collect --listen relative --to journald
  expect_usage_error "^sockdiag collect: --listen: 'relative': accepted: an absolute path" "collect --listen relative"
  capture "$SD" collect --listen "$T/s" --to "$T/file"
  expect_usage_error "^sockdiag collect: --to: '.*': accepted: journald" "collect --to a plain file"
  capture "$SD" collect --listen "$T/s" --to journald --format text
  expect_usage_error "needs the records' fields" "journald with text records"
}

# terminal: coloured by level on a terminal (script(1) gives one), plain
# otherwise.
case_sink_terminal_colour() {
  command -v script >/dev/null || fail "script (util-linux) missing"
  timeout -k 5 "$LIMIT" script -qec "'$SD' run --log terminal -- '$SD_CLI_PROG' refuse" /dev/null >"$OUT" 2>"$ERR"
  RC=$?
  expect_status 0 "--log terminal on a terminal"
  # Red for an error (spdlog writes the escape, the text and the reset apart).
  grep -q $'\e\\[31m' "$OUT" && grep -q 'error connect .*ECONNREFUSED' "$OUT" || fail "no colour on a terminal $(show)"
  capture "$SD" run --log terminal -- "$SD_CLI_PROG" refuse
  expect_in "$ERR" '^sockdiag 20.* error connect .*ECONNREFUSED' "the record on stderr"
  ! grep -q $'\e' "$ERR" || fail "colour escapes on a file $(show)"
}

# A sink that hangs (a syslog daemon that stopped reading: syslog(3)
# blocks) holds neither the program nor `run` for long: what it cannot take
# is dropped and said.
case_sink_hung_syslog() {
  in_mount_namespace || { echo "SKIP: unshare -m is not possible here"; exit 77; }
  /usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); time.sleep(60)' "$T/log.sock" \
    </dev/null >/dev/null 2>&1 &
  local py=$!
  trap 'kill $py 2>/dev/null; wait $py 2>/dev/null; rm -rf -- "$T"' EXIT
  wait_for test -S "$T/log.sock" || fail "the test's socket was not made"
  local in_ns='mkdir -p "$1/dev" && for d in null zero urandom; do touch "$1/dev/$d" && mount --bind /dev/$d "$1/dev/$d"; done &&
    touch "$1/dev/log" && mount --bind "$1/log.sock" "$1/dev/log" && mount --rbind "$1/dev" /dev && shift && exec "$@"'
  timeout -k 5 "$LIMIT" unshare -m sh -c "$in_ns" sh "$T" "$SD" run --log syslog --inject 'connect:error=ECONNREFUSED' \
    -- "$SD_CLI_PROG" connect-many 127.0.0.1 3000 >"$OUT" 2>"$ERR"
  RC=$?
  expect_status 0 "a run whose syslog never reads"
  [ "$(tr -cd f <"$OUT" | wc -c)" = 3000 ] || fail "the program did not make its 3000 calls $(show)"
  expect_in "$ERR" '^sockdiag run: [0-9]+ records dropped: the --log sink did not take them in time$' "the loss is said"
}
