"""Rules act on sockets only: reads and writes of files and pipes, and the
closes of files, go on untouched by rules that name their calls, while a
socket that the process never saw being made (inherited across exec) is
still found to be one and injected into. Each scenario runs with and
without the library, and the two are compared."""
import os
import shutil

from inject_harness import case, expect, expect_eq

# Every rule that reads, writes or closes could meet on a file or a pipe.
IO_RULES = ("input:error=ECONNRESET; read:eof; output:error=EPIPE; write:short=1; io:delay=100ms; "
            "close:reset")


def program(name):
    path = shutil.which(name)
    expect(path is not None, f"{name} is not installed (Debian: coreutils, dash, python3)")
    return path


def expect_same_as_plain(h, argv, rules, what, **kw):
    """Runs `argv` without the library, then with it and `rules`; the exit
    status and outputs must match, and no fault may have been injected."""
    plain = h.run_plain(argv, **kw)
    run = h.run(argv, inject=rules, **kw)
    expect_eq((run.rc, run.out, run.err), (plain.rc, plain.out, plain.err),
              f"{what}: exit status, stdout and stderr under '{rules}', against no library", run.describe())
    expect_eq(run.injected(), [], f"{what}: injected records (rules act on sockets only)", run.describe())
    counts = [line["count"] for line in run.summary if line.get("summary") == "inject"]
    expect(counts, f"{what}: no injection summary was written", run.describe())
    expect_eq(sum(counts), 0, f"{what}: the summaries' injections", run.describe())
    return run


@case("rules leave files untouched")
def _(h):
    data = h.path("data.txt")
    with open(data, "w") as f:
        f.writelines(f"line {i}\n" for i in range(20000))
    for rules in ("input:error=ECONNRESET", "read:error=ECONNRESET", IO_RULES):
        expect_same_as_plain(h, [program("cat"), data], rules, "cat FILE")


@case("rules leave pipes untouched")
def _(h):
    # A shell pipe: sh writes into it, cat reads it and writes to the
    # driver's pipe; a second reader stops early (head), the writer then
    # meets a real EPIPE/SIGPIPE, exactly as without the library.
    script = ("printf 'one\\ntwo\\nthree\\n' | cat | cat; "
              "yes | head -n 3; echo \"status=$?\"")
    expect_same_as_plain(h, [program("sh"), "-c", script], "output:error=EPIPE", "a shell pipe")
    expect_same_as_plain(h, [program("sh"), "-c", script], IO_RULES, "a shell pipe")


@case("python start-up reads no delayed file")
def _(h):
    # Each module python imports is a file read: a delay rule on input
    # made its start-up take seconds. No timing is asserted: a delay taken
    # leaves a record and a count, and there must be none.
    argv = [program("python3"), "-c", "import json, socket; print(json.dumps([1]))"]
    run = expect_same_as_plain(h, argv, "input:delay=100ms", "python3 start-up")
    expect_eq(run.out, "[1]\n", "what python printed", run.describe())


@case("an inherited socket is still injected into")
def _(h):
    # bash opens the connection (/dev/tcp) and python, exec'd on it, reads
    # fd 3: a socket this process never saw being made, found by asking the
    # kernel on its first read. Its data come from the peer, not a file.
    peer = h.peer(send=100)
    bash = program("bash")
    reader = "import os\ntry:\n    print('read', len(os.read(3, 1000)) > 0)\nexcept OSError as e:\n    print(e.strerror)"
    script = f"exec 3<>/dev/tcp/127.0.0.1/{peer.port}; exec {program('python3')} -c \"$0\""
    argv = [bash, "-c", script, reader]
    plain = h.run_plain(argv).expect_rc(0)
    expect_eq(plain.out, "read True\n", "python's read of the inherited socket without the library", plain.describe())
    run = h.run(argv, inject="read:error=ECONNRESET").expect_rc(0)
    expect_eq(run.out, f"{os.strerror(104)}\n", "python's read of the inherited socket under read:error=ECONNRESET",
              run.describe())
    expect_eq([(r["call"], r["code"]) for r in run.injected()], [("read", "ECONNRESET")],
              "injected records (the socket's read only: python's file reads are untouched)", run.describe())
