"""How records reach the log must never change the program: a stderr log
that follows fd 2 (a daemon's caller returns at once, an inetd service's
TCP client reads no record, a closed and reopened stderr gets none), a log
reader that stops reading (bounded, drops counted and said), whole lines
past RLIMIT_FSIZE, SIGPIPE received exactly as often as sent, and the log fd
out of the program's fd numbers. Each case runs the program with and
without the library and compares."""
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time

from harness import Failure, case, expect, expect_eq, parse_records, read_records, read_text

DROP_SUFFIX = " records dropped: log not writable"
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def log_sink(h):
    return h.prog("log_sink")


# ---- following fd 2 ----------------------------------------------------------------


def wait_for_file(path, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = read_text(path)
        if text.endswith("\n"):
            return text
        time.sleep(0.05)
    raise Failure(f"{path} was not written within {timeout} s")


@case("stderr log daemonizing program's caller returns while the daemon runs")
def daemon_caller_returns(h):
    # `out=$(prog 2>&1)` returns when the last holder of its pipe lets go:
    # the daemon dup2()s /dev/null over 0, 1 and 2 (and sleeps 30 s), so the
    # shell returns at once, unless someone else holds the pipe.
    outputs = {}
    for preload in (False, True):
        pidfile = h.path(f"daemon-{preload}.pid")
        script = f'out=$("$0" daemon "$1" 2>&1); printf "%s\\n" "$out"'
        argv = ["/bin/sh", "-c", script, log_sink(h), pidfile]
        proc = h.start(argv, preload=preload, settings={"FORMAT": "json"})
        # The daemon left the shell's process group: killed by pid at the end.
        h.closers.append(lambda pidfile=pidfile: kill_daemon(pidfile))
        rc, out, err = h.finish(proc, argv, timeout=20)
        pid = int(wait_for_file(pidfile))
        expect_eq(rc, 0, f"the shell's exit status (preload={preload})", err)
        expect(alive(pid), f"the daemon (pid {pid}) ended before its caller returned (preload={preload})", out)
        os.kill(pid, signal.SIGKILL)
        outputs[preload] = out.splitlines()
    own = [line for line in outputs[True] if not line.startswith("{")]
    expect_eq(own, outputs[False], "the program's own output in $(...) under the library")
    records = parse_records("\n".join(line for line in outputs[True] if line.startswith("{")), "$(...)")
    expect_eq([(r["call"], r["code"]) for r in records], [("connect", "ECONNREFUSED")],
              "records in $(...) (the parent's; the daemon's went to /dev/null)")


def kill_daemon(pidfile):
    text = read_text(pidfile).strip()
    if text.isdigit() and alive(int(text)):
        os.kill(int(text), signal.SIGKILL)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def serve_once(h, family_socket, settings, preload):
    """An inetd-style run: the program's stdin, stdout and stderr are the
    server end of a connection; returns what the client read until EOF."""
    client, server = family_socket()
    try:
        argv = [log_sink(h), "inetd"]
        proc = subprocess.Popen(argv, env=h.env(preload, settings), stdin=server.fileno(), stdout=server.fileno(),
                                stderr=server.fileno(), start_new_session=True)
        h.processes.append(proc)
        server.close()
        client.settimeout(20)
        received = b""
        while True:
            chunk = client.recv(65536)
            if not chunk:
                break
            received += chunk
        expect_eq(proc.wait(timeout=20), 0, "exit status of the service")
        return received
    finally:
        client.close()
        server.close()


def tcp_pair():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        return client, server


@case("stderr log inetd-style service its TCP client reads no record")
def inetd_tcp_stderr(h):
    plain = serve_once(h, tcp_pair, {}, preload=False)
    expect_eq(plain, b"hello\nbye\n", "what the client read without the library")
    for fmt in ("text", "json"):
        hooked = serve_once(h, tcp_pair, {"FORMAT": fmt}, preload=True)
        expect_eq(hooked, plain, f"what the client read under the library ({fmt} records)")


@case("stderr log a unix stream socket as stderr takes whole records")
def unix_stream_stderr(h):
    # The journal of a systemd service is its stderr: a unix stream socket.
    plain = serve_once(h, lambda: socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM), {}, preload=False)
    hooked = serve_once(h, lambda: socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM), {"FORMAT": "json"},
                        preload=True)
    lines = hooked.decode().splitlines()
    own = [line for line in lines if not line.startswith("{")]
    expect_eq("\n".join(own) + "\n", plain.decode(), "the service's own output under the library")
    records = parse_records("\n".join(line for line in lines if line.startswith("{")), "the socket")
    expect_eq([(r["call"], r["code"]) for r in records], [("connect", "ECONNREFUSED")], "records in the socket")


