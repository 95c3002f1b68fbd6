"""One attempt of the control tests' clients: connect to PORT on loopback,
say "ping", read the answer. Returns "ok", or the name of the errno met."""
import errno
import socket


def attempt(port):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(b"ping")
        s.recv(4)
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()
