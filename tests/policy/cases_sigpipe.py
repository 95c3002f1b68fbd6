"""Writing to a socket whose peer is gone (sigpipe_write.c): by default the
program gets EPIPE and lives where SIGPIPE would have killed it, and the
record says so; SOCKDIAG_SIGPIPE=keep leaves the signal as without the
library; pipes, the program's own handler, SIG_IGN, blocked SIGPIPE and
MSG_NOSIGNAL are respected."""
import re

from policy_harness import case, expect, expect_exit, expect_killed_by_sigpipe, expect_line, same_as_without_library


NOTE_WOULD_DIE = "would have ended the process"


def epipe_records(run, call="write"):
    return run.with_code("EPIPE", call)


def expect_epipe_record(run, call, note_part):
    recs = epipe_records(run, call)
    expect(len(recs) == 1, f"expected one EPIPE record for {call}", run)
    expect(note_part in recs[0].get("note", ""), f"expected the EPIPE record's note to say '{note_part}'", run)
    return recs[0]


def sigpipe_survives(target, call, mode_env):
    def check(h):
        run = h.run("sigpipe_write", target, "dfl", call, env=mode_env)
        expect_exit(run, 0)
        expect_line(run, f"{call}: -1 EPIPE")
        expect_line(run, "handler: 0")
        expect_line(run, "pending: 0")
        rec = expect_epipe_record(run, call, NOTE_WOULD_DIE)
        if target.startswith("tcp"):
            expect(re.fullmatch(r"127\.0\.0\.1:\d+", rec.get("peer", "")) is not None,
                   "expected the record to name the peer that closed", run)
        if target == "tcp-eof":
            expect(isinstance(rec.get("peer_gone_ms_ago"), (int, float)),
                   "expected the record to say when the peer closed (peer_gone_ms_ago)", run)
        ref = h.run("sigpipe_write", target, "dfl", call, preload="none")
        expect_killed_by_sigpipe(ref)
    return check


def sigpipe_every_socket_call(h):
    for call in ("write", "writev", "send", "sendto", "sendmsg"):
        run = h.run("sigpipe_write", "unix", "dfl", call)
        expect_exit(run, 0)
        expect_line(run, f"{call}: -1 EPIPE")
        expect_epipe_record(run, call, NOTE_WOULD_DIE)


def sigpipe_ignore_mode(disp, lines, note_part):
    def check(h):
        run = h.run("sigpipe_write", "unix", disp, "write")
        expect_exit(run, 0)
        expect_line(run, "write: -1 EPIPE")
        for line in lines:
            expect_line(run, line)
        expect_epipe_record(run, "write", note_part)
    return check


def sigpipe_keep(target, disp, lines):
    """Under keep the program behaves exactly as without the library, and
    the EPIPE record is in the log."""
    def check(h):
        run = h.run("sigpipe_write", target, disp, "write", env={"SOCKDIAG_SIGPIPE": "keep"})
        if disp == "dfl":
            expect_killed_by_sigpipe(run)
        else:
            expect_exit(run, 0)
            expect_line(run, "write: -1 EPIPE")
        for line in lines:
            expect_line(run, line)
        expect(len(epipe_records(run)) == 1, "expected the EPIPE record in the log", run)
        same_as_without_library(h, run, "sigpipe_write", target, disp, "write",
                                keys=["write", "handler", "pending", "handler_thread"])
    return check


def sigpipe_program_nosignal(mode_env):
    """A program that sends with its own MSG_NOSIGNAL never gets SIGPIPE,
    whatever its disposition: the kernel would not raise it."""
    def check(h):
        for disp in ("dfl", "handler", "blocked"):
            run = h.run("sigpipe_write", "unix", disp, "send-nosignal", env=mode_env)
            expect_exit(run, 0)
            expect_line(run, "send-nosignal: -1 EPIPE")
            expect_line(run, "handler: 0")
            expect_line(run, "pending: 0")
            same_as_without_library(h, run, "sigpipe_write", "unix", disp, "send-nosignal",
                                    keys=["send-nosignal", "handler", "pending"])
    return check


def sigpipe_pipe_writer_dies(h):
    modes = [("without libsockdiag", "none", {}), ("nothing configured", "lib", {}),
             ("SOCKDIAG_SIGPIPE=ignore", "lib", {"SOCKDIAG_SIGPIPE": "ignore"}),
             ("SOCKDIAG_SIGPIPE=keep", "lib", {"SOCKDIAG_SIGPIPE": "keep"})]
    for target, call in (("pipe", "write"), ("pipe", "writev"), ("fifo", "write")):
        for _, preload, env in modes:
            run = h.run("sigpipe_write", target, "dfl", call, env=env, preload=preload)
            expect_killed_by_sigpipe(run)
            expect(not run.with_code("EPIPE"), "expected no EPIPE record for a pipe", run)


def sigpipe_nothing_configured(h):
    run = h.run("sigpipe_write", "unix", "dfl", "write", log=False)
    expect_exit(run, 0)
    expect_line(run, "write: -1 EPIPE")
    expect("EPIPE" in run.stderr and NOTE_WOULD_DIE in run.stderr,
           "expected the EPIPE record, with its note, on stderr", run)
    ref = h.run("sigpipe_write", "unix", "dfl", "write", preload="none")
    expect_killed_by_sigpipe(ref)


case("sigpipe default socket writer survives")(sigpipe_survives("unix", "write", {}))
case("sigpipe ignore socket writer survives")(sigpipe_survives("unix", "write", {"SOCKDIAG_SIGPIPE": "ignore"}))
case("sigpipe default tcp writer survives and the record names the peer")(sigpipe_survives("tcp", "write", {}))
case("sigpipe default record says when the peer closed")(sigpipe_survives("tcp-eof", "write", {}))
case("sigpipe default every socket write call")(sigpipe_every_socket_call)
case("sigpipe default program handler still runs")(sigpipe_ignore_mode(
    "handler", ["handler: 1", "record_before_handler: yes"], "to the program's own handler"))
case("sigpipe default program SIG_IGN respected")(sigpipe_ignore_mode(
    "ign", ["handler: 0", "pending: 0"], "ignores SIGPIPE itself"))
case("sigpipe default blocked SIGPIPE not raised")(sigpipe_ignore_mode(
    "blocked", ["handler: 0", "pending: 0"], "not raised"))
case("sigpipe keep SIG_DFL dies by signal 13 after the record")(sigpipe_keep("unix", "dfl", []))
case("sigpipe keep tcp SIG_DFL dies by signal 13 after the record")(sigpipe_keep("tcp", "dfl", []))
case("sigpipe keep handler runs after the record")(sigpipe_keep(
    "unix", "handler", ["handler: 1", "record_before_handler: yes"]))
case("sigpipe keep blocked stays pending")(sigpipe_keep("unix", "blocked", ["handler: 0", "pending: 1"]))
case("sigpipe keep program SIG_IGN respected")(sigpipe_keep("unix", "ign", ["handler: 0", "pending: 0"]))
case("sigpipe keep delivered to the writing thread")(sigpipe_keep(
    "unix", "thread", ["handler: 1", "handler_thread: writer"]))
case("sigpipe default program's MSG_NOSIGNAL respected")(sigpipe_program_nosignal({}))
case("sigpipe keep program's MSG_NOSIGNAL respected")(sigpipe_program_nosignal({"SOCKDIAG_SIGPIPE": "keep"}))
case("sigpipe pipe writer dies in every mode")(sigpipe_pipe_writer_dies)
case("nothing configured socket write returns EPIPE")(sigpipe_nothing_configured)
