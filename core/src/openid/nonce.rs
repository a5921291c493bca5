//! `response_nonce` checks with the seed's `nonce_options` and their documented defaults.
//!
//! Defaults, as Net::OpenID::Consumer 1.18 computes them: `window` is
//! `lifetime` if given, else 1800 s (1200 + 2 × `skew`, `skew` at least
//! 300); `lifetime` defaults to `window`; `skew` to 300, or `window/2` when
//! that is smaller. A nonce is stale when its time minus `skew` is more than
//! `window` ago or before `start`; with `timecop`, more than `skew` ahead is
//! `nonce_future` (without it such a nonce passes, as in the seed).
//!
//! Two deliberate differences from the 1.18 code, which both follow the
//! documentation: the documented option names `nocheck` and `ignoretime`
//! are accepted (1.18 only knows `no_check` / `ignore_time`, also accepted),
//! and `timecop` takes effect (1.18 drops it while canonicalizing). A
//! negative `skew` counts as 0, as documented.

use super::error::{ErrorCode, OpenIdError};
use crate::time::UnixTime;
use serde::Deserialize;

/// The nonce's default delay budget in seconds (the seed's `$nonce_default_delay`).
pub const DEFAULT_DELAY: i64 = 1200;
/// The default provider clock skew in seconds (the seed's `$nonce_default_skew`).
pub const DEFAULT_SKEW: i64 = 300;
/// The longest nonce accepted (2.0 §10.1: at most 255 characters).
pub const MAX_NONCE_LEN: usize = 255;

/// The seed's `nonce_options`, as given (JSON object for the CLI and the Envoy filter).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NonceOptions {
    /// Skip response_nonce checking entirely (overrides everything else).
    #[serde(default, alias = "no_check")]
    pub nocheck: bool,
    /// Check only for reuse, never the timestamp.
    #[serde(default, alias = "ignore_time")]
    pub ignoretime: bool,
    /// Seconds a seen nonce is kept; zero or negative: the store's own default.
    #[serde(default)]
    pub lifetime: Option<i64>,
    /// Seconds a provider clock may be ahead of ours.
    #[serde(default)]
    pub skew: Option<i64>,
    /// Reject nonces whose time minus skew is before this Unix time (the store's start).
    #[serde(default)]
    pub start: Option<i64>,
    /// Reject nonces whose time minus skew is more than this many seconds ago; zero or negative: no limit.
    #[serde(default)]
    pub window: Option<i64>,
    /// Reject nonces more than `skew` seconds in the future (`nonce_future`).
    #[serde(default)]
    pub timecop: bool,
}

/// The options with every default applied, as the checks use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoncePolicy {
    /// No response_nonce check at all (only `nonce_missing` for 2.0 remains).
    NoCheck,
    /// Replay check, and timestamp checks when `window` or `start` is set.
    Check {
        /// Seconds a seen nonce is kept; 0: the store's default.
        lifetime: i64,
        /// Seconds; 0 means unlimited.
        window: i64,
        /// Twice the skew (the default `window/2` may be a half second).
        skew2: i64,
        /// Earliest acceptable nonce time minus skew; 0: none.
        start: i64,
        /// Whether future nonces are refused.
        timecop: bool,
    },
}

impl Default for NoncePolicy {
    fn default() -> Self {
        NonceOptions::default().resolve()
    }
}

impl NonceOptions {
    /// Applies the seed's defaults.
    pub fn resolve(&self) -> NoncePolicy {
        if self.nocheck {
            return NoncePolicy::NoCheck;
        }
        if self.ignoretime {
            return NoncePolicy::Check {
                lifetime: self.lifetime.unwrap_or(0).max(0),
                window: 0,
                skew2: 0,
                start: 0,
                timecop: false,
            };
        }
        // Operator numbers (CLI JSON is not bounded by the option table) are clamped to a
        // century, so the doubled arithmetic below can never wrap.
        let secs = |v: Option<i64>| v.map(|v| v.clamp(0, MAX_OPTION_SECONDS));
        let (skew, window, lifetime) = (secs(self.skew), secs(self.window), secs(self.lifetime));
        let window = window.unwrap_or_else(|| {
            lifetime.unwrap_or_else(|| {
                DEFAULT_DELAY + 2 * skew.filter(|s| *s > DEFAULT_SKEW).unwrap_or(DEFAULT_SKEW)
            })
        });
        let lifetime = lifetime.unwrap_or(window);
        let skew2 = match skew {
            Some(s) => 2 * s,
            None if window < 2 * DEFAULT_SKEW => window,
            None => 2 * DEFAULT_SKEW,
        };
        NoncePolicy::Check {
            lifetime,
            window,
            skew2,
            start: self.start.unwrap_or(0).clamp(0, MAX_START),
            timecop: self.timecop,
        }
    }
}