def stderr_closed_reopened(h, how):
    files = {}
    runs = {}
    for preload in (False, True):
        f1, f2 = h.path(f"file1-{preload}"), h.path(f"file2-{preload}")
        run = h.run([log_sink(h), "reopen", f1, f2] + how, preload=preload, settings={"FORMAT": "json"}).expect_rc(0)
        runs[preload] = run
        files[preload] = (read_text(f1), read_text(f2))
    expect_eq(runs[True].out, runs[False].out, "stdout under the library", runs[True].describe())
    expect_eq(runs[False].out, "FILE1 fd: 2\n", "stdout without the library (FILE1 took fd 2)")
    # FILE1 took number 2 by chance (lowest free): it is not the program's
    # stderr, and gets nothing but what the program wrote.
    expect_eq(files[True][0], files[False][0], "FILE1 (opened after close(2)) under the library")
    # FILE2 was dup2()ed onto fd 2: the program's stderr now, where the
    # stderr log follows it, between the program's own lines.
    expect_eq(files[False][1], "own line 2\nown line 3\n", "FILE2 without the library")
    lines = files[True][1].splitlines()
    expect_eq((lines[0], lines[-1]), ("own line 2", "own line 3"), "the program's lines in FILE2", files[True][1])
    records = parse_records("\n".join(lines[1:-1]), "FILE2")
    expect_eq([(r["call"], r["code"]) for r in records], [("connect", "ECONNREFUSED")],
              "records in FILE2 (the one after the dup2)")


@case("stderr log closed fd 2 reopened by open gets no record dup2 onto fd 2 is followed")
def stderr_closed_reopened_close(h):
    stderr_closed_reopened(h, [])


@case("stderr log fd 2 closed by close_range reopened by open gets no record")
def stderr_closed_reopened_close_range(h):
    stderr_closed_reopened(h, ["close_range"])


# ---- a log that does not take records -----------------------------------------------


def drops_said(records):
    return sum(r["dropped"] for r in records if "dropped" in r and "summary" not in r)


def stalled_pipe_run(h, count, fill_nonblocking, preload=True):
    """connects COUNT with stderr a pipe nobody reads (filled first, through
    a non-blocking open file description, with fill_nonblocking): returns
    the seconds until "done", and the records once the pipe was drained and
    one more refused connect made."""
    r, w = os.pipe()
    h.closers.append(lambda: os.close(r))
    if fill_nonblocking:
        fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
        try:
            while True:
                os.write(w, b"x" * 4096)
        except BlockingIOError:
            pass
    argv = [log_sink(h), "connects", count]
    start = time.monotonic()
    proc = subprocess.Popen([str(a) for a in argv], env=h.env(preload, {"FORMAT": "json", "SUMMARY": "1"}),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=w, start_new_session=True)
    h.processes.append(proc)
    os.close(w)
    line = h.read_line(proc, timeout=30)
    took = time.monotonic() - start
    expect_eq(line, f"done {count}\n", "the program's line after its connects")
    # The reader reads again: everything there is, then one more record.
    fcntl.fcntl(r, fcntl.F_SETFL, os.O_NONBLOCK)
    stream = b""
    try:
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            stream += chunk
    except BlockingIOError:
        pass
    proc.stdin.write(b"go\n")
    proc.stdin.flush()
    expect_eq(h.read_line(proc), "end\n", "the program's last line")
    fcntl.fcntl(r, fcntl.F_SETFL, 0)
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        stream += chunk
    expect_eq(proc.wait(timeout=20), 0, "exit status")
    if fill_nonblocking:
        stream = stream.lstrip(b"x")
    records = parse_records(stream.decode(errors="replace"), "the pipe")
    return took, records


def check_drops(records, count, detail_what):
    detail = "\n".join(json.dumps(r)[:200] for r in records[-8:])
    refused = [r for r in records
               if "summary" not in r and r.get("call") == "connect" and r.get("code") == "ECONNREFUSED"]
    said = drops_said(records)
    expect(said > 0, f"no '...{DROP_SUFFIX}' line once the reader read again ({detail_what})", detail)
    for r in records:
        if "dropped" in r and "summary" not in r:
            expect_eq(r["message"], f"{r['dropped']}{DROP_SUFFIX}", "the drop line's message")
    expect_eq(len(refused) + said, count + 1, f"records written and said dropped ({detail_what})", detail)
    summary = [r for r in records if r.get("summary") == "dropped"]
    expect_eq([r["records"] for r in summary], [said], "the summary's dropped count", detail)


