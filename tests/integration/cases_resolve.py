"""getaddrinfo failures. No query may leave the machine: a numeric name is
parsed without any lookup; a real lookup runs in network and mount namespaces
of its own, where the only interface is loopback and resolv.conf names
127.0.0.1 (where no DNS server listens)."""
import shutil

from harness import case, expect, only_record, read_records


@case("getaddrinfo bad numeric host EAI_NONAME")
def numeric(h):
    run = h.run_logged([h.prog("resolve"), "not-a-number", "numeric"]).expect_rc(0)
    run.expect_out("getaddrinfo: EAI_NONAME")
    rec = only_record(run, call="getaddrinfo", code="EAI_NONAME", host="not-a-number", errno=0, level="error")
    expect("not-a-number" in rec["explanation"], "the explanation does not name the host", run.describe())


# Runs "$@" with LD_PRELOAD once lo is up and resolv.conf is replaced; if
# either step fails, the program does not run at all.
ISOLATED = ('ip link set lo up && mount --bind "$RESOLV" /etc/resolv.conf && '
            'grep -qx "nameserver 127.0.0.1" /etc/resolv.conf && exec env LD_PRELOAD="$SD_LIB" "$@"')


@case("getaddrinfo lookup failure in private namespaces")
def lookup(h):
    for tool in ("unshare", "ip", "mount"):
        expect(shutil.which(tool), f"{tool} is not installed")
    resolv = h.path("resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.0.1\noptions attempts:1 timeout:1\n")
    log = h.new_log()
    name = "sockdiag-test.invalid"
    run = h.run(["unshare", "--net", "--mount", "--", "sh", "-c", ISOLATED, "sh", h.prog("resolve"), name, "any"],
                preload=False, settings={"LOG": log, "FORMAT": "json"}, extra={"RESOLV": resolv, "SD_LIB": h.preload})
    run.expect_rc(0)
    result = run.value("getaddrinfo:")
    expect(result.startswith("EAI_"), f"getaddrinfo of {name} did not fail", run.describe())
    run.log = log
    run.records = read_records(log)
    # The resolver's own socket calls are not the program's: one record only.
    only_record(run, call="getaddrinfo", code=result, host=name)
