"""Waits for the file GO to exist, then forks; parent and child each connect
once to PORT and print "PID ok" or "PID error NAME", then wait to be killed."""
import errno
import os
import socket
import sys
import time

port, go = int(sys.argv[1]), sys.argv[2]
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.01)
os.fork()
s = socket.socket()
try:
    s.connect(("127.0.0.1", port))
    print(os.getpid(), "ok", flush=True)
except OSError as e:
    print(os.getpid(), "error", errno.errorcode.get(e.errno, e.errno), flush=True)
s.close()
time.sleep(60)
