#!/usr/bin/python3
"""A minimal OpenID 2.0 provider for the integration tests (python3-openid's server).

Usage: openid_op.py PORT. Serves on 127.0.0.1:PORT:
  /id/<name>  an identity page declaring this provider (HTML <link rel="openid2.provider">)
  /deleg/<name>  a page delegating to this provider with local_id /id/<name> (openid2.local_id)
  /op         the provider endpoint: associate, check_authentication, and checkid_* which it
              answers at once: approved for every identity except /id/cancel (declined).
"""
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from openid.server.server import Server, CheckIDRequest
from openid.store.memstore import MemoryStore

PORT = int(sys.argv[1])
BASE = "http://127.0.0.1:%d" % PORT
ENDPOINT = BASE + "/op"
SERVER = Server(MemoryStore(), ENDPOINT)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("openid_op: " + (fmt % args) + "\n")

    def reply(self, code, headers, body):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def identity_page(self, path, local_id=None):
        delegate = '<link rel="openid2.local_id" href="%s">' % local_id if local_id else ""
        html = (
            "<html><head><title>%s</title>"
            '<link rel="openid2.provider" href="%s">%s'
            "</head><body>identity %s</body></html>" % (path, ENDPOINT, delegate, path)
        )
        self.reply(200, {"Content-Type": "text/html; charset=utf-8"}, html)

    def provider(self, args):
        try:
            request = SERVER.decodeRequest(args)
        except Exception as e:  # a malformed request: a plain 400
            self.reply(400, {"Content-Type": "text/plain"}, "bad request: %s" % e)
            return
        if request is None:
            self.reply(200, {"Content-Type": "text/plain"}, "OpenID endpoint\n")
            return
        if isinstance(request, CheckIDRequest):
            allow = not request.identity.endswith("/id/cancel")
            response = request.answer(allow, identity=request.identity)
        else:
            response = SERVER.handleRequest(request)
        web = SERVER.encodeResponse(response)
        headers = dict(web.headers)
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        self.reply(web.code, headers, web.body or "")

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path.startswith("/id/"):
            self.identity_page(url.path)
        elif url.path.startswith("/deleg/"):
            self.identity_page(url.path, BASE + "/id/" + url.path[len("/deleg/"):])
        elif url.path == "/op":
            self.provider(dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True)))
        else:
            self.reply(404, {"Content-Type": "text/plain"}, "not found\n")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8")
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/op":
            self.provider(dict(urllib.parse.parse_qsl(body, keep_blank_values=True)))
        else:
            self.reply(404, {"Content-Type": "text/plain"}, "not found\n")


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
