#!/usr/bin/env python3
"""Envoy CPU per request: no filter vs an empty Rust proxy-wasm filter vs native jwt_authn
(HS256 JWT in a cookie) vs the authrs filter (valid ticket cookie), in one run; also the empty
filter's module configured to make only the host calls the ticket-only authrs filter makes
("calls"), which splits authrs' cost into those calls and its work inside the VM.

One Envoy per scenario (`--concurrency 1`, a direct_response 200 route, 127.0.0.1 free ports),
all running side by side; alternating wrk rounds; CPU per request = utime+stime of that Envoy
over its round / requests completed; medians. Every request carries the same Cookie header
(ticket and JWT), so all scenarios parse the same bytes. Before timing, each scenario must
answer 200 with its credential and, where it checks one, refuse none / the other / a tampered one.

Usage: bench-envoy.py AUTHRS_WASM EMPTY_WASM AUTHRS_CLI [--only none,empty,jwt_authn]
                      [--rounds N] [--seconds S]
Env: BENCH_ROUNDS (7), BENCH_SECONDS (8), BENCH_CONNECTIONS (16), ENVOY (default: .venv/bin/envoy,
then `envoy` on PATH). Quick smoke run: BENCH_ROUNDS=1 BENCH_SECONDS=2."""
import argparse, base64, hashlib, hmac, json, os, shutil, subprocess, sys, tempfile, time, urllib.request
from benchlib import free_port, measure_rounds, settings, status, timed_run, wait_port, wrk

SCENARIOS = ("none", "empty", "calls", "jwt_authn", "authrs", "authrs_ticket")
LABELS = {"none": "no filter", "empty": "empty Rust proxy-wasm filter",
          "calls": "Rust proxy-wasm filter making only authrs' host calls (headers in, time, 3 headers out)",
          "jwt_authn": "native jwt_authn, HS256 JWT cookie", "authrs": "authrs filter, valid ticket",
          "authrs_ticket": "authrs filter, valid ticket, methods [ticket]"}
USER = "bench@example.org"
TICKET_COOKIE = "AuthRs_Example"
JWT_COOKIE = "jwt"
JWT_ISSUER = "bench"
WASM_NAME = {"empty": "bench_empty", "calls": "bench_empty", "authrs": "authrs", "authrs_ticket": "authrs"}
REFUSED = (401, 403, 302, 303, 307)
GOAL_LOGIC_US = 3.0   # authrs − empty, CPU µs/request
GOAL_VS_JWT = 1.0     # authrs CPU / jwt_authn CPU (whole request)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_jwt(secret, target_len):
    """An HS256 JWT (issuer, subject, expiry and a `jti` padded so the token is as long as
    `target_len`, the ticket it is compared with, or a few characters longer)."""
    head = b64url(b'{"alg":"HS256"}')
    exp = int(time.time()) + 7200
    jti = ""
    while True:
        claims = {"iss": JWT_ISSUER, "sub": USER, "exp": exp} | ({"jti": jti} if jti else {})
        signing = f"{head}.{b64url(json.dumps(claims, separators=(',', ':')).encode())}"
        token = f"{signing}.{b64url(hmac.new(secret, signing.encode(), hashlib.sha256).digest())}"
        if len(token) >= target_len or len(jti) > 512:
            return token
        jti += "0123456789abcdef"[len(jti) % 16]


def tamper(token, at):
    """The token with the base64 character at index `at` changed (still well-formed)."""
    c = token[at]
    return token[:at] + ("A" if c != "A" else "B") + token[at + 1:]


def wasm_filter(name, path, configuration):
    """The proxy-wasm filter stanza of shared/TOOLCHAIN.md (identical for empty and authrs)."""
    return {"name": "envoy.filters.http.wasm", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
        "config": {
            "name": name, "root_id": name,
            "allow_on_headers_stop_iteration": True,
            "failure_policy": "FAIL_RELOAD",
            "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                              "value": configuration},
            "vm_config": {"vm_id": name, "runtime": "envoy.wasm.runtime.v8",
                          "code": {"local": {"filename": path}}}}}}


