//! Envoy's `x-forwarded-client-cert` header parser.
//!
//! Grammar as Envoy writes it: elements separated by `,`, each a list of
//! `key=value` pairs separated by `;`. Keys are case-insensitive. A value may
//! be double-quoted (Envoy quotes `Subject`, whose DN holds `,` and `=`);
//! inside quotes `\"` is a literal quote and any other backslash pair is kept
//! as written, so DN escapes like `\,` survive. `Cert` and `Chain` are
//! URL-encoded PEM and are percent-decoded here (`+` stays `+`: it is base64).
//! `By`, `Hash`, `Cert`, `Chain` and `Subject` may appear once per element,
//! `URI` and `DNS` any number of times; unknown keys are ignored.
//!
//! The parser is strict on purpose — this header decides who a user is:
//! stray quotes, control characters, empty keys or values, and repeated
//! single-valued keys are errors, never guesses.

use std::fmt;

use percent_encoding::percent_decode_str;

/// Longest header accepted (bytes).
pub const MAX_HEADER_LEN: usize = 64 * 1024;

/// Most elements (proxy hops) accepted.
pub const MAX_ELEMENTS: usize = 16;

/// Why an `x-forwarded-client-cert` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum XfccError {
    /// Longer than [`MAX_HEADER_LEN`].
    TooLong,
    /// More than [`MAX_ELEMENTS`] elements.
    TooManyElements,
    /// No element at all (empty header).
    Empty,
    /// A double quote is opened and never closed.
    UnterminatedQuote,
    /// A quote in the middle of a value, or text after a closing quote.
    BadQuoting,
    /// A pair without `=`, or an empty pair (`;;`).
    MissingEquals,
    /// A key that is empty or not a plain word.
    BadKey,
    /// A key with an empty value.
    EmptyValue(String),
    /// `By`, `Hash`, `Cert`, `Chain` or `Subject` twice in one element.
    DuplicateKey(&'static str),
    /// `Cert`/`Chain` percent-decoding gave bytes that are not UTF-8.
    BadEncoding(&'static str),
    /// A control character (NUL, CR, LF, …) in the header.
    ControlCharacter,
    /// A key other than `URI`/`DNS` after a `URI` or `DNS` pair (names it): Envoy writes the
    /// SANs last and unquoted, so a SAN holding `;Subject=…` would otherwise add a field.
    KeyAfterSan(String),
}

impl fmt::Display for XfccError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XfccError::TooLong => write!(
                f,
                "x-forwarded-client-cert longer than {MAX_HEADER_LEN} bytes"
            ),
            XfccError::TooManyElements => write!(
                f,
                "x-forwarded-client-cert has more than {MAX_ELEMENTS} elements"
            ),
            XfccError::Empty => f.write_str("x-forwarded-client-cert is empty"),
            XfccError::UnterminatedQuote => {
                f.write_str("x-forwarded-client-cert has an unterminated quote")
            }
            XfccError::BadQuoting => f.write_str("x-forwarded-client-cert has a misplaced quote"),
            XfccError::MissingEquals => {
                f.write_str("x-forwarded-client-cert has a pair without '='")
            }
            XfccError::BadKey => f.write_str("x-forwarded-client-cert has an empty or invalid key"),
            XfccError::EmptyValue(k) => {
                write!(f, "x-forwarded-client-cert key {k:?} has an empty value")
            }
            XfccError::DuplicateKey(k) => {
                write!(f, "x-forwarded-client-cert repeats {k} in one element")
            }
            XfccError::BadEncoding(k) => {
                write!(f, "x-forwarded-client-cert {k} is not URL-encoded UTF-8")
            }
            XfccError::ControlCharacter => {
                f.write_str("x-forwarded-client-cert has a control character")
            }
            XfccError::KeyAfterSan(k) => write!(
                f,
                "x-forwarded-client-cert has {k} after a URI or DNS SAN (a SAN holding ';'?)"
            ),
        }
    }
}

impl std::error::Error for XfccError {}

