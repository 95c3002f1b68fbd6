"""A client whose connection a stall rule holds (io:stall): it waits for
the server's line in one of three ways, then answers, and prints what
happened.

  stall_client.py PORT recv|poll|epoll

recv: a blocking recv with no timeout; poll: poll() with no timeout, then
recv; epoll (for output:stall): non-blocking, a first send that finds no
room (EAGAIN: the stall begins), then epoll_wait with no timeout for input,
then for room. Prints "connected", then "events IN OUT" (epoll), "got
LINE" and "sent"."""
import select
import socket
import sys

port, how = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
print("connected", flush=True)
if how == "poll":
    p = select.poll()
    p.register(s, select.POLLIN)
    p.poll()
elif how == "epoll":
    s.setblocking(False)
    try:
        s.send(b"x")
        print("sent early", flush=True)
    except BlockingIOError:
        print("no room", flush=True)
    ep = select.epoll()
    ep.register(s, select.EPOLLIN | select.EPOLLOUT)
    seen = 0
    while seen != select.EPOLLIN | select.EPOLLOUT:
        for _, ev in ep.poll():
            seen |= ev & (select.EPOLLIN | select.EPOLLOUT)
        if seen & select.EPOLLIN:
            ep.modify(s, select.EPOLLOUT)  # the line is in: room is what it waits for now
    print("events IN OUT", flush=True)
    s.setblocking(True)
data = s.recv(100)
print("got", data.decode().strip(), flush=True)
s.sendall(b"bye\n")
print("sent", flush=True)