@case("stderr pipe never read 500 refused connects bounded drops said when it drains")
def stalled_pipe(h):
    _, plain = stalled_pipe_run(h, 500, fill_nonblocking=False, preload=False)
    expect_eq(plain, [], "what the program wrote to its stderr itself")
    took, records = stalled_pipe_run(h, 500, fill_nonblocking=False)
    # Before: every record waited for the reader, 10 s and more. A generous
    # bound: each record may wait a few ms, and a stalled log stops waiting.
    expect(took < 5, f"500 refused connects took {took:.1f} s with a stalled stderr reader")
    check_drops(records, 500, "stalled pipe")


@case("stderr full non-blocking pipe records dropped and said")
def full_nonblocking_pipe(h):
    _, plain = stalled_pipe_run(h, 50, fill_nonblocking=True, preload=False)
    expect_eq(plain, [], "what the program wrote to its stderr itself")
    took, records = stalled_pipe_run(h, 50, fill_nonblocking=True)
    expect(took < 5, f"50 refused connects took {took:.1f} s with a full stderr pipe")
    check_drops(records, 50, "full non-blocking pipe")


@case("log file past RLIMIT_FSIZE whole lines drops counted")
def log_past_fsize_whole(h):
    limit, count = 20000, 200
    argv = ["/usr/bin/prlimit", f"--fsize={limit}", "--", h.prog("connect_refused"), "blocking", "4", count]
    plain = h.run(argv, preload=False).expect_rc(0)
    log, summary = h.path("fsize.log"), h.path("summary.json")
    run = h.run(argv, settings={"LOG": log, "FORMAT": "json", "SUMMARY": summary})
    expect_eq((run.rc, run.out.count("ECONNREFUSED"), run.err), (plain.rc, plain.out.count("ECONNREFUSED"), plain.err),
              "status and output with the log at the limit", run.describe())
    size = os.path.getsize(log)
    expect(size <= limit, f"the log is {size} bytes, past the limit {limit}")
    text = read_text(log)
    expect(text.endswith("\n"), "the log ends in a cut line", text[-300:])
    lines = parse_records(text, log)  # every line one whole record
    records = [r for r in lines if "dropped" not in r]
    dropped = [r["records"] for r in read_records(summary) if r.get("summary") == "dropped"]
    expect_eq(dropped, [count - len(records)], "the summary's dropped count (records that did not fit)")
    # A drop line fits where a record did not: it says what was dropped before it.
    expect(drops_said(lines) <= dropped[0], "drop lines say more than was dropped")


# ---- signals -------------------------------------------------------------------------


def sigpipe_case(h, mode):
    count = 300
    results = {}
    for preload in (False, True):
        r, w = os.pipe()
        os.close(r)  # the reader is gone: every record meets EPIPE
        argv = [log_sink(h), "sigpipe", count, mode]
        proc = subprocess.Popen([str(a) for a in argv], env=h.env(preload, {"FORMAT": "json"}),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=w, start_new_session=True)
        h.processes.append(proc)
        os.close(w)
        out, _ = proc.communicate(timeout=40)
        results[preload] = (proc.returncode, out.decode(errors="replace"))
    expect_eq(results[False], (0, f"SIGPIPE taken {count} times of {count} sent\nSIGPIPE pending at the end: no\n"),
              "without the library")
    expect_eq(results[True], results[False], "status and output under the library")


@case("stderr pipe without reader SIGPIPE from another process handler runs once per signal")
def sigpipe_handler(h):
    sigpipe_case(h, "handler")


@case("stderr pipe without reader SIGPIPE from another process blocked and taken by sigwaitinfo")
def sigpipe_blocked(h):
    sigpipe_case(h, "blocked")


# ---- the log fd ----------------------------------------------------------------------


def fds_at_limit(h, limit):
    argv = ["/usr/bin/prlimit", f"--nofile={limit}:{limit}", "--", log_sink(h), "fds"]
    plain = h.run(argv, preload=False).expect_rc(0)
    run = h.run_logged(argv).expect_rc(0)
    expect_eq(run.out, plain.out, f"the fd numbers the program got at RLIMIT_NOFILE {limit}", run.describe())
    expect_eq(len(run.records), 3, "records in the log (it had an fd)", run.describe())


@case("RLIMIT_NOFILE 16 the program's fd numbers are as without the library")
def nofile_16(h):
    fds_at_limit(h, 16)


@case("RLIMIT_NOFILE 20 the program's fd numbers are as without the library")
def nofile_20(h):
    fds_at_limit(h, 20)


