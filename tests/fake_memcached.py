#!/usr/bin/env python3
"""A memcached for tests: the text protocol's get/set/add/delete/version in a dict, on 127.0.0.1.

Usage: fake_memcached.py PORT_FILE [GET_DELAY_SECONDS]
Writes the port it listens on to PORT_FILE. GET_DELAY_SECONDS (default 0) slows every `get`,
which widens any check-then-store race in a client (what the replay tests need)."""
import socketserver, sys, threading, time

PORT_FILE = sys.argv[1]
DELAY = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
DATA, LOCK = {}, threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline()
            if not line:
                return
            parts = line.decode("latin-1").split()
            if not parts:
                continue
            cmd, args = parts[0], parts[1:]
            if cmd in ("get", "gets"):
                # Read now, answer late: what a client sees over a slow link.
                out = b""
                with LOCK:
                    for key in args:
                        if key in DATA:
                            flags, value = DATA[key]
                            out += b"VALUE %s %d %d\r\n%s\r\n" % (key.encode(), flags, len(value), value)
                time.sleep(DELAY)
                self.wfile.write(out + b"END\r\n")
            elif cmd in ("set", "add"):
                key, flags, _exptime, size = args[0], int(args[1]), args[2], int(args[3])
                value = self.rfile.read(size + 2)[:-2]
                with LOCK:
                    stored = cmd == "set" or key not in DATA
                    if stored:
                        DATA[key] = (flags, value)
                if "noreply" not in args:
                    self.wfile.write(b"STORED\r\n" if stored else b"NOT_STORED\r\n")
            elif cmd == "delete":
                with LOCK:
                    found = DATA.pop(args[0], None) is not None
                if "noreply" not in args:
                    self.wfile.write(b"DELETED\r\n" if found else b"NOT_FOUND\r\n")
            elif cmd == "version":
                self.wfile.write(b"VERSION 1.6.0-authrs-test\r\n")
            else:
                self.wfile.write(b"ERROR\r\n")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


server = Server(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
