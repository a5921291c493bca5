//! Apache's argument quoting: splitting a directive line into words, and quoting words back.

/// Splits one line into words the way httpd's `ap_getword_conf` does.
///
/// Words are separated by whitespace; a word starting with `"` or `'` runs to
/// the matching quote, inside which `\"` (or `\'`) and `\\` are unescaped; `\\`
/// is unescaped outside quotes too. An unclosed quote is an error (httpd
/// would silently take the rest of the line).
pub(crate) fn split_words(line: &str) -> Result<Vec<String>, ()> {
    let bytes = line.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            return Ok(words);
        }
        let quote = match bytes[i] {
            q @ (b'"' | b'\'') => Some(q),
            _ => None,
        };
        let mut word = Vec::new();
        if let Some(q) = quote {
            i += 1;
            loop {
                match bytes.get(i) {
                    None => return Err(()),
                    Some(&c) if c == q => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') if matches!(bytes.get(i + 1), Some(&n) if n == q || n == b'\\') => {
                        word.push(bytes[i + 1]);
                        i += 2;
                    }
                    Some(&c) => {
                        word.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'\\') {
                    i += 1;
                }
                word.push(bytes[i]);
                i += 1;
            }
        }
        // Splits happen only at ASCII bytes, so the word is still valid UTF-8.
        words.push(String::from_utf8_lossy(&word).into_owned());
    }
}

/// Quotes an argument for `ap_getword_conf` when it needs it; `\` and `"` are escaped inside quotes.
pub(crate) fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && !arg.starts_with(['"', '\''])
        && !arg.contains(|c: char| c.is_ascii_whitespace() || c == '\\');
    if plain {
        return arg.to_string();
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for c in arg.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        split_words(s).unwrap()
    }

    #[test]
    fn apache_quoting() {
        assert_eq!(words("  a  b\tc "), ["a", "b", "c"]);
        assert_eq!(words(r#""CN=a b,O=x" y"#), ["CN=a b,O=x", "y"]);
        assert_eq!(words(r#""say \"hi\"""#), [r#"say "hi""#]);
        assert_eq!(words(r"'it\'s' x\\y \n"), ["it's", r"x\y", r"\n"]);
        assert_eq!(words(r#""a"b"#), ["a", "b"]);
        assert_eq!(words(r#""""#), [""]);
        assert!(split_words(r#""open"#).is_err());
        assert!(split_words(r#"'a\'"#).is_err());
        assert_eq!(words("ü \"é\""), ["ü", "é"]);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("abc"), "abc");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("'x"), "\"'x\"");
        assert_eq!(quote("a\\b"), "\"a\\\\b\"");
        assert_eq!(quote("q\"q"), "q\"q");
        assert_eq!(quote("\"q"), "\"\\\"q\"");
    }
}
