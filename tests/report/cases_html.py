"""Cases of `sockdiag report --html`: pages of real runs (the preload library
and the strace engine) loaded in headless Chromium, hostile strings, bad
input."""
import json
import os

from page_harness import expected_kind
from sdtest import case, expect, expect_eq

REFUSED = 3   # connects to a port where nothing listens
INJECTED = 3  # recv calls the rule resets (times=3)


def scenario(h):
    """sockops' steps: REFUSED refused connects, then INJECTED connections
    that send and whose first recv is reset by the rule."""
    refused, listening = h.refusing_port(), h.listener()
    steps = ["connects", REFUSED, "127.0.0.1", refused]
    for _ in range(INJECTED):
        steps += ["connect", "127.0.0.1", listening, "send", 300, "recv", 10, 10]
    return steps, refused


def check_run(h, engine):
    steps, refused = scenario(h)
    logs, _ = h.record_run(steps, [f"recv:error=ECONNRESET:times={INJECTED}"], engine=engine)
    records = h.records(logs)
    kinds = [expected_kind(r) for r in records]
    refusals = [r for r in records if r.get("code") == "ECONNREFUSED" and expected_kind(r) == "failure"]
    expect_eq(len(refusals), REFUSED, "refused connects recorded", json.dumps(records, indent=1))
    expect_eq(kinds.count("injected"), INJECTED, "injected resets recorded", json.dumps(records, indent=1))
    expect(kinds.count("ok") > 0, "no record of a call that succeeded at level trace")
    page, out, err = h.make_page(logs)
    expect(f"{len(records)} record" in out, f"report --html did not say how many records it drew: {out!r}")
    dom = h.browse(page)
    wanted = h.expect_page_shows(dom, records)
    expect_eq(wanted.get("failure"), REFUSED, "failure marks")
    expect_eq(wanted.get("injected"), INJECTED, "injected marks")
    text = "".join(dom.text)
    # The charts: the refused peer and the codes, with their counts.
    expect(f"127.0.0.1:{refused}" in text, "the refused peer is not in the page")
    for code in ("ECONNREFUSED", "ECONNRESET"):
        expect(code in text, f"{code} is not in the page")
    drawn = json.loads(dom.status.get("data-drawn", "{}"))
    expect_eq({k: v for k, v in drawn.items() if v}, wanted, "marks the page says it drew")
    check_mark_shows_record(h, page, records)


# Hovers over the first injected mark, then clicks it, as a user would; the
# tooltip's text and the details panel's rows are put where a dump shows them.
SHOW_MARK = """
var m = document.querySelector('.mark[data-kind="injected"]');
m.dispatchEvent(new MouseEvent('mousemove', {bubbles: true, clientX: 200, clientY: 200}));
document.body.setAttribute('data-tip', document.getElementById('tip').textContent);
m.dispatchEvent(new MouseEvent('click', {bubbles: true}));
document.body.setAttribute('data-details-shown', getComputedStyle(document.getElementById('details')).display);
document.body.setAttribute('data-details', JSON.stringify(Array.from(
    document.querySelectorAll('#details-body tr'), function (tr) { return [tr.cells[0].textContent, tr.cells[1].textContent]; })));
"""


def check_mark_shows_record(h, page, records):
    dom = h.browse(page, then=SHOW_MARK)
    expect(not dom.errors, "the page's script reported errors on a hover and a click", "\n".join(dom.errors))
    expect(f"rule: recv:error=ECONNRESET:times={INJECTED}" in dom.body.get("data-tip", ""),
           f"the tooltip of an injected mark does not name its rule: {dom.body.get('data-tip')!r}")
    expect_eq(dom.body.get("data-details-shown"), "block", "the details panel after a click")
    shown = dict(json.loads(dom.body.get("data-details", "[]")))
    as_shown = [{k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for k, v in r.items()}
                for r in records if r.get("injected") is True]
    expect(shown in as_shown, "the details panel does not show an injected record whole",
           f"shown: {shown}\ninjected records: {as_shown}")


@case("a run under the library: one mark per record, injected resets and refused connects apart")
def preload_run(h):
    check_run(h, "preload")


@case("a run under the strace engine: one mark per record, injected resets and refused connects apart")
def strace_run(h):
    check_run(h, "strace")


# Strings a program or a log may carry, each trying to become markup or code.
HOSTILE = [
    "</script><script>document.body.setAttribute('data-pwned','1')</script>",
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','2')\">",
    "<!--<script>",
    "line\u2028separator\u2029paragraph",
    "&lt;b&gt; &amp; \"quoted\" 'single' `back`",
]


