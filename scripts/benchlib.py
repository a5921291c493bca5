"""Shared by the server benchmarks (bench-apache.py, bench-envoy.py): free ports, CPU time of a
server process tree from /proc, wrk runs, status checks, alternating rounds and medians.

Method (shared/BENCHMARKS.md): every scenario runs in the same rounds, the order alternating
forward/backward so drift hits all alike; CPU per request = utime+stime of the whole server
process tree over a round / requests completed; medians over the rounds.
Knobs (environment): BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS (older names ROUNDS,
DURATION, CONNECTIONS still work)."""
import collections, os, socket, statistics, subprocess, time, urllib.error, urllib.request

Stats = collections.namedtuple("Stats", "rps cpu rps_all cpu_all")
"""Medians of req/s and CPU µs/request over the rounds, and every round's values in round order."""


def setting(names, default):
    """The first of the environment variables `names` that is set, as an int, else `default`."""
    for n in names:
        if os.environ.get(n):
            return int(os.environ[n])
    return default


def settings(rounds, seconds, conns=16):
    """(rounds, seconds, connections) from the environment, with per-script defaults."""
    return (setting(("BENCH_ROUNDS", "ROUNDS"), rounds), setting(("BENCH_SECONDS", "DURATION"), seconds),
            setting(("BENCH_CONNECTIONS", "CONNECTIONS"), conns))


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_port(port, what, proc=None, tries=150):
    """Waits until 127.0.0.1:port accepts; fails loudly if `proc` died or it never does."""
    for _ in range(tries):
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{what} exited with status {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close(); return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} is not listening on 127.0.0.1:{port}")


def ppid(p):
    try:
        return int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def cpu_ticks(parent):
    """utime+stime (clock ticks, all threads) of `parent` and its direct children."""
    pids = [parent] + [int(p) for p in os.listdir("/proc") if p.isdigit() and ppid(int(p)) == parent]
    total = 0
    for p in pids:
        try:
            fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total


def wrk(url, cookie, conns, seconds):
    """One `wrk -t1` run; returns (requests completed, non-2xx answers, socket errors)."""
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "-H", f"Cookie: {cookie}", url],
                         capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    reqs = int(next(l for l in lines if "requests in" in l).split()[0])
    non2xx = next((int(l.split()[-1]) for l in lines if "Non-2xx" in l), 0)
    # "Socket errors: connect 0, read 17, write 0, timeout 0"
    sock = next((sum(int(x.strip(",")) for x in l.split()[3::2]) for l in lines if "Socket errors" in l), 0)
    return reqs, non2xx, sock


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


def status(url, cookie=None):
    """The HTTP status of one GET (redirects not followed), with an optional Cookie header."""
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.build_opener(_NoRedirect).open(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def measure_rounds(names, rounds, one):
    """Runs one(name) -> (req/s, CPU µs/req) for every scenario in every round, the order
    alternating forward/backward; returns {name: Stats}."""
    got = {n: ([], []) for n in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else list(reversed(names))):
            rps, cpu = one(name)
            got[name][0].append(rps); got[name][1].append(cpu)
            print(f"  round {r + 1}/{rounds} {name}: {rps:,.0f} req/s, {cpu:.1f} µs/req", flush=True)
    return {n: Stats(statistics.median(v[0]), statistics.median(v[1]), v[0], v[1]) for n, v in got.items()}


def timed_run(pid, url, cookie, conns, seconds, what, socket_errors_ok=False):
    """One wrk round against the server `pid`: (req/s, CPU µs per request); any non-2xx answer
    (and, unless `socket_errors_ok`, any socket error) fails the benchmark."""
    hz = os.sysconf("SC_CLK_TCK")
    t0 = cpu_ticks(pid)
    reqs, non2xx, sock = wrk(url, cookie, conns, seconds)
    t1 = cpu_ticks(pid)
    if non2xx or (sock and not socket_errors_ok):
        raise SystemExit(f"{what}: {non2xx} non-2xx answers, {sock} socket errors under load")
    return reqs / seconds, (t1 - t0) / hz * 1e6 / reqs
