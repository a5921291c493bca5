//! Certificates as proxies put them in headers, turned back into clean PEM.

use std::borrow::Cow;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use percent_encoding::percent_decode_str;

use super::ProxyError;

/// Longest certificate header accepted (bytes).
pub const MAX_PEM_LEN: usize = 64 * 1024;

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// Turns a certificate as proxies send it into clean PEM: URL-escaped (`%0A`), or with spaces or
/// tabs where the newlines were. Only `CERTIFICATE` blocks are accepted; several are kept in order.
pub fn decode_proxy_pem(value: &str) -> Result<Vec<u8>, ProxyError> {
    if value.len() > MAX_PEM_LEN {
        return Err(ProxyError::BadPem("longer than 64 KiB"));
    }
    // '%' never occurs in PEM, so decoding is safe even when the value was not escaped;
    // '+' is left alone because it is base64, not an escaped space.
    let text: Cow<'_, str> = if value.contains('%') {
        percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| ProxyError::BadPem("URL escapes do not decode to text"))?
    } else {
        Cow::Borrowed(value)
    };
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text.trim();
    while !rest.is_empty() {
        let body = rest
            .strip_prefix(BEGIN)
            .ok_or(ProxyError::BadPem("no BEGIN CERTIFICATE line"))?;
        let end = body
            .find(END)
            .ok_or(ProxyError::BadPem("no END CERTIFICATE line"))?;
        let b64: String = body[..end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        match STANDARD.decode(&b64) {
            Ok(der) if !der.is_empty() => {}
            _ => return Err(ProxyError::BadPem("body is not base64")),
        }
        out.extend_from_slice(BEGIN.as_bytes());
        out.push(b'\n');
        for line in b64.as_bytes().chunks(64) {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
        out.extend_from_slice(END.as_bytes());
        out.push(b'\n');
        rest = body[end + END.len()..].trim_start();
    }
    if out.is_empty() {
        return Err(ProxyError::BadPem("empty"));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
pub(super) mod tests {
    use super::*;

    // A syntactically valid PEM body with `+` and `/` (not a certificate: this module never parses X.509).
    fn body() -> String {
        STANDARD.encode((0u8..=250).step_by(2).collect::<Vec<u8>>())
    }

    pub(crate) fn clean_pem() -> String {
        let b = body();
        let lines: Vec<&str> = b
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!("{BEGIN}\n{}\n{END}\n", lines.join("\n"))
    }

    /// [`clean_pem`] percent-escaped as an XFCC `Cert` value carries it.
    pub(crate) fn xfcc_pem() -> String {
        clean_pem()
            .replace('\n', "%0A")
            .replace(' ', "%20")
            .replace('+', "%2B")
    }

    #[test]
    fn pem_in_proxy_shapes() {
        let want = clean_pem().into_bytes();
        let spaced = clean_pem().replace('\n', " ");
        let nginx_tabs = clean_pem().replace('\n', "\n\t");
        let crlf = clean_pem().replace('\n', "\r\n");
        let one_line = format!("{BEGIN}{}{END}", body());
        let escaped = clean_pem()
            .replace('\n', "%0a")
            .replace(' ', "%20")
            .replace('+', "%2b");
        for v in [clean_pem(), spaced, nginx_tabs, crlf, one_line, escaped] {
            assert_eq!(decode_proxy_pem(&v).as_deref(), Ok(&want[..]), "{v:?}");
        }
        let two = format!("{} {}", clean_pem(), clean_pem());
        assert_eq!(
            decode_proxy_pem(&two).unwrap(),
            [want.clone(), want].concat()
        );
        for bad in [
            "",
            "(null)",
            &body(),
            &format!("junk{}", clean_pem()),
            &format!("{}junk", clean_pem()),
            &format!("{BEGIN}\n{}\n", body()),
            &format!("{BEGIN}\n!!!!\n{END}"),
            &format!("{BEGIN}\n{END}"),
            "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
            "%FF%FE",
        ] {
            assert!(decode_proxy_pem(bad).is_err(), "{bad:?}");
        }
        assert!(decode_proxy_pem(&"A".repeat(MAX_PEM_LEN + 1)).is_err());
    }
}
