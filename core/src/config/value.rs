//! Parsers for the scalar value kinds: durations, booleans, numbers, enums, SameSite, CIDRs, paths, hosts.
//!
//! Each takes the text as written and answers a typed value or a
//! [`ValueError`] saying what was expected; the caller adds the option name.

use std::net::IpAddr;
use std::str::FromStr;

use crate::cookies::SameSite;
use ipnet::IpNet;

use super::error::ValueError;

/// Longest accepted duration (100 years): `now + duration` can then never overflow an `i64`.
pub const MAX_DURATION: i64 = 100 * 365 * 86_400;

/// Duration units, largest first, with their length in seconds (`M` is 30 days, `y` 365).
const UNITS: [(char, u64); 7] = [
    ('y', 365 * 86_400),
    ('M', 30 * 86_400),
    ('w', 7 * 86_400),
    ('d', 86_400),
    ('h', 3_600),
    ('m', 60),
    ('s', 1),
];

const DURATION_EXPECTED: &str =
    "expected a duration such as 3600, 90s, 30m, +2h, 1d or 1h30m (units y, M, w, d, h, m, s)";

/// Parses a duration into seconds: `3600`, `90s`, `30m`, AuthCookie's `+2h`, `1d`, `1h30m`.
///
/// Units go from largest to smallest, each at most once; negative values,
/// fractions and anything over [`MAX_DURATION`] are refused.
pub fn parse_duration(value: &str) -> Result<i64, ValueError> {
    let err = |why: &str| ValueError::new(value, format!("{why}; {DURATION_EXPECTED}"));
    let trimmed = value.trim_matches([' ', '\t']);
    let body = trimmed.strip_prefix('+').unwrap_or(trimmed);
    if body.starts_with('-') {
        return Err(err("must not be negative"));
    }
    if body.is_empty() {
        return Err(err("must not be empty"));
    }
    let too_large = || {
        ValueError::new(
            value,
            format!("too large: at most {MAX_DURATION} seconds (100 years)"),
        )
    };
    let mut total: u64 = 0;
    let mut rest = body;
    let mut last_unit: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(err("not a number"));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| too_large())?;
        rest = &rest[digits..];
        let Some(unit) = rest.chars().next() else {
            if last_unit.is_some() {
                return Err(err("missing unit after the last number"));
            }
            total = n;
            break;
        };
        let Some(rank) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(err("unknown unit"));
        };
        if last_unit.is_some_and(|prev| rank <= prev) {
            return Err(err("units must go from largest to smallest, each once"));
        }
        last_unit = Some(rank);
        total = n
            .checked_mul(UNITS[rank].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(too_large)?;
        rest = &rest[unit.len_utf8()..];
    }
    i64::try_from(total)
        .ok()
        .filter(|t| *t <= MAX_DURATION)
        .ok_or_else(too_large)
}

/// Parses On/Off (also true/false, yes/no, 1/0), case-insensitively.
pub fn parse_bool(value: &str) -> Result<bool, ValueError> {
    const ON: [&str; 4] = ["on", "true", "yes", "1"];
    const OFF: [&str; 4] = ["off", "false", "no", "0"];
    if ON.iter().any(|w| value.eq_ignore_ascii_case(w)) {
        Ok(true)
    } else if OFF.iter().any(|w| value.eq_ignore_ascii_case(w)) {
        Ok(false)
    } else {
        Err(ValueError::new(value, "expected On or Off"))
    }
}

/// Parses a whole number in `min..=max`.
pub fn parse_integer(value: &str, min: i64, max: i64) -> Result<i64, ValueError> {
    let range = || {
        if max == i64::MAX {
            format!("expected a whole number of at least {min}")
        } else {
            format!("expected a whole number from {min} to {max}")
        }
    };
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueError::new(value, range()));
    }
    match value.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ValueError::new(value, range())),
    }
}

