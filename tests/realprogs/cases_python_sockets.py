"""python3's socket module on both ends: a threaded TCP server
(socketserver) answering four client threads, and UDP in lock step."""
import os
import re

from harness import case, expect
from debian_tools import PYTHON
from modes import three_runs

HERE = os.path.dirname(os.path.abspath(__file__))


@case("python socket client and server")
def python_sockets(h):
    def scenario(mode):
        server = mode.start([PYTHON, "-u", os.path.join(HERE, "py_echo_server.py")])
        line = h.read_line(server)
        ports = re.fullmatch(r"tcp (\d+) udp (\d+)\n", line)
        expect(ports, f"py_echo_server.py said {line!r}, not its ports")
        client = mode.run([PYTHON, os.path.join(HERE, "py_socket_client.py"), ports.group(1), ports.group(2)],
                          timeout=60)
        out, err = server.communicate(timeout=30)
        return client.rc, client.out, client.err, server.returncode, out.decode(), err.decode()

    runs = three_runs(h, scenario, [("python3", call) for call in ("accept4", "connect", "send", "recv", "sendto",
                                                                   "recvfrom")])
    client_rc, client_out = runs["plain"][0][:2]
    expect(client_rc == 0 and "tcp: 4 of 4 threads got every answer" in client_out and
           "udp: 100 of 100 datagrams echoed" in client_out, f"the client failed without the library:\n{client_out}")
