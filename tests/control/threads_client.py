"""Four threads connect to PORT in a loop for SECONDS; at the end, one line
per outcome met: "OUTCOME COUNT" (ok, or the errno's name)."""
import collections
import sys
import threading
import time

from ping_attempt import attempt

port, seconds = int(sys.argv[1]), float(sys.argv[2])
counts = collections.Counter()
lock = threading.Lock()


def work():
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        outcome = attempt(port)
        with lock:
            counts[outcome] += 1


print("started", flush=True)
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for outcome, n in sorted(counts.items()):
    print(outcome, n, flush=True)
print("done", flush=True)