@case("hostile strings in records stay text: no element, no script, shown as written")
def hostile_strings(h):
    refused = h.refusing_port()
    # A real record whose prog is argv[0]'s base name: markup, a separator.
    argv0 = "<img src=x onerror=alert(1)>\u2028<b>"
    logs, _ = h.record_run(["connects", 1, "127.0.0.1", refused], [], argv0=argv0)
    records = h.records(logs)
    expect(any(r.get("prog") == argv0 for r in records), "the records do not carry the hostile argv[0]",
           json.dumps(records))
    # A log another writer made: every string field hostile.
    crafted = h.path("crafted.json")
    with open(crafted, "w", encoding="utf-8") as f:
        for n, s in enumerate(HOSTILE):
            rec = {"v": 1, "ts": f"2026-01-01T00:00:0{n}.000000Z", "pid": 4242, "tid": 4242, "prog": s,
                   "level": "error", "call": "connect", "fd": 3 + n, "kind": s, "peer": s, "host": s,
                   "ret": -1, "errno": 111, "code": "ECONNREFUSED", "message": s, "explanation": s,
                   "advice": s, "injected": n % 2 == 1, "rule": s}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            records.append(rec)
    page, _, _ = h.make_page(logs + [crafted])
    with open(page, encoding="utf-8") as f:
        source = f.read()
    expect_eq(source.count("<script"), 3, "script elements in the written page")
    for ch in ("\u2028", "\u2029"):
        expect(ch not in source, f"U+{ord(ch):04X} written raw into the page")
    dom = h.browse(page)
    h.expect_page_shows(dom, records)
    expect_eq(dom.tags.get("script"), 3, "script elements in the page as loaded")
    expect("img" not in dom.tags, f"an element came from a record: {dom.tags}")
    expect(not dom.handlers, f"an event handler attribute came from a record: {dom.handlers}")
    expect("data-pwned" not in dom.body, f"a record's script ran: <body {dom.body}>")
    text = "".join(dom.text)
    for s in HOSTILE[:3] + [argv0]:
        expect(s in text, f"{s!r} is not shown as text")


@case("bad input: one line each, exit 2 for usage errors, a malformed line skipped and named")
def bad_input(h):
    out_page = h.path("out.html")
    missing = h.path("no-such.json")
    rc, out, err = h.sockdiag_cmd(["report", "--html", out_page, missing])
    expect_eq(rc, 2, "exit status for a missing log", err)
    expect(missing in err and len(err.strip().splitlines()) == 1, f"not one line naming the file: {err!r}")
    expect(not os.path.exists(out_page), "a page was written for a missing log")

    good = {"v": 1, "ts": "2026-01-01T00:00:00.000001Z", "pid": 7, "prog": "p", "level": "error", "call": "connect",
            "fd": 3, "peer": "127.0.0.1:9", "ret": -1, "errno": 111, "code": "ECONNREFUSED"}
    log = h.path("mixed.json")
    with open(log, "w") as f:
        f.write(json.dumps(good) + "\nthis is not JSON\n" + json.dumps(dict(good, ts="2026-01-01T00:00:01Z")) + "\n")
    for where in (h.tmp, os.path.join(h.tmp, "no-dir", "x.html")):
        rc, out, err = h.sockdiag_cmd(["report", "--html", where, log])
        expect_eq(rc, 2, f"exit status for --html {where}", err)
        expect(where in err and "cannot write" in err and len(err.strip().splitlines()) == 1,
               f"not one line saying the page cannot be written: {err!r}")
    rc, out, err = h.sockdiag_cmd(["report", "--html", out_page, "--format", "json", log])
    expect_eq(rc, 2, "exit status for --html with --format", err)
    rc, out, err = h.sockdiag_cmd(["report", log, "--html"])
    expect_eq(rc, 2, "exit status for --html without a file", err)

    # As the text report does: the line is skipped, named on stderr, and the
    # rest is reported (here, drawn); the page says so too.
    rc, text_out, text_err = h.sockdiag_cmd(["report", log])
    expect_eq(rc, 0, "exit status of the text report of a log with a malformed line", text_err)
    rc, out, err = h.sockdiag_cmd(["report", "--html", out_page, log])
    expect_eq(rc, 0, "exit status of --html for a log with a malformed line", err)
    expect_eq(err, text_err, "what --html says of the malformed line, against the text report")
    expect(f"{log}:2" in err, f"the malformed line is not named FILE:LINE: {err!r}")
    dom = h.browse(out_page)
    h.expect_page_shows(dom, [good, good])
    expect(f"{log}:2" in "".join(dom.text), "the page does not name the skipped line")
