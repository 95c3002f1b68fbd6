"""A program under a small RLIMIT_AS: the library either records as usual or,
with too little address space left for its start-up, stands down with one
line; it never aborts the program. Below the window in which the library's
file can be mapped at all, the dynamic loader refuses to start the program
(exit 127): nothing of ours has run then (README, Limits)."""
from harness import case, expect, expect_eq

STEP_KIB = 128


def run_limited(h, kib, preload, settings=None):
    # One refused connect to a loopback port nobody listens on.
    argv = ["prlimit", f"--as={kib * 1024}", h.prog("fork_storm"), "exec", "1", "9"]
    return h.run(argv, preload=preload, settings=settings, timeout=30)


@case("small RLIMIT_AS never aborts the program")
def small_address_space(h):
    plain_min = None
    for kib in range(2048, 16384, STEP_KIB):
        if run_limited(h, kib, False).rc == 0:
            plain_min = kib
            break
    expect(plain_min is not None, "the program never ran under RLIMIT_AS up to 16 MiB")
    first_ok = None
    aborted = []  # limits at which the library's own start-up failed
    stood_down = recorded = 0
    rule = {"INJECT": "connect:error=ECONNREFUSED:port=9", "FORMAT": "json"}
    for kib in range(plain_min, plain_min + 12288, STEP_KIB):
        plain = run_limited(h, kib, False)
        run = run_limited(h, kib, True, rule)
        # ld.so that cannot map the library says so and runs the program
        # without it: the library is not running yet at that limit.
        if first_ok is None and "cannot be preloaded" in run.err:
            continue
        if first_ok is None:
            if run.rc == 0:
                first_ok = kib
            elif "error while loading shared libraries" not in run.err:
                aborted.append(kib)
            continue
        expect_eq((run.rc, run.out), (plain.rc, plain.out), f"exit status and output at {kib} KiB", run.describe())
        if "the library stands down" in run.err:
            expect_eq(len(run.err.splitlines()), 1, f"lines on stderr at {kib} KiB", run.describe())
            stood_down += 1
        else:
            expect('"code":"ECONNREFUSED"' in run.err, f"no record at {kib} KiB", run.describe())
            recorded += 1
    # Between the loader's refusal and the first run, libstdc++'s own static
    # start-up (linked into the library) may fail for want of a few pages.
    expect(all(first_ok - kib <= 2 * STEP_KIB for kib in aborted),
           f"the program failed under the library at {aborted} KiB, well above where the loader refuses "
           f"(first run at {first_ok} KiB)")
    expect(first_ok is not None, "the program never ran under the library")
    expect(stood_down > 0 and recorded > 0, f"stood down at {stood_down} limits, recorded at {recorded}: the sweep "
           "did not cross the reserve the library needs")
