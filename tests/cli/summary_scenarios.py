"""Process trees whose failures the exit-time summary used to lose: each
makes failing connects (ECONNREFUSED on loopback) or binds (EADDRINUSE), then
ends in a way that skips or defeats a write at exit.

    summary_scenarios.py NAME

Prints one line per failure it met (the same with or without the library).
Every wait is bounded. For `daemon`, SD_DAEMON_PIDFILE names a file that
receives the daemon's pid, so that a caller can wait for it.
"""
import os
import select
import signal
import socket
import sys
import time

LIMIT = 10  # seconds: any wait here longer than this is a failed test


def say(line):
    """One write per line: lines of threads never interleave (print()
    writes the text and its newline apart)."""
    os.write(1, (line + "\n").encode())


def refused(n):
    """n connects refused by the loopback (a port just released)."""
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        c = socket.socket()
        try:
            c.connect(("127.0.0.1", port))
        except OSError as e:
            say(f"{'main' if os.getpid() == MAIN else 'child'}: {e.strerror}")
        finally:
            c.close()


def in_use(holder, n):
    """n binds to the port `holder` is bound to: EADDRINUSE."""
    port = holder.getsockname()[1]
    for _ in range(n):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            say(f"child: {e.strerror}")
        finally:
            s.close()


def wait_child(pid):
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    sys.exit("a child did not end in time")


def read_line(fd):
    ready, _, _ = select.select([fd], [], [], LIMIT)
    return os.read(fd, 64) if ready else b""


def sigterm():
    """A daemon stopped by SIGTERM after failing, then its parent killed by SIGTERM too."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        refused(2)
        os.write(w, b"ready\n")
        time.sleep(LIMIT)
        os._exit(1)
    os.close(w)
    if read_line(r) != b"ready\n":
        sys.exit("the child did not get ready")
    refused(1)
    os.kill(pid, signal.SIGTERM)
    wait_child(pid)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(LIMIT)


def sigint():
    """A Python program that re-raises SIGINT, as its KeyboardInterrupt handling does."""
    refused(2)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(LIMIT)


def exit_in_handler():
    """_exit from a signal handler: no exit handler, no library destructor."""
    signal.signal(signal.SIGUSR1, lambda *_: os._exit(3))
    refused(2)
    os.kill(os.getpid(), signal.SIGUSR1)
    time.sleep(LIMIT)


def become_nobody():
    # Groups first, then gid, then uid: after setuid the others can no longer change.
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def setuid():
    """A child that drops privileges to nobody, then fails and exits normally
    (a file root created 0600 is closed to it at exit). Needs root."""
    refused(1)
    pid = os.fork()
    if pid == 0:
        become_nobody()
        refused(2)
        sys.exit(0)
    if wait_child(pid) != 0:
        sys.exit("the child that dropped privileges failed")


def exec_as_nobody():
    """A child that drops privileges to nobody and execs a new program, which
    fails (the summary's fallback file, root's and 0600, is closed to it from
    its start). Needs root."""
    refused(1)
    pid = os.fork()
    if pid == 0:
        become_nobody()
        python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        os.execv(python, [python, os.path.abspath(__file__), "refused_twice"])
    if wait_child(pid) != 0:
        sys.exit("the program exec'd as nobody failed")


def refused_twice():
    refused(2)


def daemon():
    """A daemon (double fork, setsid) that fails after the process that
    started it has ended."""
    r, w = os.pipe()
    pid_r, pid_w = os.pipe()
    middle = os.fork()
    if middle == 0:
        if os.fork() == 0:
            os.setsid()
            os.close(w)
            os.write(pid_w, f"{os.getpid()}\n".encode())
            # EOF: the starting process has ended (it held the write end).
            select.select([r], [], [], LIMIT)
            refused(2)
            sys.exit(0)
        os._exit(0)
    wait_child(middle)
    os.close(r)
    daemon_pid = read_line(pid_r).decode().strip()
    if not daemon_pid:
        sys.exit("the daemon did not start")
    pidfile = os.environ.get("SD_DAEMON_PIDFILE")
    if pidfile:
        with open(pidfile, "w") as f:
            f.write(daemon_pid + "\n")
    refused(1)


def daemon_stays():
    """A daemon that fails once, then keeps running (at most 3 * LIMIT: its
    caller kills it once done)."""
    pid_r, pid_w = os.pipe()
    middle = os.fork()
    if middle == 0:
        if os.fork() == 0:
            os.setsid()
            refused(1)
            os.write(pid_w, f"{os.getpid()}\n".encode())
            time.sleep(3 * LIMIT)
            os._exit(0)
        os._exit(0)
    wait_child(middle)
    daemon_pid = read_line(pid_r).decode().strip()
    if not daemon_pid:
        sys.exit("the daemon did not start")
    with open(os.environ["SD_DAEMON_PIDFILE"], "w") as f:
        f.write(daemon_pid + "\n")


def fork():
    """A forked child counts apart from its parent: the parent's connects are
    refused before and after the fork, the child's binds find the port taken."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    refused(1)
    pid = os.fork()
    if pid == 0:
        in_use(holder, 2)
        sys.exit(0)
    if wait_child(pid) != 0:
        sys.exit("the forked child failed")
    refused(1)


def threads():
    """8 threads failing at once: they take the process's slot and its
    entries together (a race on the first count)."""
    import threading
    start = threading.Barrier(8)

    def work():
        start.wait(LIMIT)
        refused(25)

    workers = [threading.Thread(target=work) for _ in range(8)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(LIMIT)


MAIN = os.getpid()
SCENARIOS = {f.__name__: f for f in (sigterm, sigint, exit_in_handler, setuid, exec_as_nobody, refused_twice, daemon, daemon_stays, fork, threads)}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(SCENARIOS)}")
    SCENARIOS[sys.argv[1]]()
