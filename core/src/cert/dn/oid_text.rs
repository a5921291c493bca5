//! An attribute type's printed name, found without allocating in the common case.
//!
//! The name is looked up by the dotted OID text (the key of `oid_names.rs`). `asn1-rs`'s
//! `Oid::to_id_string` builds that text through a `Vec<String>` and a join, which cost more
//! than the rest of a DN's rendering; [`dotted`] writes the same text into a stack buffer
//! for every ordinary encoding and leaves the odd ones to `to_id_string`, so the text
//! looked up — and the output — is the same either way. The handful of types nearly every
//! DN is made of skip even that: [`common`] names them straight from their DER octets
//! (a test checks each against the table).

use super::oid_names;
use std::borrow::Cow;
use x509_parser::asn1_rs::Oid;

/// Room for the dotted text of an OID; longer ones go through `to_id_string`.
const BUF_LEN: usize = 128;

/// OBJ_obj2txt writes into an 80-byte buffer: OpenSSL cuts longer OIDs at 79 bytes.
const OBJ_TXT_MAX: usize = 79;

/// The name OpenSSL prints for an attribute type, and whether OpenSSL knows the OID.
pub(super) fn type_name(oid: &Oid<'_>) -> (Cow<'static, str>, bool) {
    if let Some(sn) = is_absolute(oid).then(|| common(oid.as_bytes())).flatten() {
        return (Cow::Borrowed(sn), true);
    }
    with_id_string(oid, |text| match oid_names::short_name(text) {
        Some(sn) => (Cow::Borrowed(sn), true),
        None => {
            // Dotted text is ASCII; to_id_string's hex fallback is too. Cut on a char
            // boundary all the same.
            let mut end = text.len().min(OBJ_TXT_MAX);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            (Cow::Owned(text[..end].to_string()), false)
        }
    })
}

/// Calls `f` with `oid.to_id_string()`, built on the stack unless the encoding is odd.
pub(crate) fn with_id_string<R>(oid: &Oid<'_>, f: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; BUF_LEN];
    match dotted(oid, &mut buf) {
        Some(text) => f(text),
        None => f(&oid.to_id_string()),
    }
}

/// Oid's equality includes its private "relative" flag: equal to an absolute Oid of the
/// same octets means absolute.
fn is_absolute(oid: &Oid<'_>) -> bool {
    *oid == Oid::new(Cow::Borrowed(oid.as_bytes()))
}

/// OpenSSL's short name for the attribute types of nearly every DN, by the content
/// octets of an absolute OID; `None` for the rest, which go through the table.
fn common(der: &[u8]) -> Option<&'static str> {
    /// 1.2.840.113549.1.9.1
    const EMAIL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];
    /// 0.9.2342.19200300.100.1.25
    const DC: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19];
    /// 0.9.2342.19200300.100.1.1
    const UID: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01];
    match der {
        // 2.5.4.n, the X.520 attribute types.
        [0x55, 0x04, n] => Some(match n {
            3 => "CN",
            4 => "SN",
            5 => "serialNumber",
            6 => "C",
            7 => "L",
            8 => "ST",
            9 => "street",
            10 => "O",
            11 => "OU",
            12 => "title",
            13 => "description",
            17 => "postalCode",
            41 => "name",
            42 => "GN",
            43 => "initials",
            44 => "generationQualifier",
            46 => "dnQualifier",
            65 => "pseudonym",
            97 => "organizationIdentifier",
            _ => return None,
        }),
        EMAIL => Some("emailAddress"),
        DC => Some("DC"),
        UID => Some("UID"),
        _ => None,
    }
}

/// `oid.to_id_string()` written into `buf`, for an absolute OID whose first octet is a
/// single-octet subidentifier, whose other arcs fit in 63 bits and whose last octet ends
/// an arc; `None` otherwise (relative, empty, one octet, or malformed — `to_id_string`
/// has its own rules there) or when `buf` is too small.
fn dotted<'b>(oid: &Oid<'_>, buf: &'b mut [u8; BUF_LEN]) -> Option<&'b str> {
    let bytes = oid.as_bytes();
    if bytes.len() < 2 || !is_absolute(oid) {
        return None;
    }
    let (&first, rest) = bytes.split_first()?;
    if first >= 0x80 || rest.last().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let mut w = Writer { buf, len: 0 };
    // asn1-rs splits the first octet as /40 and %40, whatever its value.
    w.number(u64::from(first / 40))?;
    w.byte(b'.')?;
    w.number(u64::from(first % 40))?;
    let mut arc: u64 = 0;
    let mut septets = 0u32;
    for &b in rest {
        septets += 1;
        // Nine septets are 63 bits: more could overflow u64, where asn1-rs changes form.
        if septets > 9 {
            return None;
        }
        arc = (arc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            w.byte(b'.')?;
            w.number(arc)?;
            arc = 0;
            septets = 0;
        }
    }
    let Writer { buf, len } = w;
    std::str::from_utf8(&buf[..len]).ok()
}

