"""A small TCP server for the live-control cases: answers each
connection's "ping" with "pong". Prints "listening PORT" once ready."""
import socket
import sys

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print("listening", listener.getsockname()[1], flush=True)
while True:
    conn, _ = listener.accept()
    conn.recv(4)
    conn.sendall(b"pong")
    conn.close()
