"""What the strace engine must not change in the program it traces: the
descriptors it starts with (strace's own output descriptor must not leak
into it; one the caller passes down stays), its exit status and its death
by a signal. fd_exit (static, so auto chooses strace) lists its descriptors
and ends as told; run alone and under `sockdiag run --engine auto`."""
import os
import re
import signal

from sdtest import case, expect, expect_eq


def descriptors(run):
    """fd_exit's lines, inode numbers made N (a pipe or socket is a new one
    in every run), sorted by descriptor."""
    lines = [re.sub(r"\[\d+\]", "[N]", line) for line in run.lines()]
    return sorted(lines, key=lambda line: int(line.split()[1].rstrip(":")))


def compare(h, how, number):
    """fd_exit HOW NUMBER alone and under the engine, with one more
    descriptor passed down (a file of the case's own): the same descriptors,
    the same end."""
    argv = [h.static_prog("fd_exit"), how, str(number)]
    extra_path = h.path("passed-down")
    extra = os.open(extra_path, os.O_CREAT | os.O_RDWR, 0o600)
    h.closers.append(lambda: os.close(extra))
    direct = h.run_direct(argv, pass_fds=(extra,))
    # No --summary: the descriptors of a plain run (fd_exit records nothing).
    traced = h.run_engine("auto", argv, pass_fds=(extra,), summary=False)
    traced.expect_engine("strace", "is statically linked")
    detail = f"--- alone ---\n{direct.describe()}\n--- under the engine ---\n{traced.describe()}"
    if how == "exit":
        expect_eq(direct.rc, number, "exit status alone", detail)
        expect_eq(traced.rc, number, "exit status under the engine", detail)
    else:
        expect_eq(direct.rc, -number, "death signal alone (as -N)", detail)
        # `sockdiag run`'s own status for a program killed by signal N.
        expect_eq(traced.rc, 128 + number, "exit status of sockdiag run (128 + the signal)", detail)
    wanted = descriptors(direct)
    expect(any(f"fd {extra}: {extra_path}" == line for line in wanted),
           f"fd_exit did not list the descriptor {extra} passed down", detail)
    expect_eq(descriptors(traced), wanted, "descriptors under the engine (against alone)", detail)
    expect_eq(traced.records, [], "records (fd_exit makes no failing socket call)", detail)


@case("fd_exit: exit status 0 and the descriptors, alone and under strace")
def exit_zero(h):
    compare(h, "exit", 0)


@case("fd_exit: exit status 3 and the descriptors, alone and under strace")
def exit_three(h):
    compare(h, "exit", 3)


@case("fd_exit: death by SIGTERM, alone and under strace")
def sigterm(h):
    compare(h, "signal", signal.SIGTERM)


@case("fd_exit: death by SIGKILL, alone and under strace")
def sigkill(h):
    compare(h, "signal", signal.SIGKILL)


@case("fd_exit: death by SIGSEGV, alone and under strace")
def sigsegv(h):
    compare(h, "signal", signal.SIGSEGV)
