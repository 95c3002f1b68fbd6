"""A threaded TCP line server (answers each line in upper case) and a UDP
echo server on 127.0.0.1, ports picked by the kernel. First line printed:
"tcp PORT udp PORT". A TCP line "QUIT" stops both; then it prints what it
served and exits."""
import socket
import socketserver
import threading

lines = datagrams = connections = 0
lock = threading.Lock()


class LineHandler(socketserver.StreamRequestHandler):
    def handle(self):
        global lines, connections
        with lock:
            connections += 1
        for line in self.rfile:
            if line == b"QUIT\n":
                threading.Thread(target=self.server.shutdown).start()
                return
            self.wfile.write(line.upper())
            with lock:
                lines += 1


def udp_echo(sock):
    global datagrams
    while True:
        data, peer = sock.recvfrom(2048)
        if data == b"QUIT":
            return
        sock.sendto(data, peer)
        datagrams += 1


socketserver.ThreadingTCPServer.daemon_threads = True
with socketserver.ThreadingTCPServer(("127.0.0.1", 0), LineHandler) as tcp, \
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
    udp.bind(("127.0.0.1", 0))
    udp_thread = threading.Thread(target=udp_echo, args=(udp,))
    udp_thread.start()
    print(f"tcp {tcp.server_address[1]} udp {udp.getsockname()[1]}", flush=True)
    tcp.serve_forever()
    udp.sendto(b"QUIT", udp.getsockname())
    udp_thread.join()
print(f"served {connections} connections, {lines} lines, {datagrams} datagrams")
