//! Reading an RFC 2253 DN string (as mod_ssl or Envoy hand it over) back into attributes.

use super::value::decode;
use crate::cert::CertError;
use x509_parser::asn1_rs::{Any, FromDer};

/// Longest DN string accepted; OpenSSL-rendered DNs of real certificates are far shorter.
pub const MAX_DN_LEN: usize = 64 * 1024;

/// Parses a DN string in OpenSSL's RFC 2253 form into `(short name, value)` pairs in
/// printed order (most specific RDN first; multi-valued RDNs flattened left to right).
///
/// Escapes `\c` and `\XX` are undone and the bytes read as UTF-8 (bad sequences become
/// U+FFFD, which user mapping refuses). A `#hex` value is decoded as DER: strings give
/// their text, other types stay `#HEX` as [`super::DnAttribute`] gives them. Quoting and
/// unescaped `"<>;` — never printed by OpenSSL — are refused, so are empty attribute types.
pub fn parse_rfc2253(dn: &str) -> Result<Vec<(String, String)>, CertError> {
    let bad = |at, why| Err(CertError::BadDn { at, why });
    if dn.len() > MAX_DN_LEN {
        return bad(0, "DN string too long");
    }
    let b = dn.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    if b.is_empty() {
        return Ok(out);
    }
    loop {
        // An OpenSSL short name (`CN`, `emailAddress`) or a dotted OID (`2.5.4.97`): nothing
        // else. In particular no `/`, so mod_ssl's legacy `/C=XX/O=Org/CN=a,CN=b` form — which
        // leaves `,` unescaped inside values — can never be read as RFC 2253 (`CN=b` would
        // come out as an attribute of its own).
        let start = i;
        let oid = b.get(i).is_some_and(u8::is_ascii_digit);
        while i < b.len()
            && (if oid {
                b[i].is_ascii_digit() || b[i] == b'.'
            } else {
                b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b'_'
            })
        {
            i += 1;
        }
        let well_formed = if oid {
            b[i - 1] != b'.' && !dn[start..i].contains("..")
        } else {
            b[start].is_ascii_alphabetic()
        };
        if i == start || !well_formed {
            return bad(
                start,
                "attribute type expected (a short name or a dotted OID)",
            );
        }
        if b.get(i) != Some(&b'=') {
            return bad(i, "'=' expected after the attribute type");
        }
        let name = &dn[start..i];
        i += 1;
        // OpenSSL leaves a one-character `#` value unescaped: that is text, not hex.
        let lone_hash = b.get(i) == Some(&b'#') && matches!(b.get(i + 1), None | Some(b',' | b'+'));
        let (value, next) = if b.get(i) == Some(&b'#') && !lone_hash {
            hex_value(b, i + 1)?
        } else {
            string_value(b, i)?
        };
        out.push((name.to_string(), value));
        i = next;
        match b.get(i) {
            None => return Ok(out),
            Some(b',') | Some(b'+') if i + 1 < b.len() => i += 1,
            Some(b',') | Some(b'+') => return bad(i, "attribute expected after separator"),
            Some(_) => return bad(i, "',' or '+' expected"),
        }
    }
}

/// A `#hex` value from `i` (just past the `#`): DER, decoded like a certificate's value.
fn hex_value(b: &[u8], mut i: usize) -> Result<(String, usize), CertError> {
    let start = i;
    let mut der = Vec::new();
    while i < b.len() && b[i] != b',' && b[i] != b'+' {
        let (Some(hi), Some(lo)) = (hex_digit(b[i]), b.get(i + 1).and_then(|c| hex_digit(*c)))
        else {
            return Err(CertError::BadDn {
                at: i,
                why: "hex digit pair expected",
            });
        };
        der.push(hi << 4 | lo);
        i += 2;
    }
    match Any::from_der(&der) {
        Ok((rest, any)) if rest.is_empty() && i > start => Ok((decode(&any), i)),
        _ => Err(CertError::BadDn {
            at: start,
            why: "'#' value is not one DER element",
        }),
    }
}

/// A string value from `i`, escapes undone, up to an unescaped `,` or `+`.
fn string_value(b: &[u8], mut i: usize) -> Result<(String, usize), CertError> {
    let mut bytes = Vec::new();
    while i < b.len() {
        match b[i] {
            b',' | b'+' => break,
            b'\\' => {
                let Some(&c) = b.get(i + 1) else {
                    return Err(CertError::BadDn {
                        at: i,
                        why: "dangling '\\'",
                    });
                };
                if let (Some(hi), Some(lo)) =
                    (hex_digit(c), b.get(i + 2).and_then(|d| hex_digit(*d)))
                {
                    bytes.push(hi << 4 | lo);
                    i += 3;
                } else if b",+\"\\<>;#= ".contains(&c) {
                    bytes.push(c);
                    i += 2;
                } else {
                    return Err(CertError::BadDn {
                        at: i,
                        why: "unknown escape",
                    });
                }
            }
            b'"' | b'<' | b'>' | b';' => {
                return Err(CertError::BadDn {
                    at: i,
                    why: "special character not escaped",
                });
            }
            c => {
                bytes.push(c);
                i += 1;
            }
        }
    }
    Ok((String::from_utf8_lossy(&bytes).into_owned(), i))
}

/// The value of one hex digit.
fn hex_digit(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}
