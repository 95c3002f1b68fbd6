#!/usr/bin/env python3
"""A small HTTP server for the upload tests: stores the body of every POST
or PUT in DIR/upload.N (N from 1), answers 200 with the body's length, and
prints "port N" once it listens on 127.0.0.1.

  upload_server.py DIR
"""
import http.server
import itertools
import os
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    counter = itertools.count(1)
    directory = "."

    def store(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        path = os.path.join(self.directory, f"upload.{next(self.counter)}")
        with open(path, "wb") as f:
            f.write(body)
        reply = f"{len(body)}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_POST = store
    do_PUT = store

    def log_message(self, *args):
        pass


def main():
    Handler.directory = sys.argv[1]
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
