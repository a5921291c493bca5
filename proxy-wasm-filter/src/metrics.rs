//! Counters in Envoy's `/stats` (`wasmcustom.authrs.*`).

use authrs_core::reason::Reason;
use proxy_wasm::hostcalls::{define_metric, increment_metric};
use proxy_wasm::types::MetricType;
use std::collections::HashMap;

/// Metric ids of this VM, defined once at configure time.
#[derive(Debug, Default)]
pub struct Metrics {
    ids: HashMap<String, u32>,
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

impl Metrics {
    /// Defines every counter; a host refusal leaves that counter out (metrics never fail a request).
    pub fn define() -> Metrics {
        let mut names: Vec<String> = OUTCOMES
            .iter()
            .map(|o| format!("authrs.requests.{o}"))
            .collect();
        names.extend(
            Reason::ALL
                .iter()
                .map(|r| format!("authrs.reason.{}", r.code())),
        );
        names.extend(
            ["cert", "password", "openid"]
                .iter()
                .map(|m| format!("authrs.method.{m}")),
        );
        names.push("authrs.spoofing_attempts".to_string());
        names.push("authrs.config_reloads".to_string());
        names.push("authrs.bad_paths".to_string());
        let mut ids = HashMap::new();
        for n in names {
            if let Ok(id) = define_metric(MetricType::Counter, &n) {
                ids.insert(n, id);
            }
        }
        Metrics { ids }
    }

    /// Adds one to the counter `name` (full name, `authrs.…`).
    pub fn inc(&self, name: &str) {
        if let Some(id) = self.ids.get(name) {
            let _ = increment_metric(*id, 1);
        }
    }
}
