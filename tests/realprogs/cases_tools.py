"""Command-line network tools under the library: socat relaying between two
loopback ports, ncat sending a file from its stdin (which it probes with
recv() first), ssh refused by a closed local port, git cloning from git
daemon (started inetd-style on the accepted connection, so that its socket
arrives as stdin/stdout through exec), and dig querying a closed UDP port
(libuv sends its query with sendmmsg through syscall())."""
import contextlib
import hashlib
import os
import socket
import subprocess
import struct
import threading

from harness import case, expect, expect_eq
from modes import closed_port, describe, listening_port, three_runs
from debian_tools import tool

RELAY_BYTES = 1 << 20


@contextlib.contextmanager
def echo_server():
    """A plain TCP echo server on 127.0.0.1 (a thread of the test, without
    the library); yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(60)

    def serve():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        t.join(timeout=10)


def through(port, payload):
    """Sends `payload` to `port`, half-closes, and returns all that comes back."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        back = []
        sender = threading.Thread(target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR)))
        sender.start()
        while chunk := s.recv(65536):
            back.append(chunk)
        sender.join()
    return b"".join(back)


@case("socat relay between two loopback ports")
def socat_relay(h):
    socat = tool("/usr/bin/socat")
    payload = os.urandom(RELAY_BYTES)

    def scenario(mode):
        with echo_server() as target:
            # One connection, relayed both ways; socat exits when both directions are done.
            # -t 30: after the client's half-close socat waits for the echo's end
            # (by default only 0.5 s, which a loaded machine can outlast).
            relay = mode.start([socat, "-t", "30", "TCP-LISTEN:0,bind=127.0.0.1,reuseaddr",
                                f"TCP:127.0.0.1:{target}"])
            back = through(listening_port(relay), payload)
            out, err = relay.communicate(timeout=30)
        return relay.returncode, out, err, hashlib.sha256(back).hexdigest() == hashlib.sha256(payload).hexdigest()

    runs = three_runs(h, scenario, [("socat", call) for call in ("accept", "connect", "read", "write")])
    expect_eq(runs["plain"][0], (0, b"", b"", True), "socat's status, output, and the bytes relayed")


