//! Distinguished names, rendered byte for byte as OpenSSL 3 renders them.
//!
//! * [`rfc2253`] is `X509_NAME_print_ex(…, XN_FLAG_RFC2253)`: what `openssl x509 -nameopt
//!   RFC2253` prints and Envoy puts in `subject_peer_certificate`. RDNs in reverse order,
//!   `,` between RDNs, `+` inside a multi-valued RDN, OpenSSL short names, `,+"\<>;`
//!   backslash-escaped, a leading `#`/space and a trailing space escaped, control
//!   characters and every byte ≥ 0x80 of the UTF-8 form as `\XX`, and attributes whose
//!   OID OpenSSL does not know (or whose value is not a string) as `1.2.3.4=#<hex DER>`.
//! * [`rfc2253_mod_ssl`] is what mod_ssl really puts in `SSL_CLIENT_S_DN`: it prints with
//!   `XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB`, so non-ASCII text stays raw UTF-8
//!   (`O=Zürich`) where OpenSSL's CLI and Envoy write `O=Z\C3\BCrich`. The two forms
//!   differ in nothing else; [`escape_msb`] turns mod_ssl's form into the canonical one,
//!   and everything authrs compares (map file, CRL issuers, `dn` rule) uses the canonical one.
//! * [`legacy`] is `X509_NAME_oneline`: mod_ssl's `LegacyDNStringFormat` and
//!   `openssl x509 -nameopt compat`. DER order, `/` before each RDN, `+` inside a
//!   multi-valued RDN, raw content bytes with `/` and `+` escaped and bytes outside
//!   `' '..='~'` as `\xXX`. A BMPString therefore shows its raw UCS-2 (`\x00a\x00b`),
//!   exactly as OpenSSL does. Names over OpenSSL's 1 MiB oneline limit (where OpenSSL
//!   gives up) are rendered in full here: the one known difference.
//! * [`parse_rfc2253`] reads the RFC 2253 string back into (short name, value) pairs.
//!
//! Short names come from OpenSSL 3.0's object table (`oid_names.rs`, generated). Envoy
//! links BoringSSL, whose printer escapes identically but whose object table is older:
//! an attribute OID only OpenSSL knows (e.g. `organizationIdentifier`) would be printed
//! by Envoy as `2.5.4.97=#…`. Such names exist in few client certificates; map them with
//! `cn`/`email`/SAN rules rather than `dn` when both shells must agree. Certificates whose
//! names OpenSSL refuses to load (invalid UTF-8 in a UTF8String, surrogates in a BMPString,
//! padded attribute OIDs: [`malformed`]) are refused by [`super::Certificate`]'s parser; the
//! renderers still print such names as OpenSSL would (for DN strings built by hand).

mod oid_names;
mod oid_text;
mod parse;
mod value;

pub use parse::parse_rfc2253;

/// Whether OpenSSL's RFC 2253 printer could never write `dn` as it is spelled: an attribute
/// type as a dotted OID it has a name for, or not OpenSSL's at all; a `\XX` escape of a
/// printable ASCII character (OpenSSL writes it as itself, or `\,` for the specials) or in
/// lower-case hex. `false` for a DN that does not parse (that error comes first). Another case
/// of a known name (`cn`) passes: the tests' shared Require table sends such DNs through a
/// trusted proxy to check case-sensitive matching. A DN map entry spelled otherwise would load
/// and never match.
pub fn has_unprinted_spelling(dn: &str) -> bool {
    let Ok(attributes) = parse_rfc2253(dn) else {
        return false;
    };
    let bad_name = |name: &str| {
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            oid_names::short_name(name).is_some()
        } else {
            !oid_names::knows_name(name)
        }
    };
    if attributes.iter().any(|(name, _)| bad_name(name)) {
        return true;
    }
    unprinted_escapes(dn.as_bytes())
}

