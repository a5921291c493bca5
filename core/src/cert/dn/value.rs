//! One attribute value: OpenSSL's RFC 2253 escaping (`do_buf`/`do_esc_char` in
//! `crypto/asn1/a_strex.c`), its `X509_NAME_oneline` escaping, and decoding to text.

use x509_parser::asn1_rs::{Any, Class, ToDer};

/// Characters per code unit for universal tags 0..=30, OpenSSL's `tag2nbyte`:
/// -1 = not a string (hex-dump the DER), 0 = UTF8String (printed byte by byte),
/// 1 = one byte (Latin-1), 2 = BMPString, 4 = UniversalString.
const TAG2NBYTE: [i8; 31] = [
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, -1, -1, -1, -1, -1, 1, 1, 1, -1, 1, 1, 1,
    -1, 1, -1, 4, -1, 2,
];

/// The OpenSSL code-unit width of a value, or `None` when OpenSSL dumps it as `#hex`.
fn width(value: &Any<'_>) -> Option<u8> {
    if value.class() != Class::Universal {
        return None;
    }
    let w = *TAG2NBYTE.get(usize::try_from(value.tag().0).ok()?)?;
    u8::try_from(w).ok()
}

/// Why a string value does not decode (see [`super::malformed`]), or `None`.
pub(super) fn undecodable(value: &Any<'_>) -> Option<&'static str> {
    let data = value.data;
    match width(value)? {
        0 => std::str::from_utf8(data)
            .is_err()
            .then_some("a UTF8String is not UTF-8"),
        2 if data.len() % 2 != 0 => Some("a BMPString has an odd length"),
        2 => data
            .chunks_exact(2)
            .any(|c| (0xd800..=0xdfff).contains(&u16::from_be_bytes([c[0], c[1]])))
            .then_some("a BMPString holds a surrogate"),
        4 if data.len() % 4 != 0 => Some("a UniversalString's length is not a multiple of 4"),
        4 => data
            .chunks_exact(4)
            .any(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])).is_none())
            .then_some("a UniversalString holds a value that is no character"),
        _ => None,
    }
}

/// Appends `#` and the uppercase hex of the value's DER (OpenSSL's `do_dump` with `DUMP_DER`).
pub(super) fn dump_der(value: &Any<'_>, out: &mut String) {
    out.push('#');
    match value.to_der_vec() {
        Ok(der) => push_hex(&der, out),
        // Re-encoding a value we just decoded cannot fail short of allocation; keep the content.
        Err(_) => push_hex(value.data, out),
    }
}

/// Uppercase hex of `bytes`, appended.
pub(super) fn push_hex(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
}

/// Appends the value as `X509_NAME_print_ex(XN_FLAG_RFC2253)` prints it.
/// Returns `false` where OpenSSL's printer fails (a BMP/Universal string of
/// impossible length): OpenSSL then stops, leaving the output cut at that point.
pub(super) fn push_rfc2253(value: &Any<'_>, out: &mut String) -> bool {
    let Some(w) = width(value) else {
        dump_der(value, out);
        return true;
    };
    let data = value.data;
    // UTF8String is walked byte by byte without conversion; others are widened to UTF-8.
    let (unit, convert) = if w == 0 {
        (1, false)
    } else {
        (usize::from(w), true)
    };
    if data.len() % unit != 0 {
        return false;
    }
    let count = data.len() / unit;
    for (i, chunk) in data.chunks(unit).enumerate() {
        let c = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
        // OpenSSL: the last-position flag replaces the first-position flag, so a
        // one-character value gets only the "last" escapes.
        let pos = if i + 1 == count {
            Pos::Last
        } else if i == 0 {
            Pos::First
        } else {
            Pos::Middle
        };
        if !convert {
            push_esc(c as u8, pos, out);
            continue;
        }
        let Some(ch) = char::from_u32(c) else {
            // UTF8_putc refuses surrogates and values past U+10FFFF: OpenSSL drops them silently.
            continue;
        };
        let mut buf = [0u8; 4];
        for b in ch.encode_utf8(&mut buf).bytes() {
            push_esc(b, pos, out);
        }
    }
    true
}