/// The most seconds a skew, window or lifetime may name (about a century).
const MAX_OPTION_SECONDS: i64 = 100 * 366 * 86_400;
/// The latest `start` (9999-12-31T23:59:59Z, the last time a nonce can carry).
const MAX_START: i64 = 253_402_300_799;

impl NoncePolicy {
    /// Checks the nonce's timestamp against `now` (format, future with timecop, stale).
    pub fn check_time(&self, nonce: &str, now: UnixTime) -> Result<(), OpenIdError> {
        let NoncePolicy::Check {
            window,
            skew2,
            start,
            timecop,
            ..
        } = *self
        else {
            return Ok(());
        };
        if nonce.len() > MAX_NONCE_LEN {
            return Err(OpenIdError::with(
                ErrorCode::NonceFormat,
                "nonce longer than 255 characters",
            ));
        }
        if window == 0 && start == 0 {
            return Ok(());
        }
        let t = nonce_time(nonce).ok_or_else(|| {
            OpenIdError::with(
                ErrorCode::NonceFormat,
                format!("bad nonce timestamp in {nonce:?}"),
            )
        })?;
        // Doubled: the earliest our clock could have seen this nonce, `t - skew`. In i128, so
        // no `now` a caller passes can wrap it.
        let (t, now, skew2, window, start) = (
            i128::from(t),
            i128::from(now),
            i128::from(skew2),
            i128::from(window),
            i128::from(start),
        );
        let earliest2 = 2 * t - skew2;
        if 2 * now < earliest2 {
            return if timecop {
                Err(ErrorCode::NonceFuture.into())
            } else {
                Ok(())
            };
        }
        if (window > 0 && earliest2 < 2 * (now - window)) || (start > 0 && earliest2 < 2 * start) {
            return Err(ErrorCode::NonceStale.into());
        }
        Ok(())
    }

    /// When a seen nonce may be forgotten: `now + lifetime`, but never before [`check_time`]
    /// stops accepting it (its time plus the window, less the skew) — a lifetime shorter than
    /// the window, or a nonce stamped ahead of our clock (accepted early without timecop), would
    /// otherwise be forgotten while a replay of it still passed. `None`: the store's default.
    ///
    /// [`check_time`]: NoncePolicy::check_time
    pub fn expiry(&self, nonce: &str, now: UnixTime) -> Option<UnixTime> {
        match *self {
            NoncePolicy::Check {
                lifetime,
                window,
                skew2,
                ..
            } if lifetime > 0 => {
                let kept = now.saturating_add(lifetime);
                let accepted_until = nonce_time(nonce)
                    .filter(|_| window > 0)
                    .map(|t| {
                        // Accepted while 2t - skew2 >= 2(now - window): until t + window - skew2/2.
                        let until = i128::from(t) + i128::from(window) - i128::from(skew2) / 2;
                        UnixTime::try_from(until.clamp(0, i128::from(UnixTime::MAX)))
                            .unwrap_or(UnixTime::MAX)
                    })
                    .unwrap_or(0);
                Some(kept.max(accepted_until))
            }
            _ => None,
        }
    }
}

/// The replay-store key of a nonce from `server` (the seed's `nonce:$server:$nonce`).
pub fn store_key(server: &str, nonce: &str) -> String {
    // Pushed into one sized buffer: cheaper than `format!` on every return.
    let mut key = String::with_capacity("nonce:".len() + server.len() + 1 + nonce.len());
    key.push_str("nonce:");
    key.push_str(server);
    key.push(':');
    key.push_str(nonce);
    key
}

/// The Unix time at the start of a nonce: `YYYY-MM-DDTHH:MM:SSZ`, UTC, each field in range.
pub fn nonce_time(nonce: &str) -> Option<UnixTime> {
    let b = nonce.as_bytes();
    let stamp = b.get(..20)?;
    let shape = b"dddd-dd-ddTdd:dd:ddZ";
    let well_shaped = stamp.iter().zip(shape).all(|(c, s)| match s {
        b'd' => c.is_ascii_digit(),
        other => c == other,
    });
    if !well_shaped {
        return None;
    }
    // Digits only (checked above): read them directly.
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?
            .iter()
            .try_fold(0u32, |n, d| Some(n * 10 + u32::from(d.checked_sub(b'0')?)))
    };
    let month = ::time::Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let date = ::time::Date::from_calendar_date(
        i32::try_from(num(0..4)?).ok()?,
        month,
        u8::try_from(num(8..10)?).ok()?,
    )
    .ok()?;
    let clock = ::time::Time::from_hms(
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(14..16)?).ok()?,
        u8::try_from(num(17..19)?).ok()?,
    )
    .ok()?;
    Some(date.with_time(clock).assume_utc().unix_timestamp())
}

