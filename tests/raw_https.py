#!/usr/bin/env python3
"""Sends raw bytes over TLS and prints what comes back, for requests curl cannot make (HTTP/1.1
request trailers). Usage: raw_https.py PORT CAFILE < request; reads until the server closes.
"""
import socket
import ssl
import sys

port, cafile = int(sys.argv[1]), sys.argv[2]
request = sys.stdin.buffer.read()
ctx = ssl.create_default_context(cafile=cafile)
ctx.check_hostname = False
with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
    with ctx.wrap_socket(raw) as tls:
        tls.sendall(request)
        answer = b""
        while True:
            try:
                chunk = tls.recv(65536)
            except (ssl.SSLError, ConnectionError):
                break
            if not chunk:
                break
            answer += chunk
sys.stdout.buffer.write(answer)
