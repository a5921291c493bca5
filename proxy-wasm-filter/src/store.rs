//! Server-side revocation in Envoy shared data: shared by every worker of the same `vm_id` and
//! kept across VM reloads.
//!
//! One key per revoked ticket (`authrs.revoked.<id>` → expiry), read on every ticket check
//! when some scope revokes on logout, and an index (`authrs.revoked.index`, created in
//! `on_configure`, updated with CAS) from which expired entries are pruned at each logout:
//! shared data has no TTL, so we expire entries ourselves.

use authrs_core::engine::{RevocationStore, StoreError};
use authrs_core::time::UnixTime;
use proxy_wasm::hostcalls::{get_shared_data, set_shared_data};
use proxy_wasm::types::Status;
use std::collections::HashSet;

const PREFIX: &str = "authrs.revoked.";
/// The index of live revocations: lines of `<expires> <id>`.
pub const INDEX: &str = "authrs.revoked.index";
/// Most index entries kept; beyond it the soonest-expiring entries stop being tracked for pruning
/// (their keys still revoke until they expire).
const MAX_INDEX: usize = 100_000;

/// Creates the index key if it does not exist yet (CAS on a missing key is not checked by Envoy);
/// an existing one, even empty, is left alone: another worker may be adding to it.
pub fn init() {
    crate::openid_buckets::create_missing(&crate::openid_store::Host, [INDEX]);
}

/// The store handed to the core; `now` is the request's time, used to prune the index.
#[derive(Debug, Default)]
pub struct SharedRevocations {
    /// The current time of the request.
    pub now: UnixTime,
    /// Entries in the index after this request rewrote it (for the `revoked_sessions` gauge).
    pub indexed: Option<usize>,
}

fn err(what: &str, s: Status) -> StoreError {
    StoreError(format!("shared data {what} failed: {s:?}"))
}

impl RevocationStore for SharedRevocations {
    fn is_revoked(&mut self, ticket_id: &str, now: UnixTime) -> Result<bool, StoreError> {
        let (value, _) =
            get_shared_data(&format!("{PREFIX}{ticket_id}")).map_err(|s| err("read", s))?;
        Ok(value
            .as_deref()
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<UnixTime>().ok())
            .is_some_and(|until| until > now))
    }

    fn revoke(&mut self, ticket_id: &str, until: UnixTime) -> Result<(), StoreError> {
        self.revoke_all(&[(ticket_id.to_string(), until)])
    }

    /// Sets each ticket's key, then rewrites the index once for the whole logout.
    fn revoke_all(&mut self, tickets: &[(String, UnixTime)]) -> Result<(), StoreError> {
        if tickets.is_empty() {
            return Ok(());
        }
        for (ticket_id, until) in tickets {
            let key = format!("{PREFIX}{ticket_id}");
            set_shared_data(&key, Some(until.to_string().as_bytes()), None)
                .map_err(|s| err("write", s))?;
        }
        // Prune and append to the index; a lost race is retried, a persistent one only delays pruning.
        for _ in 0..8 {
            let (value, cas) = get_shared_data(INDEX).map_err(|s| err("read", s))?;
            let text = value
                .as_deref()
                .and_then(|v| std::str::from_utf8(v).ok())
                .unwrap_or("");
            let (mut lines, expired) = prune(text, self.now);
            for id in &expired {
                let _ = set_shared_data(&format!("{PREFIX}{id}"), Some(b""), None);
            }
            lines.extend(added(&lines, tickets));
            if lines.len() > MAX_INDEX {
                let drop = lines.len() - MAX_INDEX;
                lines.drain(..drop);
            }
            match set_shared_data(INDEX, Some(lines.join("\n").as_bytes()), cas) {
                Ok(()) => {
                    self.indexed = Some(lines.len());
                    return Ok(());
                }
                Err(Status::CasMismatch) => continue,
                Err(s) => return Err(err("index write", s)),
            }
        }
        Ok(())
    }
}

/// The index lines for `tickets` that `lines` does not list yet (a session is indexed once).
fn added(lines: &[String], tickets: &[(String, UnixTime)]) -> Vec<String> {
    let mut listed: HashSet<&str> = lines
        .iter()
        .filter_map(|l| l.split_once(' ').map(|(_, id)| id))
        .collect();
    tickets
        .iter()
        .filter(|(id, _)| listed.insert(id))
        .map(|(id, until)| format!("{until} {id}"))
        .collect()
}

/// Splits the index into live lines and the ids that expired before `now`.
fn prune(text: &str, now: UnixTime) -> (Vec<String>, Vec<String>) {
    let mut keep = Vec::new();
    let mut expired = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        match line.split_once(' ') {
            Some((t, id)) if t.parse::<UnixTime>().is_ok_and(|t| t <= now) => {
                expired.push(id.to_string())
            }
            Some(_) => keep.push(line.to_string()),
            None => {}
        }
    }
    (keep, expired)
}
