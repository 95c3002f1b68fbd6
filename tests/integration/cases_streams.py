"""Failures on established connections: reset by the peer, writing to a
closed peer, nothing to read (non-blocking, or the program's own timeout), the
fortified entry points, and the peer's orderly close."""
import subprocess

from harness import case, expect, expect_eq, only_record, select_records


@case("econnreset recv after SO_LINGER 0 close")
def econnreset(h):
    run = h.run_logged([h.prog("peer_close"), "reset"]).expect_rc(0)
    run.expect_out("send: 20 OK", "recv: -1 ECONNRESET")
    peer = f"127.0.0.1:{run.value('port:')}"
    rec = only_record(run, call="recv", code="ECONNRESET", errno=104, ret=-1, level="error", kind="tcp4", peer=peer)
    expect_eq(rec.get("bytes_sent"), 20, "bytes_sent of the connection", run.describe())
    expect_eq(rec.get("bytes_received"), 0, "bytes_received of the connection", run.describe())
    expect(isinstance(rec.get("age_ms"), (int, float)) and rec["age_ms"] >= 0, "age_ms missing or not a number",
           run.describe())
    expect(rec["local"].startswith("127.0.0.1:"), "the record has no local address", run.describe())


@case("epipe send and write after the peer closed")
def epipe(h):
    run = h.run_logged([h.prog("peer_close"), "epipe"]).expect_rc(0)
    run.expect_out("sends before failure: some", "send: -1 EPIPE", "write: -1 EPIPE")
    expect_eq(len(run.records), 2, "number of records", run.describe())
    for rec, call in zip(run.records, ["send", "write"]):
        expect_eq((rec["call"], rec["code"], rec["errno"], rec["level"]), (call, "EPIPE", 32, "error"),
                  f"record of {call}", run.describe())
        expect("SIGPIPE" in rec["explanation"], f"the {call} record does not mention SIGPIPE", run.describe())
        expect(rec.get("bytes_sent", 0) > 0, f"the {call} record lacks the bytes sent before", run.describe())


@case("eagain nonblocking recv only at debug level")
def eagain_nonblocking(h):
    quiet = h.run_logged([h.prog("recv_eagain"), "nonblock"]).expect_rc(0)
    quiet.expect_out("recv: -1 EAGAIN")
    expect_eq(quiet.records, [], "records at the default level", quiet.describe())
    debug = h.run_logged([h.prog("recv_eagain"), "nonblock"], settings={"LEVEL": "debug"}).expect_rc(0)
    debug.expect_out("recv: -1 EAGAIN")
    eagain = select_records(debug.records, call="recv", code="EAGAIN")
    expect_eq(len(eagain), 1, "EAGAIN records at debug level", debug.describe())
    expect_eq((eagain[0]["level"], eagain[0]["errno"]), ("debug", 11), "level and errno", debug.describe())
    expect_eq(select_records(debug.records, level="error"), [], "error records", debug.describe())


@case("eagain under SO_RCVTIMEO at default level")
def eagain_rcvtimeo(h):
    run = h.run_logged([h.prog("recv_eagain"), "rcvtimeo"]).expect_rc(0)
    run.expect_out("recv: -1 EAGAIN")
    rec = only_record(run, call="recv", code="EAGAIN", errno=11, level="error")
    nonblocking = h.run_logged([h.prog("recv_eagain"), "nonblock"], settings={"LEVEL": "debug"})
    other = select_records(nonblocking.records, code="EAGAIN")
    expect(other, "no EAGAIN record at debug level for the non-blocking recv", nonblocking.describe())
    text = rec["explanation"]
    # The program's own receive timeout, not "non-blocking or some timeout".
    expect("SO_RCVTIMEO" in text and "SO_SNDTIMEO" not in text,
           "the explanation is not about the receive timeout the program set", text)
    expect(text != other[0]["explanation"], "SO_RCVTIMEO and non-blocking EAGAIN are explained alike", text)


@case("fortified recv and read")
def fortified(h):
    prog = h.prog("fortified_io")
    imports = subprocess.run(["nm", "-D", "--undefined-only", prog], capture_output=True, text=True, check=True)
    names = {line.split()[-1].split("@")[0] for line in imports.stdout.splitlines() if line.strip()}
    for name in ("__recv_chk", "__read_chk"):
        expect(name in names, f"{prog} does not call {name}; its imports: {sorted(names)}")
    run = h.run_logged([prog, 64]).expect_rc(0)
    run.expect_out("recv: -1 ECONNRESET", "read: -1 ECONNRESET")
    expect_eq([(r["call"], r["code"]) for r in run.records], [("__recv_chk", "ECONNRESET"), ("__read_chk", "ECONNRESET")],
              "calls and codes recorded", run.describe())
    # The hook forwards to the real __recv_chk: an overflowing length still
    # aborts the program, as it does without the library.
    plain = h.run([prog, 128], preload=False)
    hooked = h.run([prog, 128])
    expect_eq(plain.rc, -6, "exit of an overflowing recv without the library (SIGABRT)", plain.describe())
    expect_eq(hooked.rc, plain.rc, "exit of an overflowing recv under the library", hooked.describe())


@case("orderly close EOF only at info level")
def orderly_close(h):
    quiet = h.run_logged([h.prog("peer_close"), "orderly"]).expect_rc(0)
    expect_eq(quiet.lines()[1:], ["recv: 0 OK", "recv: 0 OK"], "what recv returned", quiet.describe())
    expect_eq(quiet.records, [], "records at the default level", quiet.describe())
    info = h.run_logged([h.prog("peer_close"), "orderly"], settings={"LEVEL": "info"}).expect_rc(0)
    peer = f"127.0.0.1:{info.value('port:')}"
    # Reported once per connection, though recv returned 0 twice.
    only_record(info, call="recv", code="EOF", errno=0, ret=0, level="info", peer=peer)
