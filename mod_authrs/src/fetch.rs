//! The blocking HTTP client for OpenID fetches (discovery, association, check_authentication):
//! `ureq` with the core's limits, no proxy, no redirects (the core follows them itself),
//! http(s) only, and a resolver that refuses private addresses unless allowed — so the
//! connection goes only to the addresses checked (no DNS-rebinding window). All the fetches of
//! one request share one timeout ([`Budget`]).
//!
//! This duplicates `cli/src/openid_cmd.rs`'s fetcher on purpose: the core is sans-IO and the
//! fixed layout has no crate for shared shell I/O.

use authrs_core::openid::http::{is_private, HttpRequest, HttpResponse, Method};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// Resolves like the default resolver, then drops private addresses unless allowed.
#[derive(Debug)]
struct ParanoidResolver {
    allow_private: bool,
    inner: DefaultResolver,
}

impl Resolver for ParanoidResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let all = self.inner.resolve(uri, config, timeout)?;
        let mut kept = self.empty();
        for addr in all
            .iter()
            .filter(|a| self.allow_private || !is_private(a.ip()))
        {
            kept.push(*addr);
        }
        if kept.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(kept)
    }
}

fn agent(allow_private: bool) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .max_redirects(0)
        .max_redirects_will_error(false)
        .http_status_as_error(false)
        .proxy(None)
        .user_agent("authrs-openid (mod_authrs)")
        .build();
    let resolver = ParanoidResolver {
        allow_private,
        inner: DefaultResolver::default(),
    };
    ureq::Agent::with_parts(config, DefaultConnector::default(), resolver)
}