/// Appends ASCII to a fixed buffer; `None` once it is full.
struct Writer<'b> {
    buf: &'b mut [u8; BUF_LEN],
    len: usize,
}

impl Writer<'_> {
    /// Appends one byte.
    fn byte(&mut self, b: u8) -> Option<()> {
        *self.buf.get_mut(self.len)? = b;
        self.len += 1;
        Some(())
    }

    /// Appends `n` in decimal.
    fn number(&mut self, mut n: u64) -> Option<()> {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            // n % 10 < 10, so the cast keeps the value.
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &d in &digits[i..] {
            self.byte(d)?;
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

    use super::*;

    /// The fast text must equal `to_id_string` wherever it answers.
    fn same_as_asn1_rs(bytes: &[u8]) -> bool {
        let oid = Oid::new(Cow::Borrowed(bytes));
        let mut buf = [0u8; BUF_LEN];
        match dotted(&oid, &mut buf) {
            Some(t) => {
                assert_eq!(t, oid.to_id_string(), "octets {bytes:02x?}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn dotted_matches_asn1_rs() {
        assert!(same_as_asn1_rs(&[0x55, 0x04, 0x03])); // 2.5.4.3
        assert!(same_as_asn1_rs(&[
            0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01
        ])); // 1.2.840.113549.1.9.1
        assert!(same_as_asn1_rs(&[
            0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19
        ])); // 0.9.2342.19200300.100.1.25
        assert!(same_as_asn1_rs(&[0x7f, 0x00])); // first octet 127: asn1-rs says 3.7
        assert!(same_as_asn1_rs(&[0x2a, 0x80, 0x00])); // non-minimal arc, still 0
                                                       // Nine septets (63 bits) of all ones: the largest arc taken here.
        let mut big = vec![0x2a];
        big.extend([0xff; 8]);
        big.push(0x7f);
        assert!(same_as_asn1_rs(&big));
    }

    #[test]
    fn odd_encodings_are_left_to_asn1_rs() {
        let rel = Oid::new_relative(Cow::Borrowed(&[0x55, 0x04, 0x03]));
        let mut buf = [0u8; BUF_LEN];
        assert_eq!(dotted(&rel, &mut buf), None, "relative");
        for bytes in [
            &[][..],
            &[0x55],             // one octet: asn1-rs special-cases [0]
            &[0x88, 0x37, 0x03], // multi-octet first subidentifier
            &[0x55, 0x04, 0x83], // last arc unterminated
            &[
                0x2a, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
            ], // 64+ bits
        ] {
            assert!(!same_as_asn1_rs(bytes), "octets {bytes:02x?}");
        }
        // Text longer than the buffer.
        let mut long = vec![0x2a];
        long.extend([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f].repeat(8));
        assert!(!same_as_asn1_rs(&long));
    }

    #[test]
    fn common_names_agree_with_the_table() {
        let mut candidates: Vec<Vec<u8>> = (0..=0xffu8).map(|n| vec![0x55, 0x04, n]).collect();
        candidates.push(vec![0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]);
        for last in 0..=0xffu8 {
            candidates.push(vec![
                0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, last,
            ]);
        }
        let mut answered = 0;
        for c in &candidates {
            if let Some(sn) = common(c) {
                let dotted = Oid::new(Cow::Borrowed(c)).to_id_string();
                assert_eq!(oid_names::short_name(&dotted), Some(sn), "{dotted}");
                answered += 1;
            }
        }
        assert_eq!(answered, 22);
        assert_eq!(
            common(&[0x55, 0x04, 0x03, 0x01]),
            None,
            "2.5.4.3.1 is not CN"
        );
        assert_eq!(common(&[0x55, 0x04]), None);
    }

    #[test]
    fn names_known_and_unknown() {
        let name = |b: &[u8]| type_name(&Oid::new(Cow::Borrowed(b)));
        assert_eq!(name(&[0x55, 0x04, 0x03]), (Cow::Borrowed("CN"), true));
        assert_eq!(
            name(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]),
            (Cow::Borrowed("emailAddress"), true)
        );
        assert_eq!(name(&[0x2a, 0x03, 0x04]), (Cow::Borrowed("1.2.3.4"), false));
        // Relative OIDs take asn1-rs's path: no split of the first octet.
        let rel = Oid::new_relative(Cow::Borrowed(&[0x55, 0x04, 0x03]));
        assert_eq!(type_name(&rel), (Cow::Borrowed("85.4.3"), false));
        // Over-long unknown OIDs are cut at 79 bytes, through either path.
        let mut long = vec![0x2a];
        long.extend([0x81, 0x00].repeat(60));
        let (n, known) = name(&long);
        assert!(!known);
        assert_eq!(n.len(), 79);
        assert!(n.starts_with("1.2.128.128."));
    }
}
