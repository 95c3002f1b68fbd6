"""Where records go: every path the library writes to or reads (SOCKDIAG_LOG,
SOCKDIAG_SUMMARY, SOCKDIAG_CONFIG) is checked before main, and a path that
cannot work stops the program with one line (exit status 78) instead of
hanging on a FIFO or losing every record without a word. Logs are opened
without following a link another user planted in a sticky world-writable
directory, and made readable by their owner only."""
import glob
import os
import stat
import sys

from cases_config import expect_refused
from harness import case, expect, expect_eq, parse_records, read_records, read_text

# Debian's own python3 (not a version manager's wrapper script around it).
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
NOBODY = 65534
# Refusals must come before main at once; a hang is caught well before the
# case's own time limit.
HANG_LIMIT = 15


def runs_without_library(h, argv):
    """The program runs (and says so) without the library."""
    run = h.run(argv, preload=False, timeout=HANG_LIMIT)
    run.expect_rc(0)
    return run


def check_refused(h, settings, must_name, argv=None):
    """Without the library the program runs; with it, it must not start:
    exit status 78 and one line on stderr naming every word of `must_name`."""
    argv = argv or ["/bin/echo", "main ran"]
    runs_without_library(h, argv)
    return expect_refused(h.run(argv, settings=settings, timeout=HANG_LIMIT), must_name)


def refusing_program(h):
    """A program that writes a record: a log it cannot use would lose it."""
    return [h.prog("connect_refused"), "blocking", "4", "1"]


def sticky_dir(h):
    """A new sticky world-writable directory (as /tmp is), owned by root."""
    d = h.path("sticky")
    os.mkdir(d)
    os.chmod(d, 0o1777)
    return d


def planted_link(directory, name, target, owner):
    link = os.path.join(directory, name)
    os.symlink(target, link)
    os.chown(link, owner, owner, follow_symlinks=False)
    return link


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@case("log FIFO without a reader stops before main")
def fifo_no_reader(h):
    fifo = h.path("log.fifo")
    os.mkfifo(fifo)
    check_refused(h, {"LOG": fifo}, ["SOCKDIAG_LOG", fifo, "FIFO", "no process has open for reading"])


@case("log FIFO with a reader receives the records")
def fifo_with_reader(h):
    fifo = h.path("log.fifo")
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    h.closers.append(lambda: os.close(reader))
    argv = refusing_program(h)
    plain = runs_without_library(h, argv)
    run = h.run(argv, settings={"LOG": fifo, "FORMAT": "json"}, timeout=HANG_LIMIT).expect_rc(0)
    expect_eq(run.lines()[1:], plain.lines()[1:], "the program's output after its port line", run.describe())
    data = os.read(reader, 1 << 16).decode()
    records = parse_records(data, "the FIFO")
    expect_eq([(r["call"], r["code"]) for r in records], [("connect", "ECONNREFUSED")], "records read from the FIFO",
              data)


@case("settings file that is a FIFO a directory or proc self mem stops before main")
def config_not_a_file(h):
    fifo = h.path("settings.fifo")
    os.mkfifo(fifo)
    check_refused(h, {"CONFIG": fifo}, ["SOCKDIAG_CONFIG", fifo, "is a FIFO", "accepted"])
    check_refused(h, {"CONFIG": h.tmp}, ["SOCKDIAG_CONFIG", h.tmp, "is a directory", "accepted"])
    # A regular file by its mode, which no read of it at offset 0 succeeds on.
    check_refused(h, {"CONFIG": "/proc/self/mem"},
                  ["SOCKDIAG_CONFIG", "/proc/self/mem", os.strerror(5), "accepted"])


@case("summary FIFO stops before main and one made before exit does not hang it")
def summary_fifo(h):
    fifo = h.path("summary.fifo")
    os.mkfifo(fifo)
    check_refused(h, {"SUMMARY": fifo}, ["SOCKDIAG_SUMMARY", fifo, "is a FIFO", "regular file"])
    # Checked at start, the path becomes a FIFO before exit: the summary
    # is not written (nobody reads), and the program still ends.
    path = h.path("summary.json")
    script = f"import os\nos.mkfifo({path!r})\nprint('swapped')"
    for preload in (False, True):
        if os.path.lexists(path):
            os.unlink(path)
        run = h.run([PYTHON, "-c", script], preload=preload, settings={"SUMMARY": path}, timeout=HANG_LIMIT)
        run.expect_rc(0).expect_out("swapped")
        expect(stat.S_ISFIFO(os.lstat(path).st_mode), "the summary path is no longer the FIFO", run.describe())


@case("log in a missing directory or naming a directory stops before main")
def log_missing_or_directory(h):
    check_refused(h, {"LOG": "/nonexistent/dir/x.log"},
                  ["SOCKDIAG_LOG", "/nonexistent/dir/x.log", "'/nonexistent/dir' does not exist", "accepted"])
    check_refused(h, {"LOG": h.tmp}, ["SOCKDIAG_LOG", h.tmp, "is a directory", "accepted"])
    check_refused(h, {"LOG": h.tmp + "/"}, ["SOCKDIAG_LOG", "names a directory"])
    # The same value from a settings file is named as the file's setting.
    conf = h.path("settings.conf")
    with open(conf, "w") as f:
        f.write("log = /nonexistent/dir/x.log\n")
    check_refused(h, {"CONFIG": conf}, ["log in the SOCKDIAG_CONFIG file", "does not exist"])


