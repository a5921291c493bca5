#!/usr/bin/python3
"""A scripted OpenID provider for the integration tests (python3-openid's server).

Usage: openid_op.py PORT. Serves on 127.0.0.1:PORT.

Identity pages (how the relying party discovers the provider):
  /id/<name>        OpenID 2.0, HTML <link rel="openid2.provider">
  /deleg/<name>     2.0 delegation: openid2.provider + openid2.local_id = /id/<name>
  /v1/id/<name>     OpenID 1.1 only, HTML <link rel="openid.server"> (the provider then speaks 1.1)
  /v1/deleg/<name>  1.1 delegation: openid.server + openid.delegate = /v1/id/<name>
  /latin1/<name>    as /id/<name>, with a header whose value is not UTF-8 (a Latin-1 byte, which
                    HTTP allows as obs-text)
  /xrds/<name>      an HTML page without links whose X-XRDS-Location header names /xrds-doc/<name>
  /xrds-doc/<name>  the XRDS document (application/xrds+xml): a 2.0 signon service, no LocalID
  /yadis/<name>     content negotiation: the XRDS document itself (with LocalID /id/<name>) to a
                    client that accepts application/xrds+xml, an HTML page without links otherwise
  /many/<k>/<name>  OpenID 2.0 naming its own endpoint /op/<k>: as many distinct providers as a
                    test wants (each a new association), all served by the one below
  /bogus/<name>     2.0 delegation to /id/bogus-<name>;  /v1/bogus/<name>: 1.1 delegation to
                    /v1/id/bogus-<name>. The provider answers for those local identifiers with a
                    signed assertion naming /id/mallory (/v1/id/mallory) instead: bogus delegation.

The endpoint /op (and /op/<k>): associate, check_authentication, and checkid_* answered at once by local
identifier: .../cancel declined (cancel), .../setup "needs interaction" (2.0 setup_needed; 1.1
id_res with user_setup_url), everything else approved; .../nononce approved without a
response_nonce (use /v1/id/nononce: 1.x does not define it).

/log: one JSON object a line per request to /op: mode, ns, realm (openid.realm or
openid.trust_root), assoc_handle, identity, claimed_id, return_to; and one per GET of any other
page (what discovery fetches): {"mode": "discover", "path": <path>}.
"""
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from openid.message import OPENID_NS
from openid.server.server import Server, CheckIDRequest
from openid.store.memstore import MemoryStore

PORT = int(sys.argv[1])
BASE = "http://127.0.0.1:%d" % PORT
ENDPOINT = BASE + "/op"
SERVER = Server(MemoryStore(), ENDPOINT)
SIGNON_2 = "http://specs.openid.net/auth/2.0/signon"

LOG = []
LOG_LOCK = threading.Lock()


def xrds(local_id=None):
    local = "<LocalID>%s</LocalID>" % local_id if local_id else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<xrds:XRDS xmlns:xrds="xri://$xrds" xmlns="xri://$xrd*($v*2.0)">'
        "<XRD><Service priority=\"0\"><Type>%s</Type><URI>%s</URI>%s</Service></XRD>"
        "</xrds:XRDS>\n" % (SIGNON_2, ENDPOINT, local)
    )


