#!/usr/bin/env python3
"""httpd throughput and CPU per request: unprotected vs mod_authrs (valid ticket) vs Debian's
mod_auth_tkt (valid SHA256 ticket), one httpd, alternating wrk rounds, medians and ratios.

CPU per request = utime+stime of all httpd processes over a round / requests completed.
Usage: bench-apache.py MODULE AUTHRS   (env ROUNDS=5 DURATION=5 CONNECTIONS=16)"""
import hashlib, os, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request

MODULE, AUTHRS = sys.argv[1], sys.argv[2]
ROUNDS = int(os.environ.get("ROUNDS", "5"))
DURATION = int(os.environ.get("DURATION", "5"))
CONNS = int(os.environ.get("CONNECTIONS", "16"))
M = "/usr/lib/apache2/modules"
TKT_SECRET = "bench-secret-for-mod-auth-tkt-0123456789"

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def tkt_cookie(user, ts):
    # mod_auth_tkt README "Cookie Format", SHA256 digest type, TKTAuthIgnoreIP on (IP = 0.0.0.0).
    key = TKT_SECRET.encode()
    ipts = bytes(4) + ts.to_bytes(4, "big")
    d0 = hashlib.sha256(ipts + key + user.encode() + b"\0" + b"" + b"\0" + b"").hexdigest()
    d = hashlib.sha256(d0.encode() + key).hexdigest()
    return f"{d}{ts:08x}{user}!"

def cpu_ticks(parent):
    pids = [parent] + [int(p) for p in os.listdir("/proc") if p.isdigit() and ppid(int(p)) == parent]
    total = 0
    for p in pids:
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total

def ppid(p):
    try:
        return int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1

def wrk(url, cookie):
    out = subprocess.run(["wrk", "-t1", f"-c{CONNS}", f"-d{DURATION}s", "-H", f"Cookie: {cookie}", url],
                         capture_output=True, text=True, check=True).stdout
    reqs = int(next(l for l in out.splitlines() if "requests in" in l).split()[0])
    non2xx = next((int(l.split()[-1]) for l in out.splitlines() if "Non-2xx" in l), 0)
    return reqs, non2xx

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
                                "--lifetime", "2h", "--roles", "admin:projectX,reader"],
                               capture_output=True, text=True, check=True).stdout.strip()
    tkt = tkt_cookie("bench@example.org", int(time.time()))
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
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close(); break
            except OSError:
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        scenarios = [("unprotected", f"{base}/plain/file.html", "none=1"),
                     ("mod_authrs ticket", f"{base}/rs/file.html", f"AuthRs_Bench={rs_ticket}"),
                     ("mod_auth_tkt SHA256", f"{base}/tkt/file.html", f"auth_tkt={tkt}")]
        # Each protected location must really check: 200 with the ticket, refused without.
        for name, url, cookie in scenarios:
            req = urllib.request.Request(url, headers={"Cookie": cookie})
            assert urllib.request.urlopen(req).status == 200, name
        for name, url, _ in scenarios[1:]:
            class NoRedirect(urllib.request.HTTPRedirectHandler):
                def redirect_request(self, *a, **k): return None
            try:
                code = urllib.request.build_opener(NoRedirect).open(url).status
            except urllib.error.HTTPError as e:
                code = e.code
            assert code in (302, 303, 307, 401), f"{name} let an anonymous request through ({code})"
        wrk(scenarios[0][1], scenarios[0][2])  # warm-up
        results = {n: {"rps": [], "cpu": []} for n, _, _ in scenarios}
        hz = os.sysconf("SC_CLK_TCK")
        for r in range(ROUNDS):
            order = scenarios if r % 2 == 0 else list(reversed(scenarios))
            for name, url, cookie in order:
                t0 = cpu_ticks(proc.pid)
                reqs, non2xx = wrk(url, cookie)
                t1 = cpu_ticks(proc.pid)
                assert non2xx == 0, f"{name}: {non2xx} non-2xx answers"
                results[name]["rps"].append(reqs / DURATION)
                results[name]["cpu"].append((t1 - t0) / hz * 1e6 / reqs)
        base_rps = statistics.median(results["unprotected"]["rps"])
        base_cpu = statistics.median(results["unprotected"]["cpu"])
        print(f"\nhttpd 1 KiB static file, {ROUNDS} alternating rounds of wrk -t1 -c{CONNS} -d{DURATION}s, medians")
        print("| scenario | req/s | × unprotected | CPU µs/req | added µs/req |")
        print("|---|---:|---:|---:|---:|")
        for name, _, _ in scenarios:
            rps = statistics.median(results[name]["rps"]); cpu = statistics.median(results[name]["cpu"])
            print(f"| {name} | {rps:,.0f} | {rps / base_rps:.3f} | {cpu:.1f} | {cpu - base_cpu:+.1f} |")
    finally:
        proc.terminate(); proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)

main()
