"""A UDP receiver on an epoll one-shot registration made before any rule:
prints "port N", then waits in epoll_wait 200 ms at a time (each wait a new
call, which takes in what `sockdiag ctl` changed). For each report it
reads what is there (non-blocking), prints "got DATA" per datagram, or
"nothing" when the read finds none, and arms the registration again. Ends
after "got last", or after 20 s ("timeout")."""
import select
import socket
import time

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.setblocking(False)
ep = select.epoll()
ep.register(s, select.EPOLLIN | select.EPOLLONESHOT)
print("port", s.getsockname()[1], flush=True)
end = time.monotonic() + 20
done = False
while not done:
    if time.monotonic() > end:
        print("timeout", flush=True)
        break
    if not ep.poll(0.2):
        continue
    got = 0
    try:
        while True:
            data = s.recv(100).decode()
            print("got", data, flush=True)
            got += 1
            done = done or data == "last"
    except BlockingIOError:
        if not got:
            print("nothing", flush=True)
    ep.modify(s, select.EPOLLIN | select.EPOLLONESHOT)
