//! Key-value form (OpenID 2.0 §4.1.1): the body of direct responses and the signed token.
//!
//! Each line is `key:value\n`. Parsing is strict: a provider that cannot
//! write this form is not trusted to have signed anything either.

use std::fmt;

/// The largest direct response body accepted, in bytes.
pub const MAX_KV_BYTES: usize = 64 * 1024;
/// The most lines a direct response may have (real ones have about a dozen); bounds the
/// duplicate-key check, which compares each key with the earlier ones.
pub const MAX_KV_LINES: usize = 256;

/// Why a key-value form body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KvError {
    /// The body is larger than [`MAX_KV_BYTES`].
    TooLarge(usize),
    /// The body is not UTF-8.
    NotUtf8,
    /// The last line does not end with a newline.
    MissingNewline,
    /// A line (1-based) has no `:`.
    NoColon(usize),
    /// A line (1-based) has an empty key.
    EmptyKey(usize),
    /// A line (1-based) has a carriage return, or whitespace around its key.
    BadLine(usize),
    /// The same key appears twice.
    DuplicateKey(String),
    /// More than [`MAX_KV_LINES`] lines.
    TooManyLines,
    /// Serializing: a key holds `:` or a newline, or a value holds a newline.
    Unencodable(String),
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvError::TooLarge(n) => write!(f, "key-value body of {n} bytes is too large"),
            KvError::NotUtf8 => f.write_str("key-value body is not UTF-8"),
            KvError::MissingNewline => f.write_str("key-value body does not end with a newline"),
            KvError::NoColon(l) => write!(f, "key-value line {l} has no ':'"),
            KvError::EmptyKey(l) => write!(f, "key-value line {l} has an empty key"),
            KvError::BadLine(l) => write!(f, "key-value line {l} has a CR or a padded key"),
            KvError::DuplicateKey(k) => write!(f, "key-value key {k:?} appears twice"),
            KvError::TooManyLines => write!(f, "key-value body has more than {MAX_KV_LINES} lines"),
            KvError::Unencodable(k) => write!(f, "cannot encode key {k:?} in key-value form"),
        }
    }
}

impl std::error::Error for KvError {}

/// Parses a key-value form body into its pairs, in order.
pub fn parse(body: &[u8]) -> Result<Vec<(String, String)>, KvError> {
    if body.len() > MAX_KV_BYTES {
        return Err(KvError::TooLarge(body.len()));
    }
    let text = std::str::from_utf8(body).map_err(|_| KvError::NotUtf8)?;
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let Some(text) = text.strip_suffix('\n') else {
        return Err(KvError::MissingNewline);
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let n = i + 1;
        if n > MAX_KV_LINES {
            return Err(KvError::TooManyLines);
        }
        let (key, value) = line.split_once(':').ok_or(KvError::NoColon(n))?;
        if key.is_empty() {
            return Err(KvError::EmptyKey(n));
        }
        if line.contains('\r') || key.trim() != key {
            return Err(KvError::BadLine(n));
        }
        if pairs.iter().any(|(k, _)| k == key) {
            return Err(KvError::DuplicateKey(key.to_string()));
        }
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok(pairs)
}

/// A pair key-value form can carry as is: a key without `:` or newline, a value without newline.
fn encodable(key: &str, value: &str) -> Result<(), KvError> {
    if key.is_empty() || key.bytes().any(|b| b == b':' || b == b'\n') || value.contains('\n') {
        return Err(KvError::Unencodable(key.to_string()));
    }
    Ok(())
}

/// Serializes pairs as key-value form; refuses keys or values that would change the meaning.
pub fn serialize<'a, I>(pairs: I) -> Result<String, KvError>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    // Sized for a usual signed token, so building it does not reallocate.
    let mut out = String::with_capacity(512);
    for (key, value) in pairs {
        encodable(key, value)?;
        out.push_str(key);
        out.push(':');
        out.push_str(value);
        out.push('\n');
    }
    Ok(out)
}

/// [`serialize`] into `buf`, allocating nothing: the length written, or `None` when it does
/// not fit (the same pairs are refused either way).
pub fn serialize_into<'a, I>(pairs: I, buf: &mut [u8]) -> Result<Option<usize>, KvError>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let (mut len, mut fits) = (0, true);
    for (key, value) in pairs {
        encodable(key, value)?;
        for part in [key.as_bytes(), b":", value.as_bytes(), b"\n"] {
            match buf.get_mut(len..len + part.len()).filter(|_| fits) {
                Some(dst) => {
                    dst.copy_from_slice(part);
                    len += part.len();
                }
                None => fits = false,
            }
        }
    }
    Ok(fits.then_some(len))
}

