//! Warnings any client can cause with one request, logged at most once a second each.

use crate::time::UnixTime;
use std::borrow::Cow;

/// Ids of the warnings one header or one request of any client causes (`X-AuthRs-User: x`, a
/// forged client-certificate header, a cross-site login POST, a logout from an `<img>`): a
/// shell logs each at most once a second per process (httpd) or VM (Envoy), so a client sending
/// them with every request cannot fill the log; counters still count every one.
pub const FLOOD_PRONE: [&str; 4] = ["AUTHRS0201", "AUTHRS0204", "AUTHRS0305", "AUTHRS0307"];

/// Per [`FLOOD_PRONE`] id: the second it was last logged, and how many were left out since.
#[derive(Debug, Clone)]
pub struct Quieter {
    state: [(UnixTime, u32); FLOOD_PRONE.len()],
}

impl Default for Quieter {
    fn default() -> Self {
        Self::new()
    }
}

impl Quieter {
    /// Nothing logged yet.
    pub const fn new() -> Self {
        Quieter {
            state: [(UnixTime::MIN, 0); FLOOD_PRONE.len()],
        }
    }

    /// What to log for `message` (which starts with its id) at `now`: the message, the message
    /// with how many of its id were left out since the last one logged, or `None` (left out).
    /// Messages of other ids always pass.
    pub fn admit<'m>(&mut self, message: &'m str, now: UnixTime) -> Option<Cow<'m, str>> {
        let Some(i) = FLOOD_PRONE.iter().position(|id| message.starts_with(id)) else {
            return Some(Cow::Borrowed(message));
        };
        let (last, quieted) = &mut self.state[i];
        if *last == now {
            *quieted = quieted.saturating_add(1);
            return None;
        }
        // A clock that went back starts a new second too: at worst one more line.
        *last = now;
        match std::mem::take(quieted) {
            0 => Some(Cow::Borrowed(message)),
            n => Some(Cow::Owned(format!(
                "{message} ({n} more {} since, not logged)",
                FLOOD_PRONE[i]
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_per_id_then_the_count_of_the_rest() {
        let mut q = Quieter::new();
        let spoof = "AUTHRS0204: removed request headers only authrs may set: x-authrs-user";
        assert_eq!(q.admit(spoof, 100).as_deref(), Some(spoof));
        for _ in 0..5 {
            assert_eq!(q.admit(spoof, 100), None);
        }
        // Another id has its own second; other warnings always pass.
        let cert = "AUTHRS0201: removed client-certificate headers";
        assert_eq!(q.admit(cert, 100).as_deref(), Some(cert));
        let other = "AUTHRS0101: configuration cannot be used";
        assert_eq!(q.admit(other, 100).as_deref(), Some(other));
        assert_eq!(q.admit(other, 100).as_deref(), Some(other));
        assert_eq!(
            q.admit(spoof, 101).as_deref(),
            Some(format!("{spoof} (5 more AUTHRS0204 since, not logged)").as_str())
        );
        // The count starts again after each logged line.
        assert_eq!(q.admit(spoof, 102).as_deref(), Some(spoof));
    }

    #[test]
    fn a_clock_that_goes_back_logs_again_and_never_stalls() {
        let mut q = Quieter::new();
        let m = "AUTHRS0307: logout refused";
        assert!(q.admit(m, 1_000).is_some());
        assert!(q.admit(m, 1_000).is_none());
        assert_eq!(
            q.admit(m, 10).as_deref(),
            Some("AUTHRS0307: logout refused (1 more AUTHRS0307 since, not logged)")
        );
        assert!(q.admit(m, 10).is_none());
        assert!(q.admit(m, 11).is_some());
    }
}