/// Parses a fraction from 0 to 1 inclusive, such as `0.5`.
pub fn parse_fraction(value: &str) -> Result<f64, ValueError> {
    let expected = "expected a number from 0 to 1, such as 0.5";
    let plain = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && value.bytes().any(|b| b.is_ascii_digit());
    match value.parse::<f64>() {
        Ok(f) if plain && (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(ValueError::new(value, expected)),
    }
}

/// Matches `value` case-insensitively against `allowed` and returns the canonical spelling.
pub fn parse_enum(
    value: &str,
    allowed: &'static [&'static str],
) -> Result<&'static str, ValueError> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value))
        .copied()
        .ok_or_else(|| ValueError::new(value, one_of(allowed)))
}

/// The "must be one of: a, b, c" text used by every enumerated option.
pub fn one_of(allowed: &[&str]) -> String {
    format!("must be one of: {}", allowed.join(", "))
}

/// The SameSite words, as cookies spell them.
pub const SAME_SITE_VALUES: &[&str] = &["Strict", "Lax", "None"];

/// Parses Strict, Lax or None, case-insensitively.
pub fn parse_same_site(value: &str) -> Result<SameSite, ValueError> {
    Ok(match parse_enum(value, SAME_SITE_VALUES)? {
        "Strict" => SameSite::Strict,
        "Lax" => SameSite::Lax,
        _ => SameSite::None,
    })
}

/// Parses IP addresses and CIDR ranges separated by spaces or commas; a bare address is a /32 or /128.
///
/// Host bits are cleared (`10.1.2.3/8` becomes `10.0.0.0/8`) so the list shows what it matches.
pub fn parse_cidr_list(value: &str) -> Result<Vec<IpNet>, ValueError> {
    let expected = "expected IP addresses or CIDR ranges such as 10.0.0.0/8, 192.0.2.7 or ::1";
    let mut nets = Vec::new();
    for item in split_list(value) {
        let net = if item.contains('/') {
            IpNet::from_str(item).ok().map(|n| n.trunc())
        } else {
            IpAddr::from_str(item).ok().map(IpNet::from)
        };
        let net = net.ok_or_else(|| ValueError::new(item, expected))?;
        // Trusted proxies are the only CIDR option: a /0 believes certificate and identity
        // headers from any client, which is never a proxy list — nor are its halves (0.0.0.0/1
        // and 128.0.0.0/1), a range wider than a /8 (IPv6: /32), or all of IPv4 written as
        // mapped IPv6 (::ffff:0:0/96).
        let too_wide = match net {
            IpNet::V4(n) => n.prefix_len() < 8,
            IpNet::V6(n) => {
                let mapped = n.addr().to_ipv4_mapped().is_some();
                n.prefix_len() < 32 || (mapped && n.prefix_len() < 96 + 8)
            }
        };
        if too_wide {
            return Err(ValueError::new(
                item,
                "the proxies' own addresses or ranges, at most a /8 (IPv6: /32), not a share of every address (it would let any client there assert a certificate)",
            ));
        }
        nets.push(net);
    }
    if nets.is_empty() {
        return Err(ValueError::new(value, expected));
    }
    Ok(nets)
}

/// Splits a list written as `a b, c` into its items.
pub fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
}

/// Parses free text: not empty, no control characters.
pub fn parse_text(value: &str) -> Result<String, ValueError> {
    if value.is_empty() {
        return Err(ValueError::new(value, "must not be empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(ValueError::new(
            value,
            "must not contain control characters",
        ));
    }
    Ok(value.to_string())
}

/// Parses a file-system path: not empty, no control characters (the shell opens it, not the core).
pub fn parse_path(value: &str) -> Result<String, ValueError> {
    parse_text(value).map_err(|e| ValueError::new(value, format!("{} (a file path)", e.expected)))
}

/// Parses a local URL path such as `/` or `/login`: starts with one `/`, no spaces, `;`, `,` or controls.
///
/// `//host` and `/\host` are refused: browsers treat them as another site.
pub fn parse_url_path(value: &str) -> Result<String, ValueError> {
    let ok = value.starts_with('/')
        && !value.starts_with("//")
        && !value.starts_with("/\\")
        && !value
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == ';' || c == ',');
    if ok {
        Ok(value.to_string())
    } else {
        Err(ValueError::new(
            value,
            "expected a local path starting with a single / (no spaces, ';', ',' or control characters)",
        ))
    }
}

