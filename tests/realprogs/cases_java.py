"""A Java program (Debian's default JRE) opening sockets: a JVM with many
threads and its own signal handlers, healthy, then refused."""
import os
import subprocess

from harness import case, expect, expect_eq
from modes import closed_port, describe, three_runs
from debian_tools import tool

HERE = os.path.dirname(os.path.abspath(__file__))


def compiled(h):
    """SocketProbe.java compiled into the case's directory (javac itself
    runs without the library)."""
    classes = h.path("classes")
    javac = subprocess.run([tool("/usr/bin/javac"), "-d", classes, os.path.join(HERE, "SocketProbe.java")],
                           capture_output=True, text=True, timeout=120)
    expect(javac.returncode == 0, f"javac failed:\n{javac.stderr}")
    return [tool("/usr/bin/java"), "-cp", classes, "SocketProbe"]


@case("java sockets echo and refused connect")
def java_sockets(h):
    java = compiled(h)

    def healthy(mode):
        run = mode.run(java, timeout=60)
        return run.rc, run.out, run.err

    runs = three_runs(h, healthy, [("java", "accept"), ("java", "connect")])
    expect_eq(runs["plain"][0], (0, "echo: 8 of 8 clients got every line back\n", ""), "what java did")

    with closed_port() as port:
        def refused(mode):
            run = mode.run(java + [str(port)], timeout=60)
            return run.rc, run.out, run.err

        runs = three_runs(h, refused, [("java", "connect")], healthy=False)
    expect_eq(runs["plain"][0][1].splitlines()[-1], "refused: Connection refused", "java's last line")
    records = runs["default"][1]
    expect_eq([(r["prog"], r["call"], r["code"], r["peer"]) for r in records],
              [("java", "connect", "ECONNREFUSED", f"[::ffff:127.0.0.1]:{port}")],
              "records at the default level", describe(records))