@case("RLIMIT_NOFILE 4 no free high fd runs without a log and says so once")
def nofile_4(h):
    argv = ["/usr/bin/prlimit", "--nofile=4:4", "--", log_sink(h), "fds"]
    plain = h.run(argv, preload=False)
    run = h.run_logged(argv)
    expect_eq((run.rc, run.out), (plain.rc, plain.out), "status and stdout at RLIMIT_NOFILE 4", run.describe())
    said = [line for line in run.err.splitlines() if line.startswith("sockdiag:")]
    expect_eq(len(said), 1, "lines saying the log has no fd", run.describe())
    expect("RLIMIT_NOFILE 4" in said[0], "the line names the limit", said[0])
    own = [line for line in run.err.splitlines() if not line.startswith("sockdiag:")]
    expect_eq(own, plain.err.splitlines(), "the program's own stderr", run.describe())
    expect(not os.path.exists(run.log) or os.path.getsize(run.log) == 0, "a log file written without an fd")


@case("log fd looks closed to fcntl and dup as to close")
def log_fd_looks_closed(h):
    log = h.path("probe.log")
    run = h.run([log_sink(h), "logfd", log], settings={"LOG": log, "FORMAT": "json"}).expect_rc(0)
    for what in ("fcntl F_GETFD", "fcntl F_DUPFD", "dup", "dup2 to 100", "close"):
        run.expect_out(f"{what}: -1 EBADF")
    run.expect_out("log fd: found")
    # Still the log after every probe.
    expect_eq(len(read_records(log)), 2, "records in the log", run.describe())



@case("stderr log a terminal with tostop a background program is not stopped by a record")
def tostop_terminal(h):
    # A background job writing to a terminal with TOSTOP gets SIGTTOU, which
    # stops its whole process group: the program's own writes would, the
    # library's records must not. script(1) gives the job control shell a
    # terminal.
    script = h.path("job.sh")
    with open(script, "w") as f:
        f.write('set -m\nstty tostop\n"$@" > /dev/null &\nwait $!\necho "job status $?"\n')
    argv = ["/usr/bin/script", "-qec", f"/bin/bash {script} {h.prog('connect_refused')} blocking 4 2", "/dev/null"]
    plain = h.run(argv, preload=False, timeout=20)
    expect("job status 0" in plain.out, "the background job without the library", plain.describe())
    run = h.run(argv, settings={"LEVEL": "error"}, timeout=20)
    expect("job status 0" in run.out, "the background job under the library (150: stopped by SIGTTOU)",
           run.describe())
    expect_eq(run.out.count("ECONNREFUSED"), 2, "records on the terminal", run.describe())


# ---- a per-process log opened by the first record -------------------------------------

EMFILE_SCRIPT = r"""
import os, resource, socket
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
c = socket.create_connection(l.getsockname())
resource.setrlimit(resource.RLIMIT_NOFILE, (32, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
held = []
try:
    while True:
        held.append(os.open("/dev/null", os.O_RDONLY))
except OSError as e:
    print("open:", e.strerror)
try:
    l.accept()
except OSError as e:
    print("accept:", e.strerror)
os.close(held.pop())
os.close(held.pop())
s, _ = l.accept()
print("accepted after two closes")
for fd in held[-4:]:
    os.close(fd)
gone = socket.socket(); gone.bind(("127.0.0.1", 0)); port = gone.getsockname()[1]; gone.close()
try:
    socket.create_connection(("127.0.0.1", port))
except OSError as e:
    print("connect:", e.strerror)
"""


@case("per-process log its first record out of fds dropped counted and said when the file opens")
def per_process_log_out_of_fds(h):
    # The %p file is made by the process's first record: a process that has
    # run out of fds cannot make it then. The record is lost, but never silently.
    argv = [PYTHON, "-c", EMFILE_SCRIPT]
    plain = h.run(argv, preload=False).expect_rc(0)
    logdir = h.path("perpid")
    os.mkdir(logdir)
    summary = h.path("summary.json")
    run = h.run(argv, settings={"LOG": os.path.join(logdir, "log.%p"), "FORMAT": "json", "SUMMARY": summary})
    expect_eq((run.rc, run.out, run.err), (plain.rc, plain.out, plain.err), "status and output under the library")
    logs = os.listdir(logdir)
    expect_eq(len(logs), 1, "per-process logs made", logs)
    lines = parse_records(read_text(os.path.join(logdir, logs[0])), logs[0])
    dropped = [r["records"] for r in read_records(summary) if r.get("summary") == "dropped"]
    expect_eq(dropped, [1], "the summary's count of records that found no file (the accept's)", read_text(summary))
    expect_eq(drops_said(lines), dropped[0], "the file, once open, says what was dropped before it", lines)
    expect(any(r.get("code") == "ECONNREFUSED" for r in lines), "the record after the drops is in the file", lines)
    counted = {(r["call"], r["code"]) for r in read_records(summary) if r.get("summary") == "count"}
    expect(any(code == "EMFILE" and call.startswith("accept") for call, code in counted),
           "the accept's EMFILE is counted", counted)