/// Escapes and spaces as OpenSSL's RFC 2253 printer never writes them: a `\XX` escape of a
/// printable ASCII character or in lower-case hex; `\c` other than for `,+"\<>;`, `#` at a
/// value's start and a space at its start or end (`\=`, a mid-value `\ `); an unescaped space at
/// a value's start or end, an unescaped `"<>;`, a raw control character.
fn unprinted_escapes(b: &[u8]) -> bool {
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c < 0x20 || c == 0x7f {
            return true;
        }
        let Some(value) = start else {
            if c == b'=' {
                start = Some(i + 1);
            }
            i += 1;
            continue;
        };
        match c {
            b'\\' => {
                let escaped = b.get(i + 1).copied().unwrap_or(0);
                if let Some(&[hi, lo]) = b.get(i + 1..i + 3) {
                    if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() {
                        let nibble = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                        let byte = nibble(hi) << 4 | nibble(lo);
                        if hi.is_ascii_lowercase()
                            || lo.is_ascii_lowercase()
                            || (0x20..0x7f).contains(&byte)
                        {
                            return true;
                        }
                        i += 3;
                        continue;
                    }
                }
                let at_start = i == value;
                let at_end = b.get(i + 2).is_none_or(|n| matches!(n, b',' | b'+'));
                let printed = matches!(escaped, b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';')
                    || (escaped == b'#' && at_start)
                    || (escaped == b' ' && (at_start || at_end));
                if !printed {
                    return true;
                }
                i += 2;
            }
            b',' | b'+' => {
                if i > value && b[i - 1] == b' ' && b[i - 2] != b'\\' {
                    return true;
                }
                start = None;
                i += 1;
            }
            b' ' if i == value => return true,
            b'"' | b'<' | b'>' | b';' => return true,
            _ => i += 1,
        }
    }
    // The last value's trailing space, unescaped.
    start.is_some_and(|value| b.len() > value && b[b.len() - 1] == b' ' && b[b.len() - 2] != b'\\')
}

use oid_text::type_name;
use std::borrow::Cow;
use x509_parser::asn1_rs::Any;
use x509_parser::x509::X509Name;

/// One attribute of a DN, in DER order, with its value decoded to text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnAttribute {
    /// OpenSSL's short name (`CN`, `emailAddress`, …) or the dotted OID when OpenSSL has none.
    pub name: String,
    /// The decoded value; non-string values are `#` + uppercase hex of their DER.
    pub value: String,
}

/// One attribute of OpenSSL's flat entry list: the index of its RDN, its printed type
/// name (looked up once, shared by every rendering), whether OpenSSL knows the type, and
/// the value.
struct Entry<'n, 'a> {
    set: usize,
    name: Cow<'static, str>,
    known: bool,
    value: &'n Any<'a>,
}

/// Every attribute in DER order, type names resolved.
fn entries<'n, 'a>(name: &'n X509Name<'a>) -> Vec<Entry<'n, 'a>> {
    let mut out = Vec::with_capacity(name.iter_attributes().count());
    for (set, rdn) in name.iter_rdn().enumerate() {
        for atv in rdn.iter() {
            let (name, known) = type_name(atv.attr_type());
            out.push(Entry {
                set,
                name,
                known,
                value: atv.attr_value(),
            });
        }
    }
    out
}