@case("ncat with a file as stdin probes it without a record")
def ncat_stdin_probe(h):
    # ncat calls recv() on fd 0 to learn whether stdin is a socket and reads
    # it with read() after ENOTSOCK: expected flow, no record at the default
    # level (three_runs checks that the healthy run leaves none).
    ncat = tool("/usr/bin/ncat")
    payload = os.urandom(64 * 1024)
    source = h.path("ncat-input")
    with open(source, "wb") as f:
        f.write(payload)

    def scenario(mode):
        with echo_server() as port, open(source, "rb") as stdin:
            proc = mode.popen([ncat, "127.0.0.1", str(port)], stdin=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
            out, err = proc.communicate(timeout=30)
        return proc.returncode, err, out == payload

    runs = three_runs(h, scenario, [("ncat", "connect")])
    expect_eq(runs["plain"][0], (0, b"", True), "ncat's status, stderr, and the bytes echoed back")
    # recv() reaches the library as recvfrom in some libc versions.
    probes = [r for r in runs["trace"][1]
              if r["call"] in ("recv", "recvfrom") and r["fd"] == 0 and r["code"] == "ENOTSOCK"]
    expect(probes and all(r["level"] == "debug" for r in probes),
           "ncat's recv() probe of stdin is not a debug record at trace level", describe(runs["trace"][1], 60))


@case("ssh to a closed local port recorded as refused")
def ssh_refused(h):
    ssh = tool("/usr/bin/ssh")
    with closed_port() as port:
        def scenario(mode):
            # No user configuration, no host keys touched: the connect is all there is.
            run = mode.run([ssh, "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20",
                            "-o", "UserKnownHostsFile=/dev/null", "-p", port, "127.0.0.1", "true"], timeout=60)
            return run.rc, run.out, run.err

        runs = three_runs(h, scenario, [("ssh", "socket"), ("ssh", "connect")], healthy=False)
    # ssh ends its own message with CR LF.
    expect_eq(runs["plain"][0], (255, "", f"ssh: connect to host 127.0.0.1 port {port}: Connection refused\r\n"),
              "ssh's status and output")
    records = runs["default"][1]
    expect_eq([(r["prog"], r["call"], r["code"], r["peer"], r["level"]) for r in records],
              [("ssh", "connect", "ECONNREFUSED", f"127.0.0.1:{port}", "error")], "records at the default level",
              describe(records))
    expect(f"127.0.0.1:{port}" in records[0]["explanation"], "the explanation does not name the refused address",
           records[0]["explanation"])


def make_repository(h):
    """A bare repository with two commits, under base/r.git."""
    work, base = h.path("work"), h.path("base")
    git = tool("/usr/bin/git")
    env = dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.invalid")
    steps = [[git, "init", "-q", "-b", "main", work]]
    for n in range(2):
        steps.append(["sh", "-c", f"head -c 200000 /dev/urandom > {work}/file{n} && {git} -C {work} add file{n} && "
                                  f"{git} -C {work} commit -q -m 'commit {n}'"])
    steps.append([git, "clone", "-q", "--bare", work, os.path.join(base, "r.git")])
    for step in steps:
        subprocess.run(step, env=env, check=True, capture_output=True, timeout=60)
    return base


@case("git clone from git daemon started inetd-style")
def git_clone(h):
    git = tool("/usr/bin/git")
    base = make_repository(h)
    git_env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": h.tmp}

    def scenario(mode):
        dest = h.path(f"clone-{mode.name}")
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            listener.settimeout(60)
            clone = mode.start([git, "clone", "-q", f"git://127.0.0.1:{listener.getsockname()[1]}/r.git", dest],
                               extra=git_env)
            conn, _ = listener.accept()
            with conn:
                daemon = mode.popen([git, "daemon", "--inetd", f"--base-path={base}", "--export-all"], extra=git_env,
                                    stdin=conn.fileno(), stdout=conn.fileno(), stderr=subprocess.DEVNULL)
        clone_out, clone_err = clone.communicate(timeout=60)
        daemon.wait(timeout=60)
        log = subprocess.run([git, "-C", dest, "log", "--format=%H %s"], capture_output=True, text=True, timeout=30)
        files = {name: hashlib.sha256(open(os.path.join(dest, name), "rb").read()).hexdigest()
                 for name in ("file0", "file1")}
        return clone.returncode, clone_out, clone_err, daemon.returncode, log.stdout, files

    runs = three_runs(h, scenario, [("git", "connect"), ("git", "read"), ("git-daemon", "read")])
    expect_eq(runs["plain"][0][0], 0, "git clone's exit status")
    # The daemon's socket came through exec as fd 0: recognised as one.
    stdin_socket = [r for r in runs["trace"][1] if r["prog"] == "git-daemon" and r["fd"] == 0 and r["kind"] == "tcp4"]
    expect(stdin_socket, "no trace record of git daemon's socket on fd 0 as tcp4", describe(runs["trace"][1], 40))


def closed_udp_port():
    """A loopback UDP port nobody holds (bound, then released): a datagram
    sent to it comes back as ICMP port unreachable."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@case("dig query to a closed UDP port recorded with its send and refusal")
def dig_refused(h):
    dig = tool("/usr/bin/dig")
    # dig's libuv imports syscall and no sendmmsg: its query goes out through
    # syscall(SYS_sendmmsg), the refusal comes back on recvmsg.
    port = closed_udp_port()

    def scenario(mode):
        run = mode.run([dig, "@127.0.0.1", "-p", port, "+tries=1", "+time=1", "example.test"], timeout=60)
        return run.rc, run.out, run.err

    runs = three_runs(h, scenario, [("dig", "socket"), ("dig", "connect"), ("dig", "sendmmsg")], healthy=False)
    rc, out, _ = runs["plain"][0]
    expect_eq(rc, 9, "dig's exit status (no reply from the server)")
    expect(f"communications error to 127.0.0.1#{port}: connection refused" in out,
           "dig did not meet the refusal", out)
    for name in ("default", "trace"):
        records = runs[name][1]
        refused = [r for r in records if r["prog"] == "dig" and r["code"] == "ECONNREFUSED"]
        expect_eq(len(refused), 1, f"refusal records at the {name} level", describe(records, 60))
        expect_eq(refused[0]["peer"], f"127.0.0.1:{port}", "the refused peer", describe(refused))
        expect(refused[0].get("bytes_sent", 0) > 0, "the refusal's record says no byte was sent before it",
               describe(refused))
    sent = [r for r in runs["trace"][1] if r["prog"] == "dig" and r["call"] == "sendmmsg" and r["ret"] == 1]
    expect_eq(len(sent), 1, "trace records of the query's sendmmsg", describe(runs["trace"][1], 60))
    expect_eq(sent[0]["peer"], f"127.0.0.1:{port}", "the query's destination", describe(sent))


@case("git daemon inetd-style reset by its client records the client as peer")
def git_daemon_reset(h):
    git = tool("/usr/bin/git")
    base = make_repository(h)
    git_env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": h.tmp}
    clients = {}

    def scenario(mode):
        # A client asks for the repository's refs, reads the advertisement,
        # then resets the connection: the daemon's side, which came through
        # exec as fd 0, meets the reset.
        with socket.socket() as listener, socket.socket() as client:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            listener.settimeout(60)
            client.settimeout(60)
            client.connect(listener.getsockname())
            clients[mode.name] = "%s:%d" % client.getsockname()
            conn, _ = listener.accept()
            with conn:
                daemon = mode.popen([git, "daemon", "--inetd", f"--base-path={base}", "--export-all"], extra=git_env,
                                    stdin=conn.fileno(), stdout=conn.fileno(), stderr=subprocess.DEVNULL)
            request = b"git-upload-pack /r.git\0host=127.0.0.1\0"
            client.sendall(b"%04x" % (len(request) + 4) + request)
            advert = b""
            while not advert.endswith(b"0000"):
                chunk = client.recv(65536)
                if not chunk:
                    break
                advert += chunk
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        daemon.wait(timeout=60)
        return daemon.returncode, advert.endswith(b"0000")

    runs = three_runs(h, scenario, [], healthy=False)
    expect(runs["plain"][0][1], "the client got no ref advertisement")
    resets = [r for r in runs["default"][1] if r["code"] == "ECONNRESET" and r["fd"] in (0, 1)]
    expect(resets, "no record of the reset on the daemon's inherited socket", describe(runs["default"][1], 40))
    for rec in resets:
        expect_eq(rec["peer"], clients["default"], "peer of the inherited socket's reset", describe(resets))
        expect(rec["local"].startswith("127.0.0.1:"), "local address of the inherited socket", describe(resets))
        expect_eq(rec.get("inherited"), True, "the record says the socket was inherited", describe(resets))
        expect("since this process started" in rec["explanation"], "the history is not said to start with the process",
               describe(resets))