/// Looks a key up in parsed pairs.
pub fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let body = "ns:http://specs.openid.net/auth/2.0\nis_valid:true\nurl:http://a/b:c\n";
        let pairs = parse(body.as_bytes()).unwrap();
        assert_eq!(get(&pairs, "is_valid"), Some("true"));
        assert_eq!(get(&pairs, "url"), Some("http://a/b:c"));
        let back = serialize(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert_eq!(back, body);
        assert_eq!(parse(b"").unwrap(), vec![]);
        assert_eq!(
            parse(b"empty:\n").unwrap(),
            vec![("empty".into(), "".into())]
        );
    }

    #[test]
    fn strict_errors_are_named() {
        assert_eq!(parse(b"a:b"), Err(KvError::MissingNewline));
        assert_eq!(parse(b"a:b\nnocolon\n"), Err(KvError::NoColon(2)));
        assert_eq!(parse(b":b\n"), Err(KvError::EmptyKey(1)));
        assert_eq!(parse(b"a:b\r\n"), Err(KvError::BadLine(1)));
        assert_eq!(parse(b" a:b\n"), Err(KvError::BadLine(1)));
        assert_eq!(parse(b"a:b\n\n"), Err(KvError::NoColon(2)));
        assert_eq!(
            parse(b"is_valid:false\nis_valid:true\n"),
            Err(KvError::DuplicateKey("is_valid".into()))
        );
        assert_eq!(parse(b"a:\xff\n"), Err(KvError::NotUtf8));
        let big = vec![b'a'; MAX_KV_BYTES + 1];
        assert_eq!(parse(&big), Err(KvError::TooLarge(MAX_KV_BYTES + 1)));
        // 64 KiB of one-letter keys is ~13k lines: quadratic in the duplicate check.
        let lines = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|i| format!("k{i}:\n"))
                .collect::<String>()
                .into_bytes()
        };
        assert_eq!(parse(&lines(MAX_KV_LINES)).unwrap().len(), MAX_KV_LINES);
        assert_eq!(parse(&lines(MAX_KV_LINES + 1)), Err(KvError::TooManyLines));
        assert_eq!(parse(&lines(9_000)), Err(KvError::TooManyLines));
    }

    #[test]
    fn serialize_into_a_buffer_is_the_same() {
        let pairs = [("mode", "id_res"), ("identity", "https://a/b:c"), ("e", "")];
        let want = serialize(pairs).unwrap();
        let mut buf = [0u8; 64];
        let n = serialize_into(pairs, &mut buf).unwrap().unwrap();
        assert_eq!(&buf[..n], want.as_bytes());
        // Too small: not written, but still checked.
        let mut small = [0u8; 10];
        assert_eq!(serialize_into(pairs, &mut small), Ok(None));
        let mut exact = vec![0u8; want.len()];
        assert_eq!(serialize_into(pairs, &mut exact), Ok(Some(want.len())));
        assert!(serialize_into([("a", "b"), ("identity", "x\ny")], &mut small).is_err());
        assert!(serialize_into([("a:b", "c")], &mut buf).is_err());
    }

    #[test]
    fn serialize_refuses_injection() {
        // A value carrying a newline would smuggle a second field into the signed token.
        assert!(serialize([("identity", "x\nis_valid:true")]).is_err());
        assert!(serialize([("a:b", "c")]).is_err());
        assert!(serialize([("", "c")]).is_err());
        assert_eq!(serialize([("k", "v:w")]).unwrap(), "k:v:w\n");
    }

    #[test]
    fn size_limit_is_inclusive() {
        // MAX_KV_LINES lines of 256 bytes: exactly MAX_KV_BYTES, accepted; one byte more is not.
        let line = |i: usize| format!("k{i:03}:{}\n", "v".repeat(256 - 6));
        let body: String = (0..MAX_KV_LINES).map(line).collect();
        assert_eq!(body.len(), MAX_KV_BYTES);
        let pairs = parse(body.as_bytes()).unwrap();
        assert_eq!(pairs.len(), MAX_KV_LINES);
        assert_eq!(get(&pairs, "k255").map(str::len), Some(250));
        let more = format!("{body}x");
        assert_eq!(
            parse(more.as_bytes()),
            Err(KvError::TooLarge(MAX_KV_BYTES + 1))
        );
    }

    #[test]
    fn hostile_lines() {
        // A CR anywhere (value included), a padded key, a bare newline in the middle.
        assert_eq!(parse(b"a:b\nc:d\re\n"), Err(KvError::BadLine(2)));
        assert_eq!(parse(b"a :b\n"), Err(KvError::BadLine(1)));
        assert_eq!(parse(b"a\t:b\n"), Err(KvError::BadLine(1)));
        assert_eq!(parse(b"a:b\n\nc:d\n"), Err(KvError::NoColon(2)));
        assert_eq!(parse(b"\n"), Err(KvError::NoColon(1)));
        // Spaces in a value are kept; only the first ':' splits.
        assert_eq!(
            parse(b"a: b :c\n").unwrap(),
            vec![("a".into(), " b :c".into())]
        );
        // The duplicate is found whatever lies between the two copies.
        assert_eq!(
            parse(b"is_valid:false\nx:y\nis_valid:true\n"),
            Err(KvError::DuplicateKey("is_valid".into()))
        );
        assert_eq!(get(&parse(b"a:1\nb:2\n").unwrap(), "c"), None);
        assert!(serialize([("a\nb", "c")]).is_err());
    }

    #[test]
    fn errors_say_what_went_wrong() {
        for (e, want) in [
            (KvError::TooLarge(70_000), "70000 bytes"),
            (KvError::NotUtf8, "UTF-8"),
            (KvError::MissingNewline, "newline"),
            (KvError::NoColon(3), "line 3 has no ':'"),
            (KvError::EmptyKey(4), "line 4"),
            (KvError::BadLine(5), "line 5"),
            (KvError::DuplicateKey("k".into()), "\"k\""),
            (KvError::TooManyLines, "256"),
            (KvError::Unencodable("a:b".into()), "\"a:b\""),
        ] {
            assert!(e.to_string().contains(want), "{e}");
        }
    }
}
