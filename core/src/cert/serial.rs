//! Serial numbers as mod_ssl's `SSL_CLIENT_M_SERIAL` prints them (`i2a_ASN1_INTEGER`).

/// Renders an INTEGER's DER content octets like OpenSSL's `i2a_ASN1_INTEGER`: uppercase
/// hex of the magnitude, two digits per byte (so 256 is `0100`, 0 is `00`), `-` before a
/// negative one, and OpenSSL's `\`+newline after every 35 bytes of a (nonsensical) huge one.
pub fn serial_hex(content: &[u8]) -> String {
    let negative = content.first().is_some_and(|b| b & 0x80 != 0);
    let mut magnitude: Vec<u8> = if negative {
        // Two's complement negation: invert and add one.
        let mut m: Vec<u8> = content.iter().map(|b| !b).collect();
        for b in m.iter_mut().rev() {
            let (v, carry) = b.overflowing_add(1);
            *b = v;
            if !carry {
                break;
            }
        }
        m
    } else {
        content.to_vec()
    };
    // OpenSSL keeps the magnitude without sign padding; keep at least one byte.
    let zeros = magnitude.iter().take_while(|b| **b == 0).count();
    magnitude.drain(..zeros.min(magnitude.len().saturating_sub(1)));
    let mut out = String::with_capacity(magnitude.len() * 2 + magnitude.len() / 35 * 2 + 3);
    if negative {
        out.push('-');
    }
    if magnitude.is_empty() {
        out.push_str("00");
    }
    for (i, b) in magnitude.iter().enumerate() {
        if i != 0 && i % 35 == 0 {
            out.push_str("\\\n");
        }
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// Brings a serial written by someone else (`0x1f`, `01:F4`, `1f4`) to a comparable form:
/// uppercase hex digits without separators or leading zeros, `-` kept. `None` if not hex.
pub fn normalize_serial(s: &str) -> Option<String> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let mut digits = String::new();
    for c in s.chars() {
        match c {
            ':' | '\\' | '\n' => {}
            c if c.is_ascii_hexdigit() => digits.push(c.to_ascii_uppercase()),
            _ => return None,
        }
    }
    let trimmed = digits.trim_start_matches('0');
    let body = if trimmed.is_empty() { "0" } else { trimmed };
    if digits.is_empty() {
        return None;
    }
    Some(if neg && body != "0" {
        format!("-{body}")
    } else {
        body.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_serials_keep_whole_bytes() {
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[0x01]), "01");
        assert_eq!(serial_hex(&[0x00, 0xff]), "FF");
        assert_eq!(serial_hex(&[0x01, 0x00]), "0100");
        assert_eq!(serial_hex(&[0x7f, 0xab, 0x0c]), "7FAB0C");
        assert_eq!(serial_hex(&[]), "00");
    }

    #[test]
    fn negative_serials_print_the_magnitude() {
        assert_eq!(serial_hex(&[0xff]), "-01");
        assert_eq!(serial_hex(&[0x80]), "-80");
        assert_eq!(serial_hex(&[0xff, 0x01]), "-FF");
        assert_eq!(serial_hex(&[0xfe, 0xff]), "-0101");
    }

    #[test]
    fn huge_serials_wrap_like_openssl() {
        let s = serial_hex(&[0x11; 36]);
        assert_eq!(s.len(), 72 + 2);
        assert_eq!(&s[70..72], "\\\n");
    }

    #[test]
    fn normalizes_foreign_forms() {
        assert_eq!(normalize_serial("0100").as_deref(), Some("100"));
        assert_eq!(normalize_serial("0x01:00").as_deref(), Some("100"));
        assert_eq!(normalize_serial("ab").as_deref(), Some("AB"));
        assert_eq!(normalize_serial("00").as_deref(), Some("0"));
        assert_eq!(normalize_serial("-01").as_deref(), Some("-1"));
        assert_eq!(normalize_serial("xyz"), None);
        assert_eq!(normalize_serial(""), None);
    }
}