/// Formats `t` as a nonce timestamp (tests, and providers written against this core).
pub fn format_time(t: UnixTime) -> Option<String> {
    let dt = ::time::OffsetDateTime::from_unix_timestamp(t).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn nonce(t: i64) -> String {
        format!("{}abc", format_time(t).unwrap())
    }

    fn opts(json: &str) -> NoncePolicy {
        serde_json::from_str::<NonceOptions>(json)
            .unwrap()
            .resolve()
    }

    fn code(p: &NoncePolicy, n: &str) -> Option<&'static str> {
        p.check_time(n, NOW).err().map(|e| e.code())
    }

    #[test]
    fn documented_defaults() {
        let d = NoncePolicy::default();
        assert_eq!(
            d,
            NoncePolicy::Check {
                lifetime: 1800,
                window: 1800,
                skew2: 600,
                start: 0,
                timecop: false
            }
        );
        // window from lifetime; skew window/2 when smaller than 300.
        assert_eq!(
            opts(r#"{"lifetime": 301}"#),
            NoncePolicy::Check {
                lifetime: 301,
                window: 301,
                skew2: 301,
                start: 0,
                timecop: false
            }
        );
        // A larger skew widens the default window.
        assert_eq!(
            opts(r#"{"skew": 400}"#),
            NoncePolicy::Check {
                lifetime: 2000,
                window: 2000,
                skew2: 800,
                start: 0,
                timecop: false
            }
        );
        assert_eq!(
            opts(r#"{"window": -5, "skew": -3}"#),
            NoncePolicy::Check {
                lifetime: 0,
                window: 0,
                skew2: 0,
                start: 0,
                timecop: false
            }
        );
        assert_eq!(
            opts(r#"{"nocheck": true, "window": 5}"#),
            NoncePolicy::NoCheck
        );
        assert_eq!(opts(r#"{"no_check": true}"#), NoncePolicy::NoCheck);
        assert_eq!(
            opts(r#"{"ignore_time": true, "lifetime": 60, "timecop": true}"#),
            NoncePolicy::Check {
                lifetime: 60,
                window: 0,
                skew2: 0,
                start: 0,
                timecop: false
            }
        );
        assert!(serde_json::from_str::<NonceOptions>(r#"{"windw": 5}"#).is_err());
    }

    #[test]
    fn stale_future_and_format() {
        let d = NoncePolicy::default();
        assert_eq!(code(&d, &nonce(NOW)), None);
        // Stale: t - 300 < now - 1800, i.e. older than 1500 s.
        assert_eq!(code(&d, &nonce(NOW - 1500)), None);
        assert_eq!(code(&d, &nonce(NOW - 1501)), Some("nonce_stale"));
        // Future without timecop passes; with it, more than skew ahead is nonce_future.
        assert_eq!(code(&d, &nonce(NOW + 3600)), None);
        let cop = opts(r#"{"timecop": true}"#);
        assert_eq!(code(&cop, &nonce(NOW + 300)), None);
        assert_eq!(code(&cop, &nonce(NOW + 301)), Some("nonce_future"));
        // start: the cache began at NOW - 1000; t - skew before that is stale.
        let start = opts(&format!(r#"{{"start": {}}}"#, NOW - 1000));
        assert_eq!(code(&start, &nonce(NOW - 701)), Some("nonce_stale"));
        assert_eq!(code(&start, &nonce(NOW - 700)), None);
        for bad in [
            "2026-13-01T00:00:00Zx",
            "2026-02-30T00:00:00Zx",
            "2026-01-01T24:00:00Zx",
            "2026-01-01T00:00:60Zx",
            "2026-01-01T00:00:00.5Z",
            "2026-01-01 00:00:00Zx",
            "2026-01-01T00:00:00+01:00",
            "short",
            "",
            "２０２６-01-01T00:00:00Z",
        ] {
            assert_eq!(code(&d, bad), Some("nonce_format"), "{bad}");
        }
        assert_eq!(
            code(&d, &format!("{}{}", nonce(NOW), "x".repeat(255))),
            Some("nonce_format")
        );
        // No window and no start: the timestamp is never read (the seed's shortcut).
        assert_eq!(code(&opts(r#"{"window": 0}"#), "garbage"), None);
        assert_eq!(code(&NoncePolicy::NoCheck, "garbage"), None);
    }

    #[test]
    fn huge_numbers_never_wrap_the_checks_around() {
        // 2 * skew once wrapped negative, turning "stale" and "future" around; any `now` a
        // caller passes (the CLI's --now) is doubled too.
        let huge = i64::MAX / 2 + 1;
        let cop = opts(&format!(
            r#"{{"skew": {huge}, "window": 600, "timecop": true}}"#
        ));
        // Clamped to a century, never negative: `t - skew` then lies before `now - window`
        // for any nonce, so every nonce is stale (the seed's rule), none slips through as
        // "future" or fresh.
        for t in [NOW, NOW + 86_400, NOW - 86_400] {
            assert_eq!(code(&cop, &nonce(t)), Some("nonce_stale"), "{t}");
        }
        let window = opts(&format!(r#"{{"window": {}}}"#, i64::MAX));
        assert_eq!(code(&window, &nonce(0)), None);
        for w in [i64::MIN, -1] {
            let p = opts(&format!(
                r#"{{"window": {w}, "lifetime": {w}, "skew": {w}}}"#
            ));
            assert_eq!(p.expiry(&nonce(NOW), NOW), None, "{w}");
        }
        let d = NoncePolicy::default();
        for now in [i64::MAX, i64::MIN, 0] {
            let got = d.check_time(&nonce(NOW), now).err().map(|e| e.code());
            let want = (now == i64::MAX).then_some("nonce_stale");
            assert_eq!(got, want, "{now}");
        }
        assert_eq!(
            opts(&format!(r#"{{"lifetime": {}}}"#, i64::MAX)).expiry(&nonce(NOW), i64::MAX),
            Some(i64::MAX)
        );
        let start = opts(&format!(r#"{{"start": {}}}"#, i64::MAX));
        assert_eq!(code(&start, &nonce(NOW)), Some("nonce_stale"));
    }

    #[test]
    fn half_second_skew_is_exact() {
        // window 7 → skew 3.5: t - 3.5 < now - 7 ⇔ t < now - 3.5.
        let p = opts(r#"{"window": 7}"#);
        assert_eq!(code(&p, &nonce(NOW - 3)), None);
        assert_eq!(code(&p, &nonce(NOW - 4)), Some("nonce_stale"));
    }

    #[test]
    fn boundaries_of_the_derived_skew_the_length_and_an_unlimited_window() {
        // Without a skew, a window under 600 s makes the skew half of it (here 200 s).
        let p = opts(r#"{"window": 400}"#);
        assert_eq!(
            p,
            NoncePolicy::Check {
                lifetime: 400,
                window: 400,
                skew2: 400,
                start: 0,
                timecop: false
            }
        );
        assert_eq!(code(&p, &nonce(NOW - 200)), None);
        assert_eq!(code(&p, &nonce(NOW - 201)), Some("nonce_stale"));
        // At most 255 characters (2.0 §10.1): 255 pass, 256 do not.
        let n = nonce(NOW);
        let at_most = format!("{n}{}", "x".repeat(MAX_NONCE_LEN - n.len()));
        assert_eq!(code(&NoncePolicy::default(), &at_most), None);
        assert_eq!(
            code(&NoncePolicy::default(), &format!("{at_most}x")),
            Some("nonce_format")
        );
        // window 0 is no limit: with only `start`, an old nonce after it passes.
        let p = opts(r#"{"window": 0, "start": 1}"#);
        assert_eq!(code(&p, &nonce(NOW - 86_400 * 365)), None);
        assert_eq!(code(&p, &nonce(0)), Some("nonce_stale"));
    }

    #[test]
    fn expiry_and_key() {
        assert_eq!(
            NoncePolicy::default().expiry(&nonce(NOW), NOW),
            Some(NOW + 1800)
        );
        assert_eq!(opts(r#"{"lifetime": 0}"#).expiry(&nonce(NOW), NOW), None);
        // A lifetime shorter than the window: kept until the window no longer accepts the
        // nonce, not forgotten after 60 s while a replay would still pass check_time.
        let short = opts(r#"{"lifetime": 60, "window": 1800, "skew": 0}"#);
        let n = nonce(NOW);
        let kept = short.expiry(&n, NOW).expect("kept");
        assert_eq!(kept, NOW + 1800);
        assert!(short.check_time(&n, kept).is_ok());
        assert!(short.check_time(&n, kept + 1).is_err());
        // Stamped ahead of our clock and accepted early (no timecop): kept from its own time.
        let ahead = nonce(NOW + 3600);
        let d = NoncePolicy::default();
        assert!(d.check_time(&ahead, NOW).is_ok());
        let kept = d.expiry(&ahead, NOW).expect("kept");
        assert!(kept > NOW + 3600, "{kept}");
        assert!(d.check_time(&ahead, kept + 1).is_err());
        assert_eq!(store_key("https://op/", "n1"), "nonce:https://op/:n1");
        assert_eq!(nonce_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(format_time(NOW).as_deref(), Some("2027-01-15T08:00:00Z"));
    }
}