@case("log symlink planted by another user in a sticky directory is refused")
def planted_symlink(h):
    d = sticky_dir(h)
    target = h.path("target")
    with open(target, "w") as f:
        f.write("keep\n")
    os.chmod(target, 0o644)
    link = planted_link(d, "app.log", target, NOBODY)
    argv = refusing_program(h)
    check_refused(h, {"LOG": link, "FORMAT": "json"}, ["SOCKDIAG_LOG", link, "symbolic link", "uid 65534"], argv)
    expect_eq(read_text(target), "keep\n", "the link's target after the refused run")
    expect_eq(mode_of(target), 0o644, "the mode of the link's target")
    # A dangling planted link: no root-owned file appears where it points.
    missing = h.path("would-be-created")
    dangling = planted_link(d, "new.log", missing, NOBODY)
    check_refused(h, {"LOG": dangling, "FORMAT": "json"}, ["SOCKDIAG_LOG", dangling, "symbolic link"], argv)
    expect(not os.path.lexists(missing), "the refused link's target was created")
    # A regular file planted there is refused as well (protected_regular).
    planted = os.path.join(d, "planted.log")
    with open(planted, "w") as f:
        f.write("keep\n")
    os.chown(planted, NOBODY, NOBODY)
    check_refused(h, {"LOG": planted, "FORMAT": "json"}, ["SOCKDIAG_LOG", planted, "uid 65534"], argv)
    expect_eq(read_text(planted), "keep\n", "the planted file after the refused run")


@case("log symlink of the opener or outside a sticky directory is followed")
def trusted_symlink(h):
    argv = refusing_program(h)
    plain = runs_without_library(h, argv)
    d = sticky_dir(h)
    mine = planted_link(d, "mine.log", h.path("mine-target"), os.geteuid())
    # Anyone's link in a directory that is not sticky and world-writable.
    plain_dir = h.path("plain")
    os.mkdir(plain_dir)
    theirs = planted_link(plain_dir, "theirs.log", h.path("theirs-target"), NOBODY)
    for link in (mine, theirs):
        run = h.run(argv, settings={"LOG": link, "FORMAT": "json"}, timeout=HANG_LIMIT).expect_rc(0)
        expect_eq(run.lines()[1:], plain.lines()[1:], "the program's output after its port line", run.describe())
        records = read_records(os.path.realpath(link))
        expect_eq([(r["call"], r["code"]) for r in records], [("connect", "ECONNREFUSED")],
                  f"records in the target of {link}", run.describe())


@case("new log and summary files are readable by their owner only")
def new_file_mode(h):
    argv = refusing_program(h)
    log, per_pid, summary = h.path("new.log"), h.path("new.%p.log"), h.path("summary.json")
    for settings in ({"LOG": log}, {"LOG": per_pid}, {"SUMMARY": summary}):
        h.run(argv, settings=dict(settings, FORMAT="json"), timeout=HANG_LIMIT).expect_rc(0)
    made = [log, summary] + glob.glob(h.path("new.*[0-9].log"))
    expect_eq(len(made), 3, "files made", made)
    for path in made:
        expect_eq(oct(mode_of(path)), oct(0o600), f"mode of {path}")


CHDIR_CHILD = """
import os, socket, sys
def refused():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    c = socket.socket()
    print(os.getpid(), "connect:", os.strerror(c.connect_ex(holder.getsockname())), flush=True)
pid = os.fork()
if pid == 0:
    os.chdir(sys.argv[1])
    refused()
    os._exit(0)
os.waitpid(pid, 0)
refused()
"""


@case("relative per-process log lands in the start directory after a child's chdir")
def relative_per_pid(h):
    start, elsewhere = h.path("start"), h.path("elsewhere")
    os.mkdir(start)
    os.mkdir(elsewhere)
    argv = [PYTHON, "-c", CHDIR_CHILD, elsewhere]
    plain = h.run(argv, preload=False, cwd=start, timeout=HANG_LIMIT).expect_rc(0)
    run = h.run(argv, settings={"LOG": "rel.%p.json", "FORMAT": "json"}, cwd=start, timeout=HANG_LIMIT).expect_rc(0)
    strip = [line.split(" ", 1)[1] for line in run.lines()]
    expect_eq(strip, [line.split(" ", 1)[1] for line in plain.lines()], "the program's output (pids aside)",
              run.describe())
    pids = [line.split()[0] for line in run.lines()]
    expect_eq(sorted(os.listdir(elsewhere)), [], "files in the child's new directory", run.describe())
    expect_eq(sorted(os.listdir(start)), sorted(f"rel.{pid}.json" for pid in pids), "files in the start directory",
              run.describe())
    for pid in pids:
        records = read_records(os.path.join(start, f"rel.{pid}.json"))
        expect_eq([(r["call"], r["code"], r["pid"]) for r in records], [("connect", "ECONNREFUSED", int(pid))],
                  f"records of pid {pid}")


@case("an exec'd process that records nothing makes no per-process log")
def per_pid_lazy(h):
    pattern = h.path("quiet.%p.log")
    argv = ["/bin/sh", "-c", "/bin/true; /bin/echo main ran"]
    plain = runs_without_library(h, argv)
    run = h.run(argv, settings={"LOG": pattern}, timeout=HANG_LIMIT).expect_rc(0)
    expect_eq(run.out, plain.out, "the program's output", run.describe())
    expect_eq(glob.glob(h.path("quiet.*")), [], "per-process logs of processes that recorded nothing")
    # The same pattern for a process that records: its file is made.
    h.run(refusing_program(h), settings={"LOG": pattern}, timeout=HANG_LIMIT).expect_rc(0)
    expect_eq(len(glob.glob(h.path("quiet.*"))), 1, "per-process logs after a process that recorded")
