"""A client as a QA engineer would watch one: connects to PORT over and
over (every 20 ms), says "ping", and prints one line per attempt: "ok", or
"error NAME" with the errno it met. Stops after 60 s, or after one
attempt when the second argument is "once" (a short-lived client, as a QA
script started in a loop)."""
import sys
import time

from ping_attempt import attempt

port = int(sys.argv[1])
once = sys.argv[2:] == ["once"]
end = time.monotonic() + 60
while time.monotonic() < end:
    outcome = attempt(port)
    print(outcome if outcome == "ok" else "error " + outcome, flush=True)
    if once:
        break
    time.sleep(0.02)