/// Why a name is one OpenSSL (and so mod_ssl) refuses to load, or `None` when it is sound:
/// an attribute type whose OID is not minimally encoded (a padded arc reads as another OID's
/// text, so `2.5.4.3` could name a second `CN`), or a string value that does not decode (a
/// UTF8String that is not UTF-8; a BMPString or UniversalString of impossible length, with a
/// surrogate or a code point past U+10FFFF). Rendered anyway, such values are cut or dropped,
/// and two different names could print as the same DN.
pub fn malformed(name: &X509Name<'_>) -> Option<&'static str> {
    for atv in name.iter_attributes() {
        let oid = atv.attr_type().as_bytes();
        // An arc's first octet is 0x80 only when padded (X.690 8.19.2).
        let starts = std::iter::once(true).chain(oid.iter().map(|b| b & 0x80 == 0));
        if oid.is_empty() || oid.iter().zip(starts).any(|(&b, start)| start && b == 0x80) {
            return Some("an attribute type's OID is not minimally encoded");
        }
        if let Some(why) = value::undecodable(atv.attr_value()) {
            return Some(why);
        }
    }
    None
}

/// Room to reserve for a rendering: rarely more than the DER, whose headers and OIDs
/// outweigh the short names and separators.
fn capacity(name: &X509Name<'_>) -> usize {
    name.as_raw().len().min(4096)
}

/// The DN as OpenSSL's RFC 2253 printer renders it (mod_ssl `SSL_CLIENT_S_DN`, Envoy).
pub fn rfc2253(name: &X509Name<'_>) -> String {
    render_rfc2253(&entries(name), capacity(name))
}

/// [`rfc2253`] and [`attributes`] from one walk over the name, as a certificate needs both.
pub(crate) fn rfc2253_and_attributes(name: &X509Name<'_>) -> (String, Vec<DnAttribute>) {
    let entries = entries(name);
    let dn = render_rfc2253(&entries, capacity(name));
    (dn, to_attributes(entries))
}

/// The RFC 2253 rendering of resolved entries.
fn render_rfc2253(entries: &[Entry<'_, '_>], capacity: usize) -> String {
    let mut out = String::with_capacity(capacity);
    let mut prev: Option<usize> = None;
    for e in entries.iter().rev() {
        if let Some(p) = prev {
            out.push(if p == e.set { '+' } else { ',' });
        }
        prev = Some(e.set);
        out.push_str(&e.name);
        out.push('=');
        if !e.known {
            value::dump_der(e.value, &mut out);
        } else if !value::push_rfc2253(e.value, &mut out) {
            // OpenSSL's printer aborts here and leaves what it wrote so far.
            break;
        }
    }
    out
}

/// The DN as mod_ssl's `SSL_CLIENT_S_DN` has it: [`rfc2253`] with bytes ≥ 0x80 unescaped.
pub fn rfc2253_mod_ssl(name: &X509Name<'_>) -> String {
    unescape_msb(&rfc2253(name))
}

/// mod_ssl's DN form → the canonical RFC 2253 form: every byte ≥ 0x80 becomes `\XX`.
/// Canonical strings pass through unchanged, so this is safe to apply to any DN string.
pub fn escape_msb(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    for b in dn.bytes() {
        if b >= 0x80 {
            out.push('\\');
            value::push_hex(&[b], &mut out);
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// The canonical form → mod_ssl's: `\XX` escapes of bytes ≥ 0x80 become raw bytes (a byte
/// sequence that is not UTF-8 becomes U+FFFD; OpenSSL refuses such certificates anyway).
pub(crate) fn unescape_msb(dn: &str) -> String {
    let b = dn.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(v) if v >= 0x80 => {
                    out.push(v);
                    i += 3;
                }
                // Any other escape (`\\`, `\,`, `\0A`) stays as it is, both bytes.
                _ => {
                    out.extend_from_slice(&b[i..(i + 2).min(b.len())]);
                    i += 2;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The DN as `X509_NAME_oneline` renders it (mod_ssl `LegacyDNStringFormat`).
pub fn legacy(name: &X509Name<'_>) -> String {
    let mut out = String::with_capacity(capacity(name));
    let mut prev: Option<usize> = None;
    for e in entries(name) {
        out.push(if prev == Some(e.set) { '+' } else { '/' });
        prev = Some(e.set);
        out.push_str(&e.name);
        out.push('=');
        value::push_oneline(e.value, &mut out);
    }
    out
}

/// The DN's attributes in DER order (the reverse of the RFC 2253 order), values decoded.
pub fn attributes(name: &X509Name<'_>) -> Vec<DnAttribute> {
    to_attributes(entries(name))
}

/// Resolved entries as owned attributes.
fn to_attributes(entries: Vec<Entry<'_, '_>>) -> Vec<DnAttribute> {
    // A fresh Vec of the right size: collecting in place would shrink the larger
    // entries' buffer with a realloc.
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        out.push(DnAttribute {
            name: e.name.into_owned(),
            value: value::decode(e.value),
        });
    }
    out
}

pub(crate) use oid_text::with_id_string;
pub(crate) use value::decode as decode_value;

#[cfg(test)]
mod tests;
