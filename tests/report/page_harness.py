"""Making a page with `sockdiag report --html` from a real run and reading
what headless Chromium drew of it.

A run is `sockdiag run --format json --level trace` of sockops (the scripted
client of ../inject) against loopback: a listener the harness holds, and a
port bound without listening, where a connect is refused. The page is loaded
with `chromium --headless --dump-dom`: the page's script has written, by then,
what it drew into the DOM (#sd-status, the marks' data-kind, #sd-errors).
"""
import html.parser
import json
import os
import socket

from sdtest import Failure, ProcessHarness, Skipped, expect, inherited_env, read_text  # noqa: F401

CHROMIUM = "/usr/bin/chromium"  # Debian's chromium (tools/install-deps.sh)


class Dom(html.parser.HTMLParser):
    """What a dumped page holds: the counted marks by kind, the page's
    status, the errors it caught, and every element by tag."""

    def __init__(self, text):
        super().__init__()
        self.marks = {}
        self.status = {}
        self.body = {}
        self.errors = []
        self.tags = {}
        self.text = []
        self.handlers = []  # on*= attributes: the page sets none in markup
        self._in_errors = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.handlers += [f"{tag} {k}" for k in a if k.startswith("on")]
        classes = (a.get("class") or "").split()
        if "mark" in classes:
            self.marks[a.get("data-kind")] = self.marks.get(a.get("data-kind"), 0) + 1
        if a.get("id") == "sd-status":
            self.status = a
        if a.get("id") == "sd-errors":
            self._in_errors = True

    def handle_endtag(self, tag):
        if tag == "ul":
            self._in_errors = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_errors and data.strip():
            self.errors.append(data.strip())


def expected_kind(rec):
    """The mark a record should get, decided here from the record itself:
    injected by a rule, a trace record of a success, a retry notice, or by
    level (error: failure, info: event, debug: expected flow)."""
    if rec.get("injected") is True:
        return "injected"
    if not rec.get("code"):
        return "ok"
    if rec.get("retrying") is True:
        return "retry"
    return {"info": "event", "debug": "expected"}.get(rec.get("level"), "failure")


class PageHarness(ProcessHarness):
    def __init__(self, sockdiag, sockops):
        # Programs run through `sockdiag run`, which preloads the library itself.
        super().__init__(sockdiag, os.path.dirname(sockops), "sockdiag-report-")
        self.sockdiag = os.path.abspath(sockdiag)
        self.sockops = os.path.abspath(sockops)

    def hold(self, sock):
        self.closers.append(sock.close)
        return sock

    def listener(self):
        """A loopback port that accepts (the kernel completes connects into
        the backlog; sockops' sends land in the socket buffers)."""
        s = self.hold(socket.socket())
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        return s.getsockname()[1]

    def refusing_port(self):
        """A loopback port bound and not listening: a connect to it is refused."""
        s = self.hold(socket.socket())
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

    def sockdiag_cmd(self, args, timeout=40):
        argv = [self.sockdiag] + [str(a) for a in args]
        proc = self.spawn(argv, self.env(preload=False))
        rc, out, err = self.finish(proc, argv, timeout)
        return rc, out, err

    def record_run(self, steps, rules, engine="preload", argv0=None):
        """Runs sockops STEPS under `sockdiag run` with injection RULES; the
        JSON logs written, one per process."""
        logdir = self.path(f"logs-{engine}")
        os.makedirs(logdir, exist_ok=True)
        args = ["run", "--engine", engine, "--format", "json", "--level", "trace", "--log",
                os.path.join(logdir, "run.%p.json")]
        for rule in rules:
            args += ["--inject", rule]
        prog = self.sockops
        if argv0 is not None:
            # argv[0] is the record's prog: a link of that name to sockops.
            prog = os.path.join(self.tmp, argv0)
            os.symlink(self.sockops, prog)
        rc, out, err = self.sockdiag_cmd(args + ["--", prog] + [str(s) for s in steps])
        if rc == 77 or "strace" in err and rc in (2, 125, 126):
            raise Skipped(f"sockdiag run --engine {engine} cannot run here: {err.strip()}")
        expect(rc == 0, f"sockdiag run exited {rc}", f"stdout:\n{out}\nstderr:\n{err}")
        logs = sorted(os.path.join(logdir, f) for f in os.listdir(logdir))
        expect(logs, "the run wrote no log", f"stdout:\n{out}\nstderr:\n{err}")
        return logs, out

    def records(self, logs):
        """Every record of `logs` that is a mark (exit summaries are not)."""
        out = []
        for path in logs:
            # split("\n"), not splitlines(): a record may hold U+2028 raw.
            for line in read_text(path).split("\n"):
                if not line:
                    continue
                rec = json.loads(line)
                if "summary" not in rec:
                    out.append(rec)
        return out

    def make_page(self, logs, name="report.html"):
        page = self.path(name)
        rc, out, err = self.sockdiag_cmd(["report", "--html", page] + logs)
        expect(rc == 0, f"sockdiag report --html exited {rc}", f"stdout:\n{out}\nstderr:\n{err}")
        expect(os.path.getsize(page) > 0, "the page is empty")
        return page, out, err

    def browse(self, page, then=None):
        """The page as Chromium has it once its script ran (Dom); `then`: a
        script run after the page's own, in a copy of the page."""
        if then is not None:
            with open(page, encoding="utf-8") as f:
                text = f.read()
            page = self.path("with-script.html")
            with open(page, "w", encoding="utf-8") as f:
                f.write(text.replace("</body>", f"<script>{then}</script>\n</body>"))
        if not os.access(CHROMIUM, os.X_OK):
            raise Skipped(f"{CHROMIUM} is missing: install the Debian package chromium (tools/install-deps.sh)")
        profile = self.path("chromium-profile")
        # Nothing outside the page: no network, no first-run work, a profile
        # of its own (removed with the case's directory).
        argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--dump-dom", "file://" + page]
        env = inherited_env()
        env["HOME"] = self.tmp
        proc = self.spawn(argv, env)
        rc, out, err = self.finish(proc, argv, 60)
        expect(rc == 0 and "<html" in out, f"chromium exited {rc} without the page", err[-3000:])
        dom = Dom(out)
        dom.source = out
        return dom

    def expect_page_shows(self, dom, records):
        """The page loaded without an error, and drew one mark per record, of
        the kind the record calls for."""
        expect(not dom.errors, "the page's script reported errors", "\n".join(dom.errors))
        expect(dom.status.get("data-state") == "rendered", "the page's script did not run to its end",
               dom.source[-3000:])
        wanted = {}
        for rec in records:
            k = expected_kind(rec)
            wanted[k] = wanted.get(k, 0) + 1
        expect(dom.marks == wanted, f"marks drawn by kind {dom.marks} != records by kind {wanted}")
        counts = {k: v for k, v in json.loads(dom.status.get("data-counts", "{}")).items() if v}
        expect(counts == wanted, f"the page's counts {counts} != records by kind {wanted}")
        return wanted
