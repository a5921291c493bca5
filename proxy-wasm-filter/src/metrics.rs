//! Counters in Envoy's `/stats` (`wasmcustom.authrs.*`).

use authrs_core::engine::{Decision, Verdict};
use authrs_core::identity::AuthMethod;
use authrs_core::reason::Reason;
use proxy_wasm::hostcalls::{define_metric, increment_metric};
use proxy_wasm::types::MetricType;
use std::collections::HashMap;

use crate::reply;

/// Metric ids of this VM, defined once at configure time.
#[derive(Debug, Default)]
pub struct Metrics {
    ids: HashMap<String, u32>,
    // The counters of a decision by key, so that counting one formats and hashes no names.
    outcomes: Vec<(&'static str, u32)>,
    reasons: Vec<(Reason, u32)>,
    methods: Vec<(AuthMethod, u32)>,
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
            if let Some(id) = m.add(format!("authrs.requests.{o}")) {
                m.outcomes.push((o, id));
            }
        }
        for r in Reason::ALL {
            if let Some(id) = m.add(format!("authrs.reason.{}", r.code())) {
                m.reasons.push((r, id));
            }
        }
        for method in METHODS {
            if let Some(id) = m.add(format!("authrs.method.{}", method.as_str())) {
                m.methods.push((method, id));
            }
        }
        for name in [
            "authrs.spoofing_attempts",
            "authrs.config_reloads",
            "authrs.bad_paths",
        ] {
            m.add(name.to_string());
        }
        m
    }

    fn add(&mut self, name: String) -> Option<u32> {
        let id = define_metric(MetricType::Counter, &name).ok()?;
        self.ids.insert(name, id);
        Some(id)
    }

    /// Adds one to the counter `name` (full name, `authrs.…`).
    pub fn inc(&self, name: &str) {
        if let Some(id) = self.ids.get(name) {
            let _ = increment_metric(*id, 1);
        }
    }

    /// Counts a decision: its outcome, its reason if it has one, and the method of an allowed user.
    pub fn count(&self, d: &Decision) {
        bump(&self.outcomes, reply::outcome(d));
        if let Some(r) = d.reason() {
            bump(&self.reasons, r);
        }
        if let (Verdict::Allow, Some(id)) = (&d.verdict, &d.identity) {
            bump(&self.methods, id.method);
        }
    }
}

fn bump<K: PartialEq>(ids: &[(K, u32)], key: K) {
    if let Some((_, id)) = ids.iter().find(|(k, _)| *k == key) {
        let _ = increment_metric(*id, 1);
    }
}
