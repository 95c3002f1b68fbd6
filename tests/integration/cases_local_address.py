"""The local address of a connection in its records: the one the connect
bound (127.0.0.1:P), also after an injected reset, which leaves the kernel
a wildcard address (0.0.0.0:P, [::]:P)."""
import os
import sys

from harness import case, expect_eq, select_records

PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

# A client connects to a loopback listener, prints its local address, and
# receives what the server sent (the server only accepts and sends).
CLIENT = r"""
import socket, sys
family = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
host = "::1" if sys.argv[1] == "6" else "127.0.0.1"
l = socket.socket(family, socket.SOCK_STREAM)
l.bind((host, 0))
l.listen(1)
c = socket.socket(family, socket.SOCK_STREAM)
c.connect(l.getsockname()[:2])
a, _ = l.accept()
a.sendall(b"hello")
local = c.getsockname()
print(f"local: [{local[0]}]:{local[1]}" if family == socket.AF_INET6 else f"local: {local[0]}:{local[1]}", flush=True)
try:
    print("recv:", c.recv(64).decode(), flush=True)
except ConnectionResetError:
    print("recv: ECONNRESET", flush=True)
"""


def check_local_after_reset(h, family):
    argv = [PYTHON, "-c", CLIENT, family]
    plain = h.run(argv, preload=False).expect_rc(0)
    plain.expect_out("recv: hello")
    run = h.run_logged(argv, settings={"INJECT": "recv:reset"}).expect_rc(0)
    run.expect_out("recv: ECONNRESET")
    recs = select_records(run.records, call="recv", code="ECONNRESET", injected=True)
    expect_eq(len(recs), 1, "injected resets recorded", run.describe())
    expect_eq(recs[0]["local"], run.value("local:"), "local address of the injected reset", run.describe())


@case("local address of an injected reset ipv4")
def local_after_reset_v4(h):
    check_local_after_reset(h, "4")


@case("local address of an injected reset ipv6")
def local_after_reset_v6(h):
    check_local_after_reset(h, "6")
