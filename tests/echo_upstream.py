#!/usr/bin/env python3
"""The Envoy tests' upstream: shows what the application sees, like the httpd tests' CGI echo.

Every request header is printed as HTTP_<NAME>=value (sorted), and the filter's identity
headers also under the names a CGI would have (REMOTE_USER, AUTHRS_USER, ...), so one
scenario table checks both shells. POST /check is a password service for `password_check`:
user=demo&password=demo -> 200, DEMO/Demo (any case) with password demo -> 200 naming the user
`X-AuthRs-User: demo` (a store that matches names loosely, like LDAP), other credentials -> 401, user=broken -> 500, user=truncated ->
200 announcing a 100-byte body, 10 bytes, then the connection closed (the callout fails).
GET /checked lists the user names /check was asked about, one a line, in order. A query's
respond-header=Name:value parameters are added to the echo's response headers. A chunked
request body is read whole, and its trailers are printed as TRAILER_<NAME>=value.
Usage: echo_upstream.py PORT
"""
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHECKED = []
CHECKED_LOCK = threading.Lock()

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

    def answer(self, status, text, headers=()):
        body = text.encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        """The request body and its trailers (chunked), or the Content-Length bytes."""
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            length = int(self.headers.get("Content-Length") or 0)
            return (self.rfile.read(length) if length else b""), []
        data, trailers = b"", []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            data += self.rfile.read(size)
            self.rfile.readline()
        while True:
            line = self.rfile.readline()
            if line in (b"", b"\r\n", b"\n"):
                break
            name, _, value = line.decode("latin-1").partition(":")
            trailers.append((name.strip(), value.strip()))
        return data, trailers

    def echo(self, trailers=()):
        lines = []
        for name, value in trailers:
            lines.append("TRAILER_%s=%s" % (name.upper().replace("-", "_"), value))
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
        # ?respond-header=Name:value (repeatable): the application answers with these headers
        # too (its own Set-Cookie or Cache-Control, for what the filter adds beside them).
        query = urllib.parse.urlsplit(self.path).query
        extra = []
        for spec in urllib.parse.parse_qs(query).get("respond-header", []):
            name, _, value = spec.partition(":")
            extra.append((name.strip(), value.strip()))
        self.answer(200, "\n".join(sorted(lines)) + "\n", extra)

    def do_GET(self):
        if self.path == "/checked":
            with CHECKED_LOCK:
                names = list(CHECKED)
            self.answer(200, "".join(n + "\n" for n in names))
            return
        self.echo()

    do_HEAD = do_GET

    def do_POST(self):
        data, trailers = self.read_body()
        if self.path == "/check":
            form = urllib.parse.parse_qs(data.decode("utf-8", "replace"))
            user = form.get("user", [""])[0]
            password = form.get("password", [""])[0]
            with CHECKED_LOCK:
                CHECKED.append(user)
            if user == "broken":
                self.answer(500, "broken\n")
            elif user == "truncated":
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "100")
                self.end_headers()
                self.wfile.write(b"0123456789")
                self.wfile.flush()
                self.close_connection = True
            elif user == "demo" and password == "demo":
                self.answer(200, "ok\n")
            elif user.lower() == "demo" and password == "demo":
                self.answer(200, "ok\n", [("X-AuthRs-User", "demo")])
            else:
                self.answer(401, "no\n")
            return
        self.echo(trailers)


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