/// One XFCC element: what one proxy hop saw of its client's certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XfccElement {
    /// `By`: the SAN (URI or DNS) of the proxy's own certificate.
    pub by: Option<String>,
    /// `Hash`: hex SHA-256 of the client certificate (DER).
    pub hash: Option<String>,
    /// `Cert`: the client certificate as PEM, percent-decoded.
    pub cert: Option<String>,
    /// `Chain`: the client's full chain as PEM, percent-decoded.
    pub chain: Option<String>,
    /// `Subject`: the client certificate's subject DN, unquoted.
    pub subject: Option<String>,
    /// `URI`: URI SANs of the client certificate.
    pub uri: Vec<String>,
    /// `DNS`: DNS SANs of the client certificate.
    pub dns: Vec<String>,
}

/// Splits `s` on `sep` where it is outside double quotes (a backslash inside quotes escapes the next byte).
fn split_outside_quotes(s: &str, sep: u8) -> Result<Vec<&str>, XfccError> {
    let bytes = s.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut in_quote, mut i) = (0, false, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_quote => i += 1,
            b'"' => in_quote = !in_quote,
            b if b == sep && !in_quote => {
                // `sep` is ASCII, so `i` is a char boundary.
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if in_quote {
        return Err(XfccError::UnterminatedQuote);
    }
    parts.push(&s[start..]);
    Ok(parts)
}

/// The value of a pair: a bare word without quotes, or a quoted string with `\"` unescaped.
fn unquote(raw: &str) -> Result<String, XfccError> {
    let Some(inner) = raw.strip_prefix('"') else {
        return if raw.contains('"') {
            Err(XfccError::BadQuoting)
        } else {
            Ok(raw.to_string())
        };
    };
    let inner = inner.strip_suffix('"').ok_or(XfccError::BadQuoting)?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('"') => out.push('"'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                // The splitter pairs a trailing backslash with the closing quote: unterminated.
                None => return Err(XfccError::UnterminatedQuote),
            },
            '"' => return Err(XfccError::BadQuoting),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn set_once(slot: &mut Option<String>, key: &'static str, value: String) -> Result<(), XfccError> {
    if slot.is_some() {
        return Err(XfccError::DuplicateKey(key));
    }
    *slot = Some(value);
    Ok(())
}

fn url_decoded(value: &str, key: &'static str) -> Result<String, XfccError> {
    let s = percent_decode_str(value)
        .decode_utf8()
        .map_err(|_| XfccError::BadEncoding(key))?;
    if s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(XfccError::ControlCharacter);
    }
    Ok(s.into_owned())
}

fn parse_element(element: &str) -> Result<XfccElement, XfccError> {
    let mut el = XfccElement::default();
    let mut after_san = false;
    for pair in split_outside_quotes(element, b';')? {
        let pair = pair.trim_matches([' ', '\t']);
        let (key, raw) = pair.split_once('=').ok_or(XfccError::MissingEquals)?;
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(XfccError::BadKey);
        }
        let lower = key.to_ascii_lowercase();
        let san = matches!(lower.as_str(), "uri" | "dns");
        if after_san && matches!(lower.as_str(), "by" | "hash" | "cert" | "chain" | "subject") {
            return Err(XfccError::KeyAfterSan(key.to_string()));
        }
        after_san |= san;
        let value = unquote(raw)?;
        if value.is_empty() {
            // Envoy itself writes `URI=` (and `DNS=`) when the certificate has no such SAN:
            // an empty SAN list is no SAN. Any other empty field says nothing and is refused.
            if san {
                continue;
            }
            return Err(XfccError::EmptyValue(key.to_string()));
        }
        match lower.as_str() {
            "by" => set_once(&mut el.by, "By", value)?,
            "hash" => set_once(&mut el.hash, "Hash", value)?,
            "cert" => set_once(&mut el.cert, "Cert", url_decoded(&value, "Cert")?)?,
            "chain" => set_once(&mut el.chain, "Chain", url_decoded(&value, "Chain")?)?,
            "subject" => set_once(&mut el.subject, "Subject", value)?,
            "uri" => el.uri.push(value),
            "dns" => el.dns.push(value),
            _ => {}
        }
    }
    Ok(el)
}

/// The raw text of each element of an XFCC value (split at commas outside quotes), first hop first.
pub fn split_elements(header: &str) -> Result<Vec<&str>, XfccError> {
    split_outside_quotes(header, b',')
}

