"""Client of py_echo_server.py: THREADS threads each send LINES lines over
a connection of their own (sendall, and reading through makefile) and check
the answers; then DATAGRAMS UDP datagrams in lock step; then QUIT.
Usage: py_socket_client.py TCP_PORT UDP_PORT"""
import socket
import sys
import threading

THREADS, LINES, DATAGRAMS = 4, 200, 100
tcp_port, udp_port = int(sys.argv[1]), int(sys.argv[2])
good = []


def talk(n):
    with socket.create_connection(("127.0.0.1", tcp_port), timeout=30) as s, s.makefile("rb") as answers:
        for i in range(LINES):
            line = f"thread {n} line {i} {'x' * (i % 50)}\n".encode()
            s.sendall(line)
            if answers.readline() != line.upper():
                return
    good.append(n)


threads = [threading.Thread(target=talk, args=(n,)) for n in range(THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"tcp: {len(good)} of {THREADS} threads got every answer")

echoed = 0
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
    udp.settimeout(30)
    for i in range(DATAGRAMS):
        data = f"datagram {i}".encode()
        udp.sendto(data, ("127.0.0.1", udp_port))
        reply, _ = udp.recvfrom(2048)
        echoed += reply == data
print(f"udp: {echoed} of {DATAGRAMS} datagrams echoed")

with socket.create_connection(("127.0.0.1", tcp_port), timeout=30) as s:
    s.sendall(b"QUIT\n")
