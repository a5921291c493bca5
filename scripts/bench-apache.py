#!/usr/bin/env python3
"""httpd throughput and CPU per request: unprotected vs mod_authrs (valid ticket carrying two
roles) vs Debian's mod_auth_tkt (valid SHA256 ticket, with the same two roles as its tokens, and
without), one httpd, alternating wrk rounds, medians and ratios.

CPU per request = utime+stime of all httpd processes over a round / requests completed.
Usage: bench-apache.py MODULE AUTHRS   (env BENCH_ROUNDS=5 BENCH_SECONDS=5 BENCH_CONNECTIONS=16)"""
import hashlib, os, shutil, subprocess, sys, tempfile, time
from benchlib import free_port, measure_rounds, settings, status, timed_run, wait_port, wrk

# Absolute: httpd resolves a relative LoadModule path against its ServerRoot (the temp dir).
MODULE, AUTHRS = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
ROUNDS, DURATION, CONNS = settings(rounds=5, seconds=5)
M = "/usr/lib/apache2/modules"
TKT_SECRET = "bench-secret-for-mod-auth-tkt-0123456789"

ROLES = "admin:projectX,reader"

def tkt_cookie(user, ts, tokens=""):
    # mod_auth_tkt README "Cookie Format", SHA256 digest type, TKTAuthIgnoreIP on (IP = 0.0.0.0).
    key = TKT_SECRET.encode()
    ipts = bytes(4) + ts.to_bytes(4, "big")
    d0 = hashlib.sha256(ipts + key + user.encode() + b"\0" + tokens.encode() + b"\0" + b"").hexdigest()
    d = hashlib.sha256(d0.encode() + key).hexdigest()
    return f"{d}{ts:08x}{user}!" + (f"{tokens}!" if tokens else "")

def main():
    root = tempfile.mkdtemp(prefix="authrs-bench-")
    os.chmod(root, 0o755)  # workers run as www-data
    for d in ("logs", "run", "htdocs/plain", "htdocs/rs", "htdocs/tkt"):
        os.makedirs(f"{root}/{d}")
    body = "x" * 1024
    for d in ("plain", "rs", "tkt"):
        open(f"{root}/htdocs/{d}/file.html", "w").write(body)
    key = f"{root}/ticket.key"
    subprocess.run([AUTHRS, "keygen", "--out", key], check=True)
    rs_ticket = subprocess.run([AUTHRS, "ticket", "mint", "--key", key, "--user", "bench@example.org",
                                "--lifetime", "2h", "--roles", ROLES,
                                "--cookie-name", "AuthRs_Bench"],
                               capture_output=True, text=True, check=True).stdout.strip()
    tkt = tkt_cookie("bench@example.org", int(time.time()))
    tkt_tokens = tkt_cookie("bench@example.org", int(time.time()), ROLES)
    port = free_port()
    conf = f"""ServerRoot "{root}"
ServerName 127.0.0.1
PidFile "{root}/run/httpd.pid"
DefaultRuntimeDir "{root}/run"
Mutex file:{root}/run default
ErrorLog "{root}/logs/error.log"
LogLevel warn
LoadModule mpm_event_module {M}/mod_mpm_event.so
LoadModule authn_core_module {M}/mod_authn_core.so
LoadModule authz_core_module {M}/mod_authz_core.so
LoadModule authz_user_module {M}/mod_authz_user.so
LoadModule mime_module {M}/mod_mime.so
LoadModule auth_tkt_module {M}/mod_auth_tkt.so
LoadModule authrs_module "{MODULE}"
{"User www-data" + chr(10) + "Group www-data" if os.geteuid() == 0 else ""}
TypesConfig /etc/mime.types
StartServers 1
ServerLimit 1
ThreadsPerChild {CONNS}
MaxRequestWorkers {CONNS}
MaxKeepAliveRequests 0
Listen 127.0.0.1:{port}
DocumentRoot "{root}/htdocs"
AuthRsTicketKeyFile "{key}"
TKTAuthSecret "{TKT_SECRET}"
TKTAuthDigestType SHA256
<Location /rs>
  AuthType AuthRs
  AuthName Bench
  AuthRsMethods ticket
  Require valid-user
</Location>
<Location /tkt>
  AuthType None
  TKTAuthLoginURL http://127.0.0.1:{port}/login
  TKTAuthIgnoreIP on
  TKTAuthTimeout 2h
  Require valid-user
</Location>
"""
    open(f"{root}/httpd.conf", "w").write(conf)
    subprocess.run(["/usr/sbin/apache2", "-d", root, "-f", f"{root}/httpd.conf", "-t"], check=True,
                   capture_output=True)
    proc = subprocess.Popen(["/usr/sbin/apache2", "-d", root, "-f", f"{root}/httpd.conf", "-DFOREGROUND"])
    try:
        wait_port(port, "httpd", proc)
        base = f"http://127.0.0.1:{port}"
        scenarios = [("unprotected", f"{base}/plain/file.html", "none=1"),
                     ("mod_authrs ticket", f"{base}/rs/file.html", f"AuthRs_Bench={rs_ticket}"),
                     ("mod_auth_tkt SHA256, same roles as tokens", f"{base}/tkt/file.html", f"auth_tkt={tkt_tokens}"),
                     ("mod_auth_tkt SHA256, no tokens", f"{base}/tkt/file.html", f"auth_tkt={tkt}")]
        # Each protected location must really check: 200 with the ticket, refused without.
        for name, url, cookie in scenarios:
            assert status(url, cookie) == 200, name
        for name, url, _ in scenarios[1:]:
            code = status(url)
            assert code in (302, 303, 307, 401), f"{name} let an anonymous request through ({code})"
        wrk(scenarios[0][1], scenarios[0][2], CONNS, DURATION)  # warm-up
        by_name = {n: (u, c) for n, u, c in scenarios}
        # httpd drops each keep-alive connection about once a run (wrk read errors ≈ -c): allowed.
        res = measure_rounds([n for n, _, _ in scenarios], ROUNDS,
                             lambda n: timed_run(proc.pid, *by_name[n], CONNS, DURATION, n, socket_errors_ok=True))
        base_rps, base_cpu = res["unprotected"].rps, res["unprotected"].cpu
        print(f"\nhttpd 1 KiB static file, {ROUNDS} alternating rounds of wrk -t1 -c{CONNS} -d{DURATION}s, medians")
        print("| scenario | req/s | × unprotected | CPU µs/req | added µs/req |")
        print("|---|---:|---:|---:|---:|")
        for name, _, _ in scenarios:
            rps, cpu = res[name].rps, res[name].cpu
            print(f"| {name} | {rps:,.0f} | {rps / base_rps:.3f} | {cpu:.1f} | {cpu - base_cpu:+.1f} |")
    finally:
        proc.terminate(); proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)

main()
