"""A client as a QA engineer would watch one: connects to PORT over and
over (every 20 ms), says "ping", and prints one line per attempt: "ok", or
"error NAME" with the errno it met. Stops after 60 s, or after one
attempt when the second argument is "once" (a short-lived client, as a QA
script started in a loop)."""
import errno
import socket
import sys
import time

port = int(sys.argv[1])
once = sys.argv[2:] == ["once"]
end = time.monotonic() + 60
while time.monotonic() < end:
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(b"ping")
        s.recv(4)
        print("ok", flush=True)
    except OSError as e:
        print("error", errno.errorcode.get(e.errno, e.errno), flush=True)
    finally:
        s.close()
    if once:
        break
    time.sleep(0.02)