/// Where a character sits in the value; RFC 2253 escapes some only at the ends.
#[derive(Clone, Copy, PartialEq)]
enum Pos {
    First,
    Middle,
    Last,
}

/// OpenSSL's `do_esc_char` under `ESC_2253 | ESC_CTRL | ESC_MSB`.
fn push_esc(b: u8, pos: Pos, out: &mut String) {
    let backslash = matches!(b, b'"' | b'+' | b',' | b';' | b'<' | b'>' | b'\\')
        || (pos == Pos::First && (b == b' ' || b == b'#'))
        || (pos == Pos::Last && b == b' ');
    if !(0x20..0x7f).contains(&b) {
        out.push('\\');
        push_hex(&[b], out);
    } else if backslash {
        out.push('\\');
        out.push(char::from(b));
    } else {
        out.push(char::from(b));
    }
}

/// Appends the value as `X509_NAME_oneline` prints it: raw content bytes, `/` and `+`
/// backslash-escaped, others outside `' '..='~'` as `\xXX`.
pub(super) fn push_oneline(value: &Any<'_>, out: &mut String) {
    let der;
    // OpenSSL keeps a SEQUENCE value as its whole encoding, a BIT STRING without its
    // unused-bits octet, other types as content octets.
    let universal = value.class() == Class::Universal;
    let bytes: &[u8] = if universal && value.tag().0 == 16 {
        der = value.to_der_vec().unwrap_or_else(|_| value.data.to_vec());
        &der
    } else if universal && value.tag().0 == 3 {
        value.data.get(1..).unwrap_or_default()
    } else {
        value.data
    };
    // GeneralString whose length is a multiple of 4 and whose bytes other than every
    // fourth are zero is taken as UCS-4 and only every fourth byte printed (OpenSSL quirk).
    let is_general = value.class() == Class::Universal && value.tag().0 == 27;
    let mut keep = [true; 4];
    if is_general && bytes.len() % 4 == 0 {
        let mut nonzero = [false; 4];
        for (j, b) in bytes.iter().enumerate() {
            nonzero[j & 3] |= *b != 0;
        }
        if !(nonzero[0] || nonzero[1] || nonzero[2]) {
            keep = [false, false, false, true];
        }
    }
    for (j, b) in bytes.iter().enumerate() {
        if !keep[j & 3] {
            continue;
        }
        let b = *b;
        if !(b' '..=b'~').contains(&b) {
            out.push_str("\\x");
            push_hex(&[b], out);
        } else {
            if b == b'/' || b == b'+' {
                out.push('\\');
            }
            out.push(char::from(b));
        }
    }
}

/// The value as text: strings decoded (UTF-8, Latin-1 for the one-byte types,
/// UTF-16 for BMPString, UCS-4 for UniversalString; bad sequences become U+FFFD);
/// anything else as `#` + uppercase hex of its DER, like the RFC 2253 form.
pub(crate) fn decode(value: &Any<'_>) -> String {
    let data = value.data;
    match width(value) {
        Some(0) => String::from_utf8_lossy(data).into_owned(),
        // ASCII is the same in Latin-1 and UTF-8: one copy instead of a char at a time.
        Some(1) if data.is_ascii() => String::from_utf8_lossy(data).into_owned(),
        Some(1) => data.iter().map(|b| char::from(*b)).collect(),
        Some(2) => {
            let mut s: String = char::decode_utf16(
                data.chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]])),
            )
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
            if data.len() % 2 != 0 {
                s.push(char::REPLACEMENT_CHARACTER);
            }
            s
        }
        Some(_) => {
            let mut s: String = data
                .chunks_exact(4)
                .map(|c| {
                    char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                        .unwrap_or(char::REPLACEMENT_CHARACTER)
                })
                .collect();
            if data.len() % 4 != 0 {
                s.push(char::REPLACEMENT_CHARACTER);
            }
            s
        }
        None => {
            let mut s = String::new();
            dump_der(value, &mut s);
            s
        }
    }
}
