"""The mosquitto MQTT broker under the library: the test's own broker on
127.0.0.1 and a free port (started as root, it runs as the user
mosquitto), a subscriber (mosquitto_sub, QoS 1, ends after three messages)
and a publisher (mosquitto_pub) sending them. The publisher to a closed
port is refused (the real failure); the same refusal injected on the
publisher's connect to the live broker prints the same error and is marked
injected with its rule."""
import os
import signal

from harness import case, expect_eq
from modes import closed_port
from debian_tools import tool
from summary_runs import expect_records, four_runs, injected_refusal
from daemon_control import runs_as, free_port, stop, wait_listening, wait_text

MOSQUITTO = "/usr/sbin/mosquitto"
MESSAGES = ("first", "second", "x" * 100000)


class Broker:
    def __init__(self, h, mode, port):
        self.port = port
        conf = h.path(f"mosquitto-{mode.name}.conf")
        with open(conf, "w") as f:
            f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n"
                    "log_type error\nlog_type warning\nlog_type notice\nlog_type subscribe\n")
        os.chmod(conf, 0o644)
        self.err = mode.err_file(f"mosquitto-{mode.name}")
        self.proc = mode.start([tool(MOSQUITTO), "-c", conf], stderr=self.err)
        wait_listening(self.proc, port, "mosquitto", detail=lambda: mode.read_err(self.err))
        self.as_mosquitto = runs_as(mode.program_pid(self.proc), "mosquitto")

    def stop(self):
        return stop(self.proc, signal.SIGTERM)


def publish(mode, port, message):
    run = mode.run([tool("/usr/bin/mosquitto_pub"), "-h", "127.0.0.1", "-p", port, "-q", "1", "-t", "sd/test",
                    "-m", message], timeout=60)
    return run.rc, run.out, run.err


@case("mosquitto broker with a subscriber and a publisher")
def mosquitto_healthy(h):
    def scenario(mode):
        broker = Broker(h, mode, free_port())
        try:
            sub_err = mode.err_file(f"mosquitto_sub-{mode.name}")
            sub = mode.start([tool("/usr/bin/mosquitto_sub"), "-i", "sd-sub", "-h", "127.0.0.1", "-p", broker.port,
                              "-q", "1", "-t", "sd/test", "-C", len(MESSAGES), "-W", "60"], stderr=sub_err)
            # The broker's log (log_type subscribe) says when the subscription is in place.
            wait_text(lambda: mode.read_err(broker.err), sub, "sd-sub 1 sd/test", "mosquitto_sub")
            published = [publish(mode, broker.port, m) for m in MESSAGES]
            out, _ = sub.communicate(timeout=60)
            received = out.decode(errors="replace").splitlines()
            sub_status = sub.returncode
        finally:
            status = broker.stop()
        return published, received, sub_status, mode.read_err(sub_err), status, broker.as_mosquitto

    runs = four_runs(h, scenario, [("mosquitto", ("accept", "accept4")), ("mosquitto", ("recv", "read")),
                                   ("mosquitto_pub", "connect"), ("mosquitto_sub", ("recv", "read"))])
    published, received, sub_status, sub_err, status, as_mosquitto = runs["plain"][0]
    expect_eq(published, [(0, "", "")] * len(MESSAGES), "the publisher's statuses and outputs")
    expect_eq((received, sub_status, sub_err, status, as_mosquitto), (list(MESSAGES), 0, "", 0, True),
              "the messages the subscriber printed, its status and stderr, the broker's status, the broker running "
              "as mosquitto")


@case("mosquitto_pub refused by a closed port, then the refusal injected")
def mosquitto_refused(h):
    with closed_port() as closed:
        def scenario(mode):
            return publish(mode, closed, "lost")

        runs = four_runs(h, scenario, [("mosquitto_pub", "connect")], healthy=False)
    expect_eq(runs["plain"][0], (1, "", "Error: Connection refused\n"), "mosquitto_pub's status and output")
    expect_records(runs, [("mosquitto_pub", "connect", "ECONNREFUSED", f"127.0.0.1:{closed}", False)])

    injected_refusal(h, "mosquitto_pub", lambda mode, port: Broker(h, mode, port),
                     lambda mode, port: publish(mode, port, "lost"), runs["plain"][0], "",
                     "mosquitto_pub and the broker (its exit status)")