/// Performs a described request; any failure (refused scheme, network, size) is status 0.
pub fn perform(request: &HttpRequest) -> HttpResponse {
    let scheme_ok =
        url::Url::parse(&request.url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !scheme_ok {
        return HttpResponse::failed();
    }
    let agent = agent(request.allow_private_addresses);
    let timeout = Some(Duration::from_millis(request.timeout_ms));
    let result = match request.method {
        Method::Get => {
            let mut r = agent
                .get(&request.url)
                .config()
                .timeout_global(timeout)
                .build();
            for (k, v) in &request.headers {
                r = r.header(k, v);
            }
            r.call()
        }
        Method::Post => {
            let mut r = agent
                .post(&request.url)
                .config()
                .timeout_global(timeout)
                .build();
            for (k, v) in &request.headers {
                r = r.header(k, v);
            }
            r.send(request.body.as_deref().unwrap_or_default())
        }
    };
    let Ok(mut response) = result else {
        return HttpResponse::failed();
    };
    let headers = response
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let limit = u64::try_from(request.max_response_bytes).unwrap_or(u64::MAX);
    let Ok(body) = response.body_mut().with_config().limit(limit).read_to_vec() else {
        return HttpResponse::failed();
    };
    HttpResponse {
        status: response.status().as_u16(),
        headers,
        body,
    }
}

/// Login steps of this process waiting on providers right now.
static FETCHING: AtomicUsize = AtomicUsize::new(0);
/// `AuthRsOpenIDMaxConcurrentFetches` as read (0: unset, derived from the threads).
static CONFIGURED: AtomicUsize = AtomicUsize::new(0);

/// Forgets the configured limit (before the configuration is read again).
pub fn reset_limit() {
    CONFIGURED.store(0, Ordering::Relaxed);
}

/// Records `AuthRsOpenIDMaxConcurrentFetches`.
pub fn configure_limit(n: u32) {
    CONFIGURED.store(usize::try_from(n).unwrap_or(usize::MAX), Ordering::Relaxed);
}

/// The limit in force: the directive, else [`derived_limit`] of this process's threads.
pub fn limit() -> usize {
    match CONFIGURED.load(Ordering::Relaxed) {
        // SAFETY: a plain query of the MPM, valid once httpd runs.
        0 => derived_limit(unsafe { crate::ffi::authrs_threads_per_child() }),
        n => n,
    }
}

/// A quarter of the threads of a process, at least 1 (prefork: one request per process, so a
/// limit of 1 never refuses).
pub fn derived_limit(threads: std::ffi::c_int) -> usize {
    (usize::try_from(threads).unwrap_or(0) / 4).max(1)
}

/// One of the places for login steps allowed to wait on providers at once in this process
/// (`AuthRsOpenIDMaxConcurrentFetches`): an identity page that answers slowly holds a worker
/// for up to the fetch budget, so without a bound a few slow pages could hold them all. Given
/// back when dropped, a panic's unwinding included.
#[derive(Debug)]
pub struct Slot(());

impl Slot {
    /// A place if fewer than `limit` are taken.
    pub fn try_acquire(limit: usize) -> Option<Slot> {
        FETCHING
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        FETCHING.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The time one login step (the start, or the return) may spend on all its fetches together:
/// the core's per-fetch timeout, shared — what ureq's global timeout is across redirects, for
/// the redirects the core follows itself. Without it a provider answering each of a step's
/// fetches (up to six per discovery document, two documents, the association) just before its
/// timeout held an httpd worker for minutes per anonymous request.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    deadline: Instant,
}

impl Budget {
    /// `ms` milliseconds from `now`.
    pub fn new(ms: u64, now: Instant) -> Budget {
        Budget {
            deadline: now + Duration::from_millis(ms),
        }
    }

    /// Whole milliseconds left at `now`; `None` once spent.
    pub fn left_ms(&self, now: Instant) -> Option<u64> {
        let left = self.deadline.checked_duration_since(now)?;
        let ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX);
        (ms > 0).then_some(ms)
    }

    /// Performs `request` within what is left (or its own timeout, if shorter); once the budget
    /// is spent, "no response" without touching the network.
    pub fn perform(&self, request: &HttpRequest) -> HttpResponse {
        let Some(left) = self.left_ms(Instant::now()) else {
            return HttpResponse::failed();
        };
        if left >= request.timeout_ms {
            return perform(request);
        }
        perform(&HttpRequest {
            timeout_ms: left,
            ..request.clone()
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use authrs_core::openid::http::FetchLimits;

    #[test]
    fn slots_are_bounded_and_given_back() {
        assert_eq!(derived_limit(25), 6);
        assert_eq!(derived_limit(4), 1);
        assert_eq!(derived_limit(1), 1);
        assert_eq!(derived_limit(0), 1);
        assert_eq!(derived_limit(-1), 1);
        let a = Slot::try_acquire(2).expect("first");
        let b = Slot::try_acquire(2).expect("second");
        assert!(
            Slot::try_acquire(2).is_none(),
            "a third place within a limit of 2"
        );
        drop(a);
        let c = Slot::try_acquire(2).expect("a place given back is free again");
        assert!(Slot::try_acquire(2).is_none());
        // Unwinding gives the place back too.
        let caught = std::panic::catch_unwind(|| {
            let _held = Slot::try_acquire(3).expect("third of three");
            panic!("a login step that panics");
        });
        assert!(caught.is_err());
        let d = Slot::try_acquire(3).expect("the panicking step's place is free");
        drop((b, c, d));
        assert_eq!(FETCHING.load(Ordering::Acquire), 0);
    }

    #[test]
    fn a_login_step_shares_one_budget_and_fetches_nothing_once_it_is_spent() {
        let t0 = Instant::now();
        let budget = Budget::new(10_000, t0);
        assert_eq!(budget.left_ms(t0), Some(10_000));
        assert_eq!(budget.left_ms(t0 + Duration::from_millis(9_250)), Some(750));
        assert_eq!(budget.left_ms(t0 + Duration::from_secs(10)), None);
        assert_eq!(budget.left_ms(t0 + Duration::from_secs(60)), None);

        // A provider on loopback that would answer: a spent budget does not even connect.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let limits = FetchLimits {
            allow_private_addresses: true,
            ..FetchLimits::default()
        };
        let url = url::Url::parse(&format!("http://127.0.0.1:{port}/id/alice")).unwrap();
        let spent = Budget::new(0, Instant::now());
        assert_eq!(spent.perform(&limits.get(&url, "*/*")).status, 0);
        assert!(listener.accept().is_err(), "a spent budget connected");
    }
}