/// Parses an `x-forwarded-client-cert` value into its elements, first hop first
/// (the last element is the one the nearest proxy added).
pub fn parse(header: &str) -> Result<Vec<XfccElement>, XfccError> {
    if header.len() > MAX_HEADER_LEN {
        return Err(XfccError::TooLong);
    }
    // Tab is legal in header values; nothing else below 0x20 (or DEL) is.
    if header.chars().any(|c| c.is_control() && c != '\t') {
        return Err(XfccError::ControlCharacter);
    }
    if header.trim().is_empty() {
        return Err(XfccError::Empty);
    }
    let parts = split_outside_quotes(header, b',')?;
    if parts.len() > MAX_ELEMENTS {
        return Err(XfccError::TooManyElements);
    }
    parts.into_iter().map(parse_element).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    const ENVOY: &str = "By=spiffe://cluster.local/ns/foo/sa/bar;\
        Hash=468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688;\
        Subject=\"/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client\";\
        URI=spiffe://lyft.com/test-team";

    #[test]
    fn envoy_docs_example() {
        let els = parse(ENVOY).unwrap();
        assert_eq!(els.len(), 1);
        let e = &els[0];
        assert_eq!(
            e.by.as_deref(),
            Some("spiffe://cluster.local/ns/foo/sa/bar")
        );
        assert_eq!(
            e.hash.as_deref(),
            Some("468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688")
        );
        assert_eq!(
            e.subject.as_deref(),
            Some("/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client")
        );
        assert_eq!(e.uri, vec!["spiffe://lyft.com/test-team"]);
        assert!(e.dns.is_empty() && e.cert.is_none());
    }

    #[test]
    fn fields_after_a_san_are_refused() {
        // Envoy writes URI and DNS last and unquoted: a SAN `m.example;Subject="CN=admin"`
        // would add a Subject where the proxy forwards no subject of its own.
        for h in [
            "Hash=aa;DNS=m.example;Subject=\"CN=admin\"",
            "Hash=aa;URI=spiffe://x/y;Cert=\"x\"",
            "Hash=aa;URI=;hash=bb",
            "DNS=m.example;By=spiffe://edge",
        ] {
            assert!(
                matches!(parse(h), Err(XfccError::KeyAfterSan(_))),
                "{h}: {:?}",
                parse(h)
            );
        }
        // Keys it does not read may follow (a future Envoy's).
        assert!(parse("Hash=aa;DNS=a.example;X-Future=1").is_ok());
    }

    #[test]
    fn several_elements_and_sans() {
        let h = format!(
            "{ENVOY},By=http://frontend.lyft.com;Hash=abc;URI=http://testclient.lyft.com;DNS=lyft.com;dns=www.lyft.com;X-Future=1"
        );
        let els = parse(&h).unwrap();
        assert_eq!(els.len(), 2);
        let last = els.last().unwrap();
        assert_eq!(last.by.as_deref(), Some("http://frontend.lyft.com"));
        assert_eq!(last.dns, vec!["lyft.com", "www.lyft.com"]);
        // Whitespace after a comma (merged header lines) is tolerated.
        assert_eq!(
            parse("By=a;Hash=b, By=c;Hash=d").unwrap()[1].by.as_deref(),
            Some("c")
        );
    }

    #[test]
    fn quoted_separators_and_escapes() {
        let h = r#"Hash=h;Subject="CN=Smith\, John;O=Acme \"Labs\",C=US";By=x"#;
        let e = &parse(h).unwrap()[0];
        assert_eq!(
            e.subject.as_deref(),
            Some(r#"CN=Smith\, John;O=Acme "Labs",C=US"#)
        );
        assert_eq!(e.by.as_deref(), Some("x"));
        // Keys are case-insensitive.
        assert_eq!(
            parse("SUBJECT=\"a,b\";hash=1").unwrap()[0]
                .subject
                .as_deref(),
            Some("a,b")
        );
    }

    #[test]
    fn cert_is_percent_decoded() {
        let h = "Hash=1;Cert=\"-----BEGIN%20CERTIFICATE-----%0AMIIB+/a%3D%0A-----END%20CERTIFICATE-----%0A\"";
        let e = &parse(h).unwrap()[0];
        assert_eq!(
            e.cert.as_deref(),
            Some("-----BEGIN CERTIFICATE-----\nMIIB+/a=\n-----END CERTIFICATE-----\n")
        );
        assert_eq!(parse("Cert=%FF%FE"), Err(XfccError::BadEncoding("Cert")));
        assert_eq!(parse("Cert=a%00b"), Err(XfccError::ControlCharacter));
    }

    #[test]
    fn envoy_writes_empty_san_lists() {
        // What Envoy 1.40 sends for a certificate with neither URI nor DNS SANs.
        let els = parse("Hash=ab;Subject=\"CN=alice\";URI=;DNS=").unwrap();
        assert_eq!(els[0].subject.as_deref(), Some("CN=alice"));
        assert!(els[0].uri.is_empty() && els[0].dns.is_empty());
    }

    #[test]
    fn chain_is_percent_decoded_and_single() {
        let pem = "-----BEGIN%20CERTIFICATE-----%0AMIIB%0A-----END%20CERTIFICATE-----%0A";
        let one = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let h = format!("Hash=1;Cert=\"{pem}\";Chain=\"{pem}{pem}\"");
        let e = &parse(&h).unwrap()[0];
        assert_eq!(e.cert.as_deref(), Some(one));
        assert_eq!(e.chain.as_deref(), Some(format!("{one}{one}").as_str()));
        // A second Chain could smuggle in a different issuer path: refused, as for Cert.
        assert_eq!(
            parse("Chain=a;chain=b"),
            Err(XfccError::DuplicateKey("Chain"))
        );
        assert_eq!(parse("Chain=%C3%28"), Err(XfccError::BadEncoding("Chain")));
        assert_eq!(parse("Chain=a%1Bb"), Err(XfccError::ControlCharacter));
    }

    #[test]
    fn escaped_quote_does_not_end_the_quoted_value() {
        // The client chooses its Subject; a DN holding `",Hash=forged;By=evil` arrives escaped
        // as `\"`. The splitter must skip it like `unquote` does, or the text after it would
        // become a field or a whole element of its own.
        let h = r#"Hash=real;Subject="CN=\",Hash=forged;By=evil""#;
        assert_eq!(split_elements(h).unwrap(), vec![h]);
        let els = parse(h).unwrap();
        assert_eq!(els.len(), 1);
        assert_eq!(els[0].hash.as_deref(), Some("real"));
        assert_eq!(els[0].by, None);
        assert_eq!(
            els[0].subject.as_deref(),
            Some(r#"CN=",Hash=forged;By=evil"#)
        );
        // An escaped backslash before the closing quote is a backslash, and the quote closes.
        let e = &parse(r#"Subject="CN=a\\";By=x"#).unwrap()[0];
        assert_eq!(
            (e.subject.as_deref(), e.by.as_deref()),
            (Some(r"CN=a\\"), Some("x"))
        );
    }

    #[test]
    fn backslash_outside_quotes_is_literal() {
        // Only inside quotes does `\` escape. Outside, it must not hide a `,` or `;`: else a
        // bare `\` would merge two hops (or two fields) into one and shift which is the last.
        let els = parse(r"Hash=a\;URI=x\,Hash=b").unwrap();
        assert_eq!(els.len(), 2);
        assert_eq!(els[0].hash.as_deref(), Some(r"a\"));
        assert_eq!(els[0].uri, vec![r"x\"]);
        assert_eq!(els[1].hash.as_deref(), Some("b"));
        // And a bare `\"` still opens a quote in the middle of a value.
        assert_eq!(parse(r#"By=a\"b""#), Err(XfccError::BadQuoting));
    }

    #[test]
    fn split_elements_keeps_quoted_commas() {
        // Callers take the last raw element as the nearest hop: a comma inside a quoted
        // Subject must not make a forged element look like the last one.
        let h = r#"By=a;Subject="CN=x,Hash=forged";Hash=1,Hash=2"#;
        assert_eq!(
            split_elements(h).unwrap(),
            vec![r#"By=a;Subject="CN=x,Hash=forged";Hash=1"#, "Hash=2"]
        );
        let h = r#"Hash=2;Subject="CN=x,Hash=forged""#;
        assert_eq!(split_elements(h).unwrap(), vec![h]);
        assert_eq!(
            split_elements("Hash=1,Subject=\"a,b"),
            Err(XfccError::UnterminatedQuote)
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let cases = [
            (
                XfccError::TooLong,
                "x-forwarded-client-cert longer than 65536 bytes",
            ),
            (
                XfccError::TooManyElements,
                "x-forwarded-client-cert has more than 16 elements",
            ),
            (XfccError::Empty, "x-forwarded-client-cert is empty"),
            (
                XfccError::EmptyValue("By".into()),
                "x-forwarded-client-cert key \"By\" has an empty value",
            ),
            (
                XfccError::DuplicateKey("Hash"),
                "x-forwarded-client-cert repeats Hash in one element",
            ),
            (
                XfccError::BadEncoding("Cert"),
                "x-forwarded-client-cert Cert is not URL-encoded UTF-8",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }

    #[test]
    fn malformed_values() {
        let cases: &[(&str, XfccError)] = &[
            ("", XfccError::Empty),
            ("  ", XfccError::Empty),
            ("By=a;Subject=\"CN=x", XfccError::UnterminatedQuote),
            ("Subject=\"CN=x\\\"", XfccError::UnterminatedQuote),
            ("Subject=CN\"x\"", XfccError::BadQuoting),
            ("Subject=\"a\"b", XfccError::BadQuoting),
            ("Subject=\"a\"b\"c\"", XfccError::BadQuoting),
            ("=value", XfccError::BadKey),
            ("B y=value", XfccError::BadKey),
            ("By", XfccError::MissingEquals),
            ("By=a;;Hash=b", XfccError::MissingEquals),
            ("By=a,", XfccError::MissingEquals),
            ("By=", XfccError::EmptyValue("By".into())),
            ("Hash=", XfccError::EmptyValue("Hash".into())),
            ("By=a;by=b", XfccError::DuplicateKey("By")),
            (
                "Subject=a;Subject=\"b\"",
                XfccError::DuplicateKey("Subject"),
            ),
            ("By=a\r\nX-Injected: 1", XfccError::ControlCharacter),
            ("By=a\0", XfccError::ControlCharacter),
        ];
        for (h, want) in cases {
            assert_eq!(parse(h).as_ref(), Err(want), "{h:?}");
        }
    }

    #[test]
    fn limits() {
        let huge = format!("By={}", "a".repeat(MAX_HEADER_LEN));
        assert_eq!(parse(&huge), Err(XfccError::TooLong));
        let many = vec!["Hash=1"; MAX_ELEMENTS + 1].join(",");
        assert_eq!(parse(&many), Err(XfccError::TooManyElements));
        let ok = vec!["Hash=1"; MAX_ELEMENTS].join(",");
        assert_eq!(parse(&ok).unwrap().len(), MAX_ELEMENTS);
        // What Envoy sends with Cert and a two-certificate Chain (~2.7 KB of URL-encoded PEM
        // each) fits with room to spare.
        let body = "MIIB%2Babc%2F".repeat(200);
        let pem =
            format!("-----BEGIN%20CERTIFICATE-----%0A{body}%0A-----END%20CERTIFICATE-----%0A");
        let h = format!("Cert=\"{pem}\";Chain=\"{pem}{pem}\";{ENVOY}");
        assert!(h.len() > 8_000, "{}", h.len());
        assert!(parse(&h).unwrap()[0].chain.is_some());
        // The limit is inclusive: a header of exactly MAX_HEADER_LEN bytes (a Cert and Chain
        // run to several KB) is parsed.
        let filler = "a".repeat(MAX_HEADER_LEN - "Hash=1;X-Pad=".len());
        let at_limit = format!("Hash=1;X-Pad={filler}");
        assert_eq!(at_limit.len(), MAX_HEADER_LEN);
        assert_eq!(parse(&at_limit).unwrap()[0].hash.as_deref(), Some("1"));
        assert_eq!(parse(&format!("{at_limit}a")), Err(XfccError::TooLong));
        // Commas inside quotes do not count as elements.
        let quoted = format!("Subject=\"{}\"", ",".repeat(100));
        assert_eq!(parse(&quoted).unwrap().len(), 1);
    }
}