/// Parses a local path (see [`parse_url_path`]) or an absolute `http`/`https` URL.
pub fn parse_url(value: &str) -> Result<String, ValueError> {
    if value.starts_with('/') {
        return parse_url_path(value);
    }
    let expected = "expected a local path such as /login or an absolute http(s) URL";
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ValueError::new(value, expected));
    }
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u.to_string()),
        _ => Err(ValueError::new(value, expected)),
    }
}

/// Parses a host name or IP literal (`example.org`, `[::1]`), normalised (lower case, punycode).
pub fn parse_host(value: &str) -> Result<String, ValueError> {
    let expected = "expected a host name such as app.example.org (no scheme, port or path)";
    let bad_shape = value.contains([':', '/', '@']) && !value.starts_with('[');
    if value.is_empty() || value.starts_with('.') || bad_shape {
        return Err(ValueError::new(value, expected));
    }
    // WHATWG host parsing lets `;`, `,`, `=` and more through; a Domain attribute must not carry them.
    match url::Host::parse(value) {
        Ok(url::Host::Domain(d))
            if d.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }) =>
        {
            Ok(d)
        }
        Ok(h @ (url::Host::Ipv4(_) | url::Host::Ipv6(_))) => Ok(h.to_string()),
        _ => Err(ValueError::new(value, expected)),
    }
}

/// Parses a cookie name: an RFC 6265 token (visible ASCII, no separators).
pub fn parse_cookie_name(value: &str) -> Result<String, ValueError> {
    let ok = !value.is_empty() && value.bytes().all(is_token_byte);
    if ok {
        Ok(value.to_string())
    } else {
        Err(ValueError::new(
            value,
            "expected a cookie name: letters, digits and !#$%&'*+-.^_`|~ only",
        ))
    }
}

