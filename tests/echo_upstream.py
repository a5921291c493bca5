#!/usr/bin/env python3
"""The Envoy tests' upstream: shows what the application sees, like the httpd tests' CGI echo.

Every request header is printed as HTTP_<NAME>=value (sorted), and the filter's identity
headers also under the names a CGI would have (REMOTE_USER, AUTHRS_USER, ...), so one
scenario table checks both shells. POST /check is a password service for `password_check`:
user=demo&password=demo -> 200, other credentials -> 401, user=broken -> 500.
Usage: echo_upstream.py PORT
"""
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IDENTITY = {
    "x-authrs-user": ["REMOTE_USER", "AUTHRS_USER"],
    "x-authrs-method": ["AUTHRS_METHOD"],
    "x-authrs-dn": ["AUTHRS_DN"],
    "x-authrs-roles": ["AUTHRS_ROLES"],
}


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def echo(self):
        lines = []
        for name, value in self.headers.items():
            # http.server decodes header bytes as Latin-1; show the UTF-8 the client sent.
            value = value.encode("latin-1", "replace").decode("utf-8", "replace")
            lines.append("HTTP_%s=%s" % (name.upper().replace("-", "_"), value))
            if name.lower() in IDENTITY:
                lines.extend("%s=%s" % (k, value) for k in IDENTITY[name.lower()])
        if "x-authrs-user" in (n.lower() for n in self.headers.keys()):
            lines.append("AUTH_TYPE=AuthRs")
        lines.append("REQUEST_METHOD=%s" % self.command)
        lines.append("REQUEST_URI=%s" % self.path)
        self.answer(200, "\n".join(sorted(lines)) + "\n")

    def do_GET(self):
        self.echo()

    do_HEAD = do_GET

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        if self.path == "/check":
            form = urllib.parse.parse_qs(data.decode("utf-8", "replace"))
            user = form.get("user", [""])[0]
            password = form.get("password", [""])[0]
            if user == "broken":
                self.answer(500, "broken\n")
            elif user == "demo" and password == "demo":
                self.answer(200, "ok\n")
            else:
                self.answer(401, "no\n")
            return
        self.echo()


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
