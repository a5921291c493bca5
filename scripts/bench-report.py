#!/usr/bin/env python3
"""Prints the core benchmarks as ratios against their in-run baselines, with the targets.

Reads criterion's estimates under target/criterion after `cargo bench -p authrs-core`.
Exits 1 if a benchmark is missing (so a renamed bench cannot silently drop out)."""
import json, os, sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "target", "criterion")
ROWS = [
    # group, bench, baseline, target description, check(ns, ratio) -> bool
    ("ticket", "verify", "baseline_hmac_sha256", "verify <= 1.3x bare HMAC", lambda ns, r: r <= 1.3),
    ("ticket", "verify_plain", "baseline_hmac_sha256_plain", "verify <= 1.3x bare HMAC", lambda ns, r: r <= 1.3),
    # The same verify against an HMAC keyed per call (two blocks more): shown, not the target's baseline.
    ("ticket", "verify", "baseline_hmac_sha256_from_key", "(reference: HMAC keyed per call)", lambda ns, r: True),
    ("ticket", "verify_plain", "baseline_hmac_sha256_from_key_plain", "(reference: HMAC keyed per call)", lambda ns, r: True),
    ("ticket", "verify_owned", "baseline_hmac_sha256", "(no target: owned Ticket)", lambda ns, r: True),
    ("ticket", "verify_owned_plain", "baseline_hmac_sha256_plain", "(no target: owned Ticket)", lambda ns, r: True),
    ("cert", "pem_to_user", "baseline_x509_parser_pem", "<= 15 us", lambda ns, r: ns <= 15_000),
    ("cert", "dn_rfc2253", "baseline_x509_parser_dn_display", "(no target)", lambda ns, r: True),
    ("authz", "ten_rules", "baseline_one_rule", "<= 300 ns", lambda ns, r: ns <= 300),
    ("openid", "verify_assoc_sha256", "baseline_hmac_sha256", "<= 5 us", lambda ns, r: ns <= 5_000),
]

def median_ns(group, bench):
    path = os.path.join(ROOT, group, bench, "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]

def fmt(ns):
    return f"{ns/1000:.2f} us" if ns >= 1000 else f"{ns:.0f} ns"

missing = False
print(f"| benchmark | median | baseline | baseline median | ratio | target | met |")
print(f"|---|---:|---|---:|---:|---|---|")
for group, bench, base, target, check in ROWS:
    try:
        ns, bns = median_ns(group, bench), median_ns(group, base)
    except OSError as e:
        print(f"missing: {e}", file=sys.stderr)
        missing = True
        continue
    r = ns / bns
    print(f"| {group}/{bench} | {fmt(ns)} | {base} | {fmt(bns)} | {r:.2f}x | {target} | {'yes' if check(ns, r) else 'NO'} |")
sys.exit(1 if missing else 0)