def jwt_filter(secret):
    jwks = {"keys": [{"kty": "oct", "alg": "HS256", "kid": "bench", "k": b64url(secret)}]}
    return {"name": "envoy.filters.http.jwt_authn", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        "providers": {"bench": {
            "issuer": JWT_ISSUER,
            "local_jwks": {"inline_string": json.dumps(jwks)},
            "from_cookies": [JWT_COOKIE],
            "forward": False}},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "bench"}}]}}


def bootstrap(port, admin_port, filters):
    router = {"name": "envoy.filters.http.router", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
    hcm = {"@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager"
                    ".v3.HttpConnectionManager",
           "stat_prefix": "bench", "use_remote_address": True,
           "route_config": {"name": "local", "virtual_hosts": [{
               "name": "all", "domains": ["*"],
               "routes": [{"match": {"prefix": "/"},
                           "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}}}]}]},
           "http_filters": filters + [router]}
    return {"admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
            "static_resources": {"listeners": [{
                "name": "bench",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}]}]}}


def wasm_trouble(admin_port, name):
    """Why the wasm filter `name` cannot be trusted to have run (no live V8 VM, or the VM was
    reloaded after a panic, which FAIL_RELOAD hides), or None."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/stats?filter=wasm", timeout=10).read()
    stats = dict(l.split(": ", 1) for l in text.decode().splitlines() if ": " in l)
    if int(stats.get("wasm.envoy.wasm.runtime.v8.active", "0")) < 1:
        return "no active V8 wasm VM"
    reloads = int(stats.get(f"wasm.{name}.vm_reload", "0"))
    return f"the wasm VM was reloaded {reloads} time(s) (a panic?)" if reloads else None


def find_envoy():
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".venv", "bin", "envoy")
    for cand in (os.environ.get("ENVOY"), here, shutil.which("envoy")):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise SystemExit("bench-envoy: no envoy (set ENVOY, or run scripts/install-deps.sh --bench)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("authrs_wasm"); ap.add_argument("empty_wasm"); ap.add_argument("authrs_cli")
    ap.add_argument("--only", default=",".join(SCENARIOS),
                    help="comma-separated subset of " + ",".join(SCENARIOS))
    ap.add_argument("--rounds", type=int); ap.add_argument("--seconds", type=int)
    args = ap.parse_args()
    rounds, seconds, conns = settings(rounds=7, seconds=8)
    rounds, seconds = args.rounds or rounds, args.seconds or seconds
    only = [s for s in SCENARIOS if s in args.only.split(",")]
    unknown = set(args.only.split(",")) - set(SCENARIOS)
    if unknown or "none" not in only:
        raise SystemExit(f"bench-envoy: --only takes {','.join(SCENARIOS)} and must include none")
    for s, path in (("authrs", args.authrs_wasm), ("empty", args.empty_wasm), ("calls", args.empty_wasm)):
        if s in only and not os.path.isfile(path):
            raise SystemExit(f"bench-envoy: {path} missing (build it, or leave {s} out with --only)")
    envoy = find_envoy()
    version = subprocess.run([envoy, "--version"], capture_output=True, text=True, check=True).stdout
    version = next((f for f in version.split("/") if f[:1].isdigit()), "?")

    root = tempfile.mkdtemp(prefix="authrs-bench-envoy-")
    procs = {}
    try:
        key_file = f"{root}/ticket.key"
        subprocess.run([args.authrs_cli, "keygen", "--out", key_file], check=True)
        ticket_key = open(key_file).read().strip()
        ticket = subprocess.run([args.authrs_cli, "ticket", "mint", "--key", key_file, "--user", USER,
                                 "--lifetime", "2h", "--roles", "admin:projectX,reader",
                                 "--cookie-name", TICKET_COOKIE],
                                capture_output=True, text=True, check=True).stdout.strip()
        jwt_secret = os.urandom(32)
        jwt = hs256_jwt(jwt_secret, len(ticket))
        authrs_conf = json.dumps({"auth_name": "Example", "ticket_keys": [ticket_key],
                                  "locations": [{"prefix": "/", "require": {"valid_user": True}}]})
        # The same with tickets only (as the httpd benchmark's `AuthRsMethods ticket` and as
        # jwt_authn, which looks at no certificate): no connection property is read.
        ticket_conf = json.dumps({"auth_name": "Example", "ticket_keys": [ticket_key], "methods": ["ticket"],
                                  "locations": [{"prefix": "/", "require": {"valid_user": True}}]})
        filters = {"none": [],
                   "empty": [wasm_filter(WASM_NAME["empty"], os.path.abspath(args.empty_wasm), "")],
                   # The same module configured to make the host calls the ticket-only authrs
                   # filter makes for a valid ticket, and nothing else.
                   "calls": [wasm_filter(WASM_NAME["calls"], os.path.abspath(args.empty_wasm), "calls")],
                   "jwt_authn": [jwt_filter(jwt_secret)],
                   "authrs": [wasm_filter(WASM_NAME["authrs"], os.path.abspath(args.authrs_wasm), authrs_conf)],
                   "authrs_ticket": [wasm_filter(WASM_NAME["authrs"], os.path.abspath(args.authrs_wasm), ticket_conf)]}
        # Every scenario gets this one Cookie header (both credentials: the same bytes to parse).
        both = f"{TICKET_COOKIE}={ticket}; {JWT_COOKIE}={jwt}"
        # What a checking scenario must refuse: no cookie, only the other scheme's, a forged one.
        wrong = {"jwt_authn": {"none": None, "ticket only": f"{TICKET_COOKIE}={ticket}",
                               "tampered JWT": f"{TICKET_COOKIE}={ticket}; {JWT_COOKIE}="
                                               + tamper(jwt, len(jwt) - 20)},
                 "authrs": {"none": None, "JWT only": f"{JWT_COOKIE}={jwt}",
                            "tampered ticket": f"{TICKET_COOKIE}=" + tamper(ticket, len(ticket) - 20)
                                               + f"; {JWT_COOKIE}={jwt}",
                            "tampered user": f"{TICKET_COOKIE}=" + tamper(ticket, len(ticket) // 2)
                                             + f"; {JWT_COOKIE}={jwt}"}}
        wrong["authrs_ticket"] = wrong["authrs"]

        urls, admins = {}, {}
        for s in only:
            port, admin = free_port(), free_port()
            conf = f"{root}/{s}.json"
            with open(conf, "w") as f:
                json.dump(bootstrap(port, admin, filters[s]), f, indent=1)
            subprocess.run([envoy, "--mode", "validate", "-c", conf, "-l", "error"], check=True,
                           stdout=subprocess.DEVNULL)
            log = open(f"{root}/{s}.log", "w")
            procs[s] = subprocess.Popen([envoy, "-c", conf, "--concurrency", "1", "--disable-hot-restart",
                                         "-l", "warning"], stdout=log, stderr=subprocess.STDOUT)
            urls[s], admins[s] = f"http://127.0.0.1:{port}/bench", admin
            wait_port(port, f"envoy ({s}), log {root}/{s}.log", procs[s])

        # Prove every scenario answers, and the checking ones really check, before timing.
        failed = []
        for s in only:
            if (code := status(urls[s], both)) != 200:
                failed.append(f"{s}: valid credential got {code}, not 200")
            for what, cookie in wrong.get(s, {}).items():
                if (code := status(urls[s], cookie)) not in REFUSED:
                    failed.append(f"{s}: {what} got {code}, expected one of {REFUSED}")
        failed += [f"{s}: {t}" for s in only if s in WASM_NAME if (t := wasm_trouble(admins[s], WASM_NAME[s]))]
        if failed:
            for s in only:
                sys.stderr.write(f"--- envoy {s} log:\n" + open(f"{root}/{s}.log").read()[-3000:])
            raise SystemExit("bench-envoy: CHECK FAILED, not timing:\n  " + "\n  ".join(failed))
        print(f"bench-envoy: checks passed ({', '.join(only)}); cookie header {len(both)} bytes "
              f"(ticket {len(ticket)} chars, JWT {len(jwt)} chars)", flush=True)

        for s in only:
            wrk(urls[s], both, conns, 1)  # warm-up (wasm VM, connection pools)
        res = measure_rounds(only, rounds, lambda s: timed_run(procs[s].pid, urls[s], both, conns, seconds, s))
        for s in only:
            if s in WASM_NAME and (t := wasm_trouble(admins[s], WASM_NAME[s])):
                raise SystemExit(f"bench-envoy: {s}: {t} during the timed rounds; numbers void")
        report(res, only, rounds, seconds, conns, version)
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill(); p.wait()
        shutil.rmtree(root, ignore_errors=True)


def report(res, only, rounds, seconds, conns, version):
    base = res["none"].cpu
    print(f"\nEnvoy {version} --concurrency 1, direct_response 200, {rounds} alternating rounds of "
          f"wrk -t1 -c{conns} -d{seconds}s, medians (CPU range over the rounds)")
    print("| scenario | req/s | CPU µs/req | added µs/req vs none |")
    print("|---|---:|---:|---:|")
    for s in only:
        r = res[s]
        print(f"| {LABELS[s]} | {r.rps:,.0f} | {r.cpu:.1f} ({min(r.cpu_all):.1f}–{max(r.cpu_all):.1f}) "
              f"| {r.cpu - base:+.1f} |")
    print()

    def spread(a, b, op, fmt):  # the same comparison round by round, to show the noise
        per = [op(x, y) for x, y in zip(res[a].cpu_all, res[b].cpu_all)]
        return f"per round {fmt.format(min(per))}…{fmt.format(max(per))}" if len(per) > 1 else "one round"

    for a in ("authrs", "authrs_ticket"):
        if a in only and "empty" in only:
            d = res[a].cpu - res["empty"].cpu
            print(f"- {a} − empty filter: {d:+.1f} µs/req ({spread(a, 'empty', lambda x, y: x - y, '{:+.1f}')}); "
                  f"goal ≤ {GOAL_LOGIC_US:.0f} µs: {'PASS' if d <= GOAL_LOGIC_US else 'MISS'}")
        if a in only and "jwt_authn" in only:
            r = res[a].cpu / res["jwt_authn"].cpu
            print(f"- {a} / jwt_authn CPU per request: {r:.3f}× ({spread(a, 'jwt_authn', lambda x, y: x / y, '{:.2f}×')}); "
                  f"goal ≤ {GOAL_VS_JWT:.1f}×: {'PASS' if r <= GOAL_VS_JWT else 'MISS'}")
    if "authrs_ticket" in only and "calls" in only:
        # Not a goal of its own: how the ticket-only filter's cost over the empty filter splits
        # between the host calls it must make and the work it does inside the VM.
        d = res["authrs_ticket"].cpu - res["calls"].cpu
        c = res["calls"].cpu - res["empty"].cpu if "empty" in only else None
        print(f"- authrs_ticket − host-calls filter (the work inside the VM): {d:+.1f} µs/req "
              f"({spread('authrs_ticket', 'calls', lambda x, y: x - y, '{:+.1f}')})"
              + (f"; the host calls themselves: {c:+.1f} µs/req over the empty filter" if c is not None else ""))
    if "authrs" not in only and "authrs_ticket" not in only:
        print("- goals not evaluated: the authrs scenarios were left out (--only)")

main()