/// True for the bytes RFC 7230 allows in a token (and so in a cookie name).
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses an httpd socache spec: a provider name, optionally `:` and its arguments (`shmcb:/run/x(512000)`).
pub fn parse_socache(value: &str) -> Result<String, ValueError> {
    let (provider, args) = value.split_once(':').unwrap_or((value, ""));
    let ok = !provider.is_empty()
        && provider
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !args.chars().any(char::is_control);
    if ok && provider.eq_ignore_ascii_case("dbm") {
        // mod_socache_dbm answers a missing key as a general error: with revocation on, every
        // ticket lookup would fail (closed), and every OpenID return would be store_failed.
        return Err(ValueError::new(
            value,
            "dbm cannot tell a missing entry from a failure (every lookup would fail); use shmcb, memcache or redis",
        ));
    }
    if ok {
        Ok(value.to_string())
    } else {
        Err(ValueError::new(
            value,
            "expected a socache provider such as shmcb, shmcb:/path(512000) or memcache:host:port",
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn socache_dbm_is_refused() {
        for v in ["dbm", "dbm:/var/cache/authrs", "DBM:/x"] {
            let e = parse_socache(v).unwrap_err();
            assert!(e.to_string().contains("missing entry"), "{v}: {e}");
        }
        assert!(parse_socache("shmcb:/run/authrs(512000)").is_ok());
        assert!(parse_socache("memcache:127.0.0.1:11211").is_ok());
    }

    #[test]
    fn durations_in_every_form() {
        assert_eq!(parse_duration("3600"), Ok(3600));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("+2h"), Ok(7200));
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("1w2d"), Ok(9 * 86_400));
        assert_eq!(parse_duration("1M"), Ok(30 * 86_400));
        assert_eq!(parse_duration("1y"), Ok(365 * 86_400));
        assert_eq!(parse_duration(" 30m\t"), Ok(1800));
        assert_eq!(parse_duration("0007"), Ok(7));
        assert_eq!(parse_duration("100y"), Ok(MAX_DURATION));
    }

    #[test]
    fn bad_durations_say_why() {
        for bad in [
            "", "+", "-1", "-1h", "+-5", "1.5h", "h", "1x", "1H", "30 m", "1h30", "30m1h", "1h1h",
            "abc", "1h\0", "\0", "３０", "1ｈ", "1e3",
        ] {
            let e = parse_duration(bad).expect_err(bad);
            assert_eq!(e.value, bad);
            assert!(
                e.expected.contains("duration") || e.expected.contains("large"),
                "{bad}: {e}"
            );
        }
        assert!(parse_duration("-5")
            .unwrap_err()
            .expected
            .contains("negative"));
        assert!(parse_duration("1h30")
            .unwrap_err()
            .expected
            .contains("missing unit"));
    }

    #[test]
    fn huge_durations_are_refused_not_wrapped() {
        for bad in [
            "99999999999999999999h",
            "99999999999999999999",
            "18446744073709551615s",
            "9223372036854775807",
            "101y",
            "3153600001",
            "106751991167300d",
        ] {
            let e = parse_duration(bad).expect_err(bad);
            assert!(e.expected.contains("too large"), "{bad}: {e}");
        }
        let long = "9".repeat(1_000_000);
        assert!(parse_duration(&long).is_err());
        let long_units = "1h".repeat(100_000);
        assert!(parse_duration(&long_units).is_err());
    }

    #[test]
    fn booleans() {
        for on in ["On", "on", "ON", "true", "Yes", "1"] {
            assert_eq!(parse_bool(on), Ok(true), "{on}");
        }
        for off in ["Off", "off", "FALSE", "no", "0"] {
            assert_eq!(parse_bool(off), Ok(false), "{off}");
        }
        for bad in ["", "onn", "2", "on\0", " on", "enabled", "ｏｎ"] {
            let e = parse_bool(bad).expect_err(bad);
            assert_eq!(e.expected, "expected On or Off");
        }
    }

    #[test]
    fn integers_and_fractions() {
        assert_eq!(parse_integer("5", 1, i64::MAX), Ok(5));
        assert_eq!(parse_integer("+5", 1, 10), Ok(5));
        assert!(parse_integer("0", 1, i64::MAX)
            .unwrap_err()
            .expected
            .contains("at least 1"));
        assert!(parse_integer("11", 1, 10)
            .unwrap_err()
            .expected
            .contains("from 1 to 10"));
        for bad in [
            "",
            "-",
            "1.0",
            "1e3",
            "99999999999999999999",
            "５",
            " 5",
            "5\0",
        ] {
            assert!(parse_integer(bad, 1, i64::MAX).is_err(), "{bad}");
        }
        assert_eq!(parse_fraction("0.5"), Ok(0.5));
        assert_eq!(parse_fraction("0"), Ok(0.0));
        assert_eq!(parse_fraction("1"), Ok(1.0));
        assert_eq!(parse_fraction(".25"), Ok(0.25));
        for bad in ["", ".", "1.5", "-0.1", "NaN", "inf", "1e-1", "0,5", "½"] {
            assert!(parse_fraction(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn enums_and_same_site() {
        assert_eq!(parse_enum("LAX", SAME_SITE_VALUES), Ok("Lax"));
        let e = parse_enum("Laxx", SAME_SITE_VALUES).unwrap_err();
        assert_eq!(e.expected, "must be one of: Strict, Lax, None");
        assert_eq!(parse_same_site("strict"), Ok(SameSite::Strict));
        assert_eq!(parse_same_site("None"), Ok(SameSite::None));
        assert_eq!(parse_same_site("lax"), Ok(SameSite::Lax));
        for bad in ["", "Lax\0", "Lax ", "Laẋ", "Nonee"] {
            assert!(parse_same_site(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cidr_lists() {
        let nets = parse_cidr_list("10.0.0.0/8, 192.0.2.7 ::1 2001:db8::/32").unwrap();
        let shown: Vec<String> = nets.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["10.0.0.0/8", "192.0.2.7/32", "::1/128", "2001:db8::/32"]
        );
        assert_eq!(
            parse_cidr_list("10.1.2.3/8").unwrap()[0].to_string(),
            "10.0.0.0/8"
        );
        for bad in [
            "",
            " , ",
            "10.0.0.0/33",
            "300.1.1.1",
            "10.0.0.1/",
            "example.com",
            "10.0.0.0/8\0",
            "::1/129",
            "10.0.0.0/-1",
            "١٠.0.0.1",
        ] {
            let e = parse_cidr_list(bad).expect_err(bad);
            assert!(e.expected.contains("CIDR"), "{bad}");
        }
        let e = parse_cidr_list("10.0.0.0/8 bogus").unwrap_err();
        assert_eq!(e.value, "bogus");
        // Every address, or a large share of it, is never a proxy list: anyone there could
        // assert a certificate. Its halves together are every address too.
        for everyone in [
            "0.0.0.0/0",
            "::/0",
            "10.0.0.0/8 0.0.0.0/0",
            "1.2.3.4/0",
            "0.0.0.0/1 128.0.0.0/1",
            "::/1",
            "10.0.0.0/7",
            "2000::/16",
            "::ffff:0:0/96",
            "::ffff:10.0.0.0/100",
        ] {
            let e = parse_cidr_list(everyone).expect_err(everyone);
            assert!(e.expected.contains("at most a /8"), "{everyone}: {e}");
        }
        assert_eq!(
            parse_cidr_list("10.0.0.0/8 2001:db8::/32 ::ffff:10.0.0.0/104 fd00::1")
                .unwrap()
                .len(),
            4
        );
    }

    #[test]
    fn absolute_urls_refuse_spaces_and_controls_the_url_parser_would_encode() {
        // url::Url::parse would quietly percent-encode or strip these and answer Ok.
        for bad in [
            "https://login.example.org/a b",
            " https://login.example.org/",
            "https://login.example.org/\0",
            "https://login.example.org/\u{7f}",
        ] {
            let e = parse_url(bad).expect_err(bad);
            assert_eq!(e.value, bad);
            assert!(e.expected.contains("http(s) URL"), "{bad:?}: {e}");
        }
        assert_eq!(
            parse_url("HTTPS://Login.Example.ORG/a%20b"),
            Ok("https://login.example.org/a%20b".into())
        );
    }

    #[test]
    fn hosts_keep_hyphens_underscores_and_punycode() {
        assert_eq!(
            parse_host("my-app.example-site.org"),
            Ok("my-app.example-site.org".into())
        );
        assert_eq!(
            parse_host("_acme.example.org"),
            Ok("_acme.example.org".into())
        );
        assert_eq!(parse_host("bücher.de"), Ok("xn--bcher-kva.de".into()));
        assert_eq!(parse_host("192.0.2.7"), Ok("192.0.2.7".into()));
        assert_eq!(parse_host("[2001:DB8::1]"), Ok("[2001:db8::1]".into()));
        for bad in [
            "::1",
            "[::1]:443",
            "a+b.example",
            "a%3bb.example",
            "a*.example",
        ] {
            assert!(parse_host(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paths_urls_hosts_and_names() {
        assert_eq!(parse_url_path("/"), Ok("/".into()));
        for bad in [
            "",
            "login",
            "//evil.example",
            "/\\evil",
            "/a b",
            "/a;b",
            "/a\r\nSet-Cookie:x",
        ] {
            assert!(parse_url_path(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_url("/login"), Ok("/login".into()));
        assert!(parse_url("https://login.example.org/form").is_ok());
        for bad in [
            "javascript:alert(1)",
            "ftp://x/",
            "https://",
            "login",
            "https://a b/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_host("App.Example.ORG"), Ok("app.example.org".into()));
        assert!(parse_host("[::1]").is_ok());
        for bad in [
            "",
            "https://x",
            "x:443",
            "a/b",
            "user@x",
            "a b",
            "x\0",
            ".example.org",
            "a;b",
            "a,b",
            "a=b",
            "a..b",
            "a.b.",
        ] {
            assert!(parse_host(bad).is_err(), "{bad:?}");
        }
        assert!(parse_cookie_name("AuthRs_Site").is_ok());
        for bad in ["", "a b", "a;b", "a=b", "ä", "a\0"] {
            assert!(parse_cookie_name(bad).is_err(), "{bad:?}");
        }
        assert!(parse_socache("shmcb").is_ok());
        assert!(parse_socache("shmcb:/run/authrs(512000)").is_ok());
        assert!(parse_socache(":x").is_err());
        assert!(parse_socache("shm cb").is_err());
        assert!(parse_path("/etc/authrs/keys").is_ok());
        assert!(parse_path("/etc/\0x").is_err());
        assert!(parse_text("").is_err());
    }
}
