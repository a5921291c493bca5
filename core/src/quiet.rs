//! Warnings any client can cause with one request, logged at most once a second per client.

use crate::time::UnixTime;
use std::borrow::Cow;
use std::net::IpAddr;

/// Ids of the warnings one header or one request of any client causes (`X-AuthRs-User: x`, a
/// forged client-certificate header, a cross-site login POST, a logout from an `<img>`): a
/// shell logs each through a [`Quieter`] (per process in httpd, per VM in Envoy), so a client
/// sending them with every request cannot fill the log; counters still count every one.
pub const FLOOD_PRONE: [&str; 4] = ["AUTHRS0201", "AUTHRS0204", "AUTHRS0305", "AUTHRS0307"];

/// The index in [`FLOOD_PRONE`] of `message`'s id (it starts with its id), if it is one: a
/// shell asks this before anything else costs (a lock, the client's address).
pub fn flood_prone(message: &str) -> Option<usize> {
    FLOOD_PRONE.iter().position(|id| message.starts_with(id))
}

/// At most this many lines of one id a second: the first attempt of each of the first clients
/// of that second. A client flooding the log cannot hide another client's first attempt in the
/// same second, and a flood from many addresses still writes at most this many lines a second.
pub const CLIENTS_PER_SECOND: usize = 8;

/// One [`FLOOD_PRONE`] id: its current second, the clients logged in it, and how many were
/// left out since the last line that said so.
#[derive(Debug, Clone, Copy)]
struct PerId {
    second: UnixTime,
    clients: [Option<Option<IpAddr>>; CLIENTS_PER_SECOND],
    quieted: u32,
}

/// The [`FLOOD_PRONE`] warnings of one process (httpd) or VM (Envoy).
#[derive(Debug, Clone)]
pub struct Quieter {
    state: [PerId; FLOOD_PRONE.len()],
}

impl Default for Quieter {
    fn default() -> Self {
        Self::new()
    }
}

impl Quieter {
    /// Nothing logged yet.
    pub const fn new() -> Self {
        const FRESH: PerId = PerId {
            second: UnixTime::MIN,
            clients: [None; CLIENTS_PER_SECOND],
            quieted: 0,
        };
        Quieter {
            state: [FRESH; FLOOD_PRONE.len()],
        }
    }

    /// What to log for `message` (which starts with its id) caused by `client` (`None`: the
    /// shell does not know) at `now`: the message, the message with how many of its id were left
    /// out since (on the first line of a new second), or `None` (left out: this client was
    /// logged this second, or [`CLIENTS_PER_SECOND`] others were). Other ids always pass.
    pub fn admit<'m>(
        &mut self,
        message: &'m str,
        client: Option<IpAddr>,
        now: UnixTime,
    ) -> Option<Cow<'m, str>> {
        let Some(i) = flood_prone(message) else {
            return Some(Cow::Borrowed(message));
        };
        let st = &mut self.state[i];
        // A clock that went back starts a new second too: at worst a few more lines.
        if st.second != now {
            st.second = now;
            st.clients = [None; CLIENTS_PER_SECOND];
            st.clients[0] = Some(client);
            return match std::mem::take(&mut st.quieted) {
                0 => Some(Cow::Borrowed(message)),
                n => Some(Cow::Owned(format!(
                    "{message} ({n} more {} since, not logged)",
                    FLOOD_PRONE[i]
                ))),
            };
        }
        if st.clients.contains(&Some(client)) {
            st.quieted = st.quieted.saturating_add(1);
            return None;
        }
        match st.clients.iter_mut().find(|c| c.is_none()) {
            Some(free) => {
                *free = Some(client);
                Some(Cow::Borrowed(message))
            }
            None => {
                st.quieted = st.quieted.saturating_add(1);
                None
            }
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
        assert_eq!(q.admit(spoof, None, 100).as_deref(), Some(spoof));
        for _ in 0..5 {
            assert_eq!(q.admit(spoof, None, 100), None);
        }
        // Another id has its own second; other warnings always pass.
        let cert = "AUTHRS0201: removed client-certificate headers";
        assert_eq!(q.admit(cert, None, 100).as_deref(), Some(cert));
        let other = "AUTHRS0101: configuration cannot be used";
        assert_eq!(q.admit(other, None, 100).as_deref(), Some(other));
        assert_eq!(q.admit(other, None, 100).as_deref(), Some(other));
        assert_eq!(
            q.admit(spoof, None, 101).as_deref(),
            Some(format!("{spoof} (5 more AUTHRS0204 since, not logged)").as_str())
        );
        // The count starts again after each logged line.
        assert_eq!(q.admit(spoof, None, 102).as_deref(), Some(spoof));
    }

    #[test]
    fn a_clock_that_goes_back_logs_again_and_never_stalls() {
        let mut q = Quieter::new();
        let m = "AUTHRS0307: logout refused";
        assert!(q.admit(m, None, 1_000).is_some());
        assert!(q.admit(m, None, 1_000).is_none());
        assert_eq!(
            q.admit(m, None, 10).as_deref(),
            Some("AUTHRS0307: logout refused (1 more AUTHRS0307 since, not logged)")
        );
        assert!(q.admit(m, None, 10).is_none());
        assert!(q.admit(m, None, 11).is_some());
    }

    #[test]
    fn a_flooding_client_does_not_hide_another_clients_first_attempt() {
        let mut q = Quieter::new();
        let m = "AUTHRS0204: removed request headers only authrs may set: x-authrs-user";
        let ip = |n: u8| Some(IpAddr::from([192, 0, 2, n]));
        assert!(q.admit(m, ip(1), 50).is_some());
        for _ in 0..100 {
            assert!(q.admit(m, ip(1), 50).is_none());
        }
        // Another client in the same second is logged once; an unknown one counts as one more.
        assert!(q.admit(m, ip(2), 50).is_some());
        assert!(q.admit(m, ip(2), 50).is_none());
        assert!(q.admit(m, None, 50).is_some());
        assert!(q.admit(m, None, 50).is_none());
        // At most CLIENTS_PER_SECOND lines a second, however many addresses flood.
        let logged = (3..=200)
            .filter(|n| q.admit(m, ip(*n), 50).is_some())
            .count();
        assert_eq!(logged, CLIENTS_PER_SECOND - 3);
        // Everything left out is counted on the next second's first line.
        let left_out = 100 + 1 + 1 + (198 - logged);
        assert_eq!(
            q.admit(m, ip(1), 51).as_deref(),
            Some(format!("{m} ({left_out} more AUTHRS0204 since, not logged)").as_str())
        );
    }
}
