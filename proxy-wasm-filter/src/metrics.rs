//! Counters in Envoy's `/stats` (`wasmcustom.authrs.*`).
//!
//! Requests are counted in the VM and flushed to Envoy once a second (the root context's tick)
//! instead of with one host call per counter per request: `/stats` lags by at most about a
//! second. Rare events (configuration loads) are flushed at once. One gauge,
//! `authrs.revoked_sessions`, is the number of revocation entries the shared buckets hold as the
//! last logout that wrote one left them (set at once: logouts are rare).

use authrs_core::engine::{Decision, Verdict};
use authrs_core::identity::AuthMethod;
use authrs_core::reason::Reason;
use proxy_wasm::hostcalls::{define_metric, increment_metric, record_metric};
use proxy_wasm::types::MetricType;
use std::cell::Cell;
use std::collections::HashMap;

use crate::reply;

/// How often the root context flushes the counters (and so the most `/stats` lags behind).
pub const FLUSH_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// Metric ids of this VM, defined once at configure time, with the counts not yet flushed.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Counter index by full name (`authrs.…`).
    by_name: HashMap<String, usize>,
    /// Envoy's metric id of each counter, and what it has counted since the last flush.
    counters: Vec<(u32, Cell<u64>)>,
    // The counters of a decision by key, so that counting one formats and hashes no names.
    outcomes: Vec<(&'static str, usize)>,
    reasons: Vec<(Reason, usize)>,
    methods: Vec<(AuthMethod, usize)>,
    /// Envoy's metric id of the `authrs.revoked_sessions` gauge.
    revoked_sessions: Option<u32>,
}

/// Outcome labels (see `reply::outcome`).
const OUTCOMES: [&str; 6] = [
    "allowed",
    "redirected",
    "unauthorized",
    "forbidden",
    "bad_request",
    "error",
];

const METHODS: [AuthMethod; 3] = [AuthMethod::Cert, AuthMethod::Password, AuthMethod::OpenId];

impl Metrics {
    /// Defines every counter; a host refusal leaves that counter out (metrics never fail a request).
    pub fn define() -> Metrics {
        let mut m = Metrics::default();
        for o in OUTCOMES {
            if let Some(i) = m.add(format!("authrs.requests.{o}")) {
                m.outcomes.push((o, i));
            }
        }
        for r in Reason::ALL {
            if let Some(i) = m.add(format!("authrs.reason.{}", r.code())) {
                m.reasons.push((r, i));
            }
        }
        for method in METHODS {
            if let Some(i) = m.add(format!("authrs.method.{}", method.as_str())) {
                m.methods.push((method, i));
            }
        }
        for name in [
            "authrs.spoofing_attempts",
            "authrs.config_reloads",
            "authrs.bad_paths",
        ] {
            m.add(name.to_string());
        }
        m.revoked_sessions = define_metric(MetricType::Gauge, "authrs.revoked_sessions").ok();
        m
    }

    /// Sets the `authrs.revoked_sessions` gauge: the revocation entries the buckets hold.
    pub fn set_revoked_sessions(&self, entries: usize) {
        if let Some(id) = self.revoked_sessions {
            // A refusal only leaves the gauge stale until the next logout.
            let _ = record_metric(id, entries as u64);
        }
    }

    fn add(&mut self, name: String) -> Option<usize> {
        let id = define_metric(MetricType::Counter, &name).ok()?;
        let i = self.counters.len();
        self.counters.push((id, Cell::new(0)));
        self.by_name.insert(name, i);
        Some(i)
    }

    fn bump(&self, i: usize) {
        if let Some((_, n)) = self.counters.get(i) {
            n.set(n.get() + 1);
        }
    }

    /// Adds one to the counter `name` (full name, `authrs.…`), flushed with the next [`Metrics::flush`].
    pub fn inc(&self, name: &str) {
        if let Some(i) = self.by_name.get(name) {
            self.bump(*i);
        }
    }

    /// Counts a decision: its outcome, its reason if it has one, and the method of an allowed user.
    pub fn count(&self, d: &Decision) {
        let outcome = reply::outcome(d);
        if let Some((_, i)) = self.outcomes.iter().find(|(o, _)| *o == outcome) {
            self.bump(*i);
        }
        if let Some(r) = d.reason() {
            if let Some((_, i)) = self.reasons.iter().find(|(k, _)| *k == r) {
                self.bump(*i);
            }
        }
        if let (Verdict::Allow, Some(id)) = (&d.verdict, &d.identity) {
            if let Some((_, i)) = self.methods.iter().find(|(k, _)| *k == id.method) {
                self.bump(*i);
            }
        }
    }

    /// Hands what was counted since the last flush to Envoy: one host call per counter that moved.
    pub fn flush(&self) {
        for (id, n) in &self.counters {
            let pending = n.take();
            if pending > 0 && increment_metric(*id, pending as i64).is_err() {
                // Not lost: tried again at the next flush.
                n.set(n.get() + pending);
            }
        }
    }
}
