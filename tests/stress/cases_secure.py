"""Secure-execution mode: a set-user-ID root copy of a program linked with
the library, run by nobody, reads no SOCKDIAG_ variable. Every variable is
set to something the library would act on, or refuse."""
import os
import shutil
import subprocess

import debian_tools
from harness import Skipped, case, expect, expect_eq

CONFIG_ERROR = 78  # the library's exit status for a bad setting (README, Settings)
NOBODY = 65534


def settings_that_would_act(d):
    return {"LEVEL": "garbage", "LOG": os.path.join(d, "log-must-not-exist"), "FORMAT": "json",
            "SUMMARY": os.path.join(d, "summary-must-not-exist"), "INJECT": "connect:error=EPERM",
            "CONFIG": os.path.join(d, "no-such-config")}


@case("setuid copy run by nobody reads no SOCKDIAG_ variable")
def setuid_copy(h):
    if os.geteuid() != 0:
        raise Skipped("making a set-user-ID root program needs root")
    probe = h.prog("setuid_probe")
    # The directory must let nobody in, and its file system must honour the
    # set-user-ID bit.
    d = h.path("suid")
    os.mkdir(d)
    os.chmod(h.tmp, 0o755)
    os.chmod(d, 0o777)
    options = subprocess.run([debian_tools.tool("/usr/bin/findmnt"), "-n", "-o", "OPTIONS", "-T", d], capture_output=True,
                             text=True, check=True).stdout
    if "nosuid" in options.split(","):
        raise Skipped(f"{d} is on a file system mounted nosuid ({options.strip()})")
    copy = os.path.join(d, "setuid_probe")
    shutil.copy(probe, copy)
    os.chown(copy, 0, 0)
    os.chmod(copy, 0o4755)
    as_nobody = [debian_tools.tool("/usr/bin/setpriv"), f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]

    # Controls: not set-user-ID, the same settings are read. A bad level
    # stops the program before main...
    control = h.run(as_nobody + [probe], preload=False, settings=settings_that_would_act(d))
    expect_eq(control.rc, CONFIG_ERROR, "exit status of the plain program with SOCKDIAG_LEVEL=garbage",
              control.describe())
    # ...and a valid set of them is acted on: the connect fails with the
    # injected EPERM and the log is written.
    valid = dict(settings_that_would_act(d), LEVEL="error")
    valid.pop("CONFIG")
    control = h.run(as_nobody + [probe], preload=False, settings=valid).expect_rc(0)
    control.expect_out("secure execution: no", "library mapped: yes", "connect: -1 EPERM")
    expect(os.path.exists(valid["LOG"]), "the plain program wrote no log: the control proves nothing",
           control.describe())
    os.unlink(valid["LOG"])
    if os.path.exists(valid["SUMMARY"]):
        os.unlink(valid["SUMMARY"])

    run = h.run(as_nobody + [copy], preload=False, settings=settings_that_would_act(d))
    expect(run.rc != CONFIG_ERROR, "the library read SOCKDIAG_LEVEL in secure-execution mode", run.describe())
    run.expect_rc(0).expect_out("secure execution: yes", "library mapped: yes", "connect: -1 ECONNREFUSED")
    for key in ("LOG", "SUMMARY"):
        path = settings_that_would_act(d)[key]
        expect(not os.path.exists(path), f"the library created SOCKDIAG_{key} in secure-execution mode",
               run.describe())