def html(title, links):
    return (
        "<html><head><title>%s</title>%s</head><body>identity %s</body></html>"
        % (title, "".join('<link rel="%s" href="%s">' % l for l in links), title)
    )


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

    def page(self, title, links, extra_headers=None):
        headers = {"Content-Type": "text/html; charset=utf-8"}
        headers.update(extra_headers or {})
        self.reply(200, headers, html(title, links))

    def record(self, args):
        with LOG_LOCK:
            LOG.append({
                "mode": args.get("openid.mode"),
                "ns": args.get("openid.ns"),
                "realm": args.get("openid.realm") or args.get("openid.trust_root"),
                "assoc_handle": args.get("openid.assoc_handle"),
                "identity": args.get("openid.identity"),
                "claimed_id": args.get("openid.claimed_id"),
                "return_to": args.get("openid.return_to"),
            })

    def checkid(self, request):
        identity = request.identity or ""
        name = identity.rsplit("/", 1)[-1]
        if name == "cancel":
            return request.answer(False)
        if name == "setup":
            # What a provider says to checkid_immediate when it must talk to the user first.
            request.immediate = True
            return request.answer(False, server_url=ENDPOINT)
        response = request.answer(True, identity=request.identity)
        if name == "nononce":
            # What an OpenID 1.x provider may do: no response_nonce (1.x does not define it).
            response.fields.delArg(OPENID_NS, "response_nonce")
        if name.startswith("bogus-"):
            # A provider asserting another local identifier than the claimed one delegates to;
            # signed as any assertion (encodeResponse signs after this).
            response.fields.setArg(OPENID_NS, "identity", identity.rsplit("/", 1)[0] + "/mallory")
        return response

    def provider(self, args):
        self.record(args)
        try:
            request = SERVER.decodeRequest(args)
        except Exception as e:  # a malformed or untrusted request: a plain 400
            self.reply(400, {"Content-Type": "text/plain"}, "bad request: %s" % e)
            return
        if request is None:
            self.reply(200, {"Content-Type": "text/plain"}, "OpenID endpoint\n")
            return
        if isinstance(request, CheckIDRequest):
            response = self.checkid(request)
        else:
            response = SERVER.handleRequest(request)
        web = SERVER.encodeResponse(response)
        headers = dict(web.headers)
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        self.reply(web.code, headers, web.body or "")

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        name = path.rsplit("/", 1)[-1]
        if not (path == "/op" or path.startswith("/op/") or path == "/log"):
            with LOG_LOCK:
                LOG.append({"mode": "discover", "path": path})
        if path.startswith("/id/"):
            self.page(path, [("openid2.provider", ENDPOINT)])
        elif path.startswith("/many/"):
            k = path.split("/")[2]
            self.page(path, [("openid2.provider", ENDPOINT + "/" + k)])
        elif path.startswith("/latin1/"):
            # send_header encodes in Latin-1: the value goes out as the single byte 0xE9.
            self.page(path, [("openid2.provider", ENDPOINT)], {"X-Note": "caf\u00e9"})
        elif path.startswith("/deleg/"):
            self.page(path, [("openid2.provider", ENDPOINT), ("openid2.local_id", BASE + "/id/" + name)])
        elif path.startswith("/bogus/"):
            self.page(path, [("openid2.provider", ENDPOINT), ("openid2.local_id", BASE + "/id/bogus-" + name)])
        elif path.startswith("/v1/id/"):
            self.page(path, [("openid.server", ENDPOINT)])
        elif path.startswith("/v1/deleg/"):
            self.page(path, [("openid.server", ENDPOINT), ("openid.delegate", BASE + "/v1/id/" + name)])
        elif path.startswith("/v1/bogus/"):
            self.page(path, [("openid.server", ENDPOINT), ("openid.delegate", BASE + "/v1/id/bogus-" + name)])
        elif path.startswith("/xrds/"):
            self.page(path, [], {"X-XRDS-Location": BASE + "/xrds-doc/" + name})
        elif path.startswith("/xrds-doc/"):
            self.reply(200, {"Content-Type": "application/xrds+xml"}, xrds())
        elif path.startswith("/yadis/"):
            if "application/xrds+xml" in (self.headers.get("Accept") or ""):
                self.reply(200, {"Content-Type": "application/xrds+xml"}, xrds(BASE + "/id/" + name))
            else:
                self.page(path, [])
        elif path == "/op" or path.startswith("/op/"):
            self.provider(dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True)))
        elif path == "/log":
            with LOG_LOCK:
                body = "".join(json.dumps(e) + "\n" for e in LOG)
            self.reply(200, {"Content-Type": "text/plain"}, body)
        else:
            self.reply(404, {"Content-Type": "text/plain"}, "not found\n")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8")
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/op" or url.path.startswith("/op/"):
            self.provider(dict(urllib.parse.parse_qsl(body, keep_blank_values=True)))
        else:
            self.reply(404, {"Content-Type": "text/plain"}, "not found\n")


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
