//! Indirect messages: the `openid.*` parameters of a query string or a POST body.
//!
//! Like Net::OpenID::IndirectMessage: no `openid.mode` means "not OpenID";
//! `openid.ns` picks 2.0, its absence (or a 1.x namespace) means 1.1; an
//! unknown namespace is not OpenID either. Unlike it, a repeated `openid.*`
//! key is refused: which copy was signed and which one the application reads
//! must never differ.

use super::error::{ErrorCode, OpenIdError};
use std::fmt;

/// The OpenID 2.0 namespace URI (`openid.ns`).
pub const NS_2_0: &str = "http://specs.openid.net/auth/2.0";
/// The OpenID 1.1 namespace URI, accepted as "1.x" (2.0 §4.1.2).
pub const NS_1_1: &str = "http://openid.net/signon/1.1";
/// The OpenID 1.0 namespace URI, accepted as "1.x".
pub const NS_1_0: &str = "http://openid.net/signon/1.0";
/// The most `openid.*` fields one message may carry.
pub const MAX_FIELDS: usize = 512;

/// Protocol version of a message or an endpoint: 1 (1.0/1.1) or 2 (2.0).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Version {
    /// OpenID 1.0 / 1.1.
    V1,
    /// OpenID 2.0.
    V2,
}

impl Version {
    /// 1 or 2, as the seed's `protocol_version` returns it.
    pub fn number(self) -> u8 {
        match self {
            Version::V1 => 1,
            Version::V2 => 2,
        }
    }

    /// `minimum_version` as the seed reads it: anything but 2 (or more) means 1.
    pub fn from_minimum(n: i64) -> Version {
        if n >= 2 {
            Version::V2
        } else {
            Version::V1
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V1 => "1.1",
            Version::V2 => "2.0",
        })
    }
}

/// One OpenID message: its version and its `openid.*` fields (keys without the prefix).
#[derive(Debug, Clone)]
pub struct Message {
    version: Version,
    /// Every key (without `openid.`) followed by its value, back to back: one allocation.
    text: String,
    /// `(key start, key end = value start, value end)` in `text`; sorted by key, keys unique.
    fields: Vec<(usize, usize, usize)>,
}

/// Same version and same fields (however the text was laid out).
impl PartialEq for Message {
    fn eq(&self, other: &Message) -> bool {
        self.version == other.version
            && self.fields.len() == other.fields.len()
            && self.fields().eq(other.fields())
    }
}

impl Eq for Message {}

impl Message {
    /// Reads a query string (no leading `?`) or an `application/x-www-form-urlencoded` body.
    ///
    /// `Ok(None)`: not an OpenID message (no mode, unknown namespace, or 1.x below `minimum`).
    pub fn parse(form: &str, minimum: Version) -> Result<Option<Message>, OpenIdError> {
        // Decoding never lengthens: the form's length bounds the decoded text.
        Message::build(super::form::pairs(form), minimum, form.len())
    }

    /// Builds a message from already-decoded parameters; non-`openid.` ones are ignored.
    pub fn from_pairs<I, K, V>(pairs: I, minimum: Version) -> Result<Option<Message>, OpenIdError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Message::build(pairs, minimum, 0)
    }

    /// [`Message::from_pairs`] with room for `capacity` bytes of keys and values reserved.
    pub(crate) fn build<I, K, V>(
        pairs: I,
        minimum: Version,
        capacity: usize,
    ) -> Result<Option<Message>, OpenIdError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut text = String::with_capacity(capacity);
        let mut fields: Vec<(usize, usize, usize)> = Vec::with_capacity(16);
        for (key, value) in pairs {
            let Some(key) = key.as_ref().strip_prefix("openid.") else {
                continue;
            };
            if fields.len() >= MAX_FIELDS {
                return Err(OpenIdError::with(
                    ErrorCode::BadMessage,
                    format!("more than {MAX_FIELDS} openid.* parameters"),
                ));
            }
            let start = text.len();
            text.push_str(key);
            let middle = text.len();
            text.push_str(value.as_ref());
            fields.push((start, middle, text.len()));
        }
        // By key; most keys differ in their first byte, compared before the whole key.
        let bytes = text.as_bytes();
        let key = |f: &(usize, usize, usize)| bytes.get(f.0..f.1).unwrap_or_default();
        fields.sort_unstable_by(|a, b| {
            let (ka, kb) = (key(a), key(b));
            match (ka.first(), kb.first()) {
                (Some(x), Some(y)) if x != y => x.cmp(y),
                _ => ka.cmp(kb),
            }
        });
        if let Some(w) = fields.windows(2).find(|w| key(&w[0]) == key(&w[1])) {
            return Err(OpenIdError::with(
                ErrorCode::BadMessage,
                format!(
                    "parameter openid.{} appears more than once",
                    &text[w[0].0..w[0].1]
                ),
            ));
        }
        let mut msg = Message {
            version: Version::V1,
            text,
            fields,
        };
        if msg.get_nonempty("mode").is_none() {
            return Ok(None);
        }
        msg.version = match msg.get("ns") {
            Some(NS_2_0) => Version::V2,
            None | Some(NS_1_1) | Some(NS_1_0) => Version::V1,
            Some(_) => return Ok(None),
        };
        if msg.version < minimum {
            return Ok(None);
        }
        Ok(Some(msg))
    }

    /// A 1.x message without fields (what an empty [`super::verify::SignedFields`] holds).
    pub(crate) fn empty() -> Message {
        Message {
            version: Version::V1,
            text: String::new(),
            fields: Vec::new(),
        }
    }

    /// The protocol version the message speaks.
    pub fn version(&self) -> Version {
        self.version
    }

    /// `openid.mode` (never empty).
    pub fn mode(&self) -> &str {
        self.get("mode").unwrap_or_default()
    }

    fn key(&self, f: &(usize, usize, usize)) -> &str {
        self.text.get(f.0..f.1).unwrap_or_default()
    }

    fn value(&self, f: &(usize, usize, usize)) -> &str {
        self.text.get(f.1..f.2).unwrap_or_default()
    }

    /// The value of `openid.<key>`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.span(key)
            .map(|(start, end)| self.text.get(start..end).unwrap_or_default())
    }

    /// Where the value of `openid.<key>` lies in [`Message::text`].
    pub(crate) fn span(&self, key: &str) -> Option<(usize, usize)> {
        // A usual message has about a dozen fields: a scan comparing lengths first beats a
        // binary search of string comparisons; large (hostile) ones keep the O(log n) search.
        let text = self.text.as_bytes();
        let found = if self.fields.len() <= 24 {
            self.fields
                .iter()
                .find(|f| f.1 - f.0 == key.len() && text.get(f.0..f.1) == Some(key.as_bytes()))
        } else {
            self.fields
                .binary_search_by(|f| self.key(f).cmp(key))
                .ok()
                .and_then(|i| self.fields.get(i))
        };
        found.map(|f| (f.1, f.2))
    }

    /// The text at `span` (from [`Message::span`]).
    pub(crate) fn at(&self, span: (usize, usize)) -> &str {
        self.text.get(span.0..span.1).unwrap_or_default()
    }

    /// The value of `openid.<key>` if present and not empty, as a span.
    pub(crate) fn span_nonempty(&self, key: &str) -> Option<(usize, usize)> {
        self.span(key).filter(|(start, end)| end > start)
    }

    /// Keys and values back to back; [`Message::span`] gives a value's place in it.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The value of `openid.<key>` if present and not empty (the seed treats "" as absent).
    pub fn get_nonempty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// Every field, keys without the `openid.` prefix, sorted by key.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|f| (self.key(f), self.value(f)))
    }

    /// Takes the fields out (keys without `openid.`, sorted by key).
    pub fn into_fields(self) -> Vec<(String, String)> {
        self.fields()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The 2.0 extension alias declared for `namespace_uri` (`openid.ns.<alias>`); 1.x knows only `sreg`.
    pub fn extension_alias(&self, namespace_uri: &str) -> Option<&str> {
        if self.version == Version::V1 {
            return (namespace_uri == SREG_1_1).then_some("sreg");
        }
        self.fields()
            .filter_map(|(k, v)| Some((k.strip_prefix("ns.")?, v)))
            .find(|(_, v)| *v == namespace_uri)
            .map(|(alias, _)| alias)
    }
}

/// The Simple Registration 1.1 namespace, the one extension 1.x messages carry (as `openid.sreg.*`).
pub const SREG_1_1: &str = "http://openid.net/extensions/sreg/1.1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_by_namespace() {
        let m = Message::parse(
            "openid.mode=id_res&openid.ns=http%3A%2F%2Fspecs.openid.net%2Fauth%2F2.0",
            Version::V1,
        )
        .unwrap()
        .unwrap();
        assert_eq!(m.version(), Version::V2);
        assert_eq!(m.mode(), "id_res");
        let m = Message::parse("openid.mode=id_res&x=1", Version::V1)
            .unwrap()
            .unwrap();
        assert_eq!(m.version(), Version::V1);
        let m = Message::parse(
            "openid.mode=id_res&openid.ns=http://openid.net/signon/1.1",
            Version::V1,
        )
        .unwrap()
        .unwrap();
        assert_eq!(m.version(), Version::V1);
    }

    #[test]
    fn not_openid() {
        assert_eq!(Message::parse("a=b", Version::V1), Ok(None));
        assert_eq!(Message::parse("openid.mode=", Version::V1), Ok(None));
        assert_eq!(
            Message::parse("openid.mode=id_res&openid.ns=urn:x", Version::V1),
            Ok(None)
        );
        // minimum_version 2: a 1.x message is not recognized at all (the seed's behaviour).
        assert_eq!(Message::parse("openid.mode=id_res", Version::V2), Ok(None));
    }

    #[test]
    fn repeated_key_is_refused() {
        let e = Message::parse(
            "openid.mode=id_res&openid.identity=a&openid.identity=b",
            Version::V1,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::BadMessage);
    }

    #[test]
    fn plus_and_percent_decoding() {
        let m = Message::parse("openid.mode=id_res&openid.sig=a+b%2Bc%3D", Version::V1)
            .unwrap()
            .unwrap();
        assert_eq!(m.get("sig"), Some("a b+c="));
    }

    #[test]
    fn extension_aliases() {
        let q = format!(
            "openid.mode=id_res&openid.ns={}&openid.ns.ax=http://openid.net/srv/ax/1.0",
            NS_2_0
        );
        let m = Message::parse(&q, Version::V1).unwrap().unwrap();
        assert_eq!(
            m.extension_alias("http://openid.net/srv/ax/1.0"),
            Some("ax")
        );
        assert_eq!(m.extension_alias(SREG_1_1), None);
        let m = Message::parse("openid.mode=id_res", Version::V1)
            .unwrap()
            .unwrap();
        assert_eq!(m.extension_alias(SREG_1_1), Some("sreg"));
    }

    #[test]
    fn lookup_is_the_same_for_small_and_large_messages() {
        // Up to 24 fields are scanned, more are binary-searched: both must find every key,
        // never a key that is only a prefix or an extension of another, and never a duplicate.
        for n in [3usize, 24, 25, 200] {
            let mut q = String::from("openid.mode=id_res&openid.ns.x=a%2Bb&");
            for i in 0..n {
                q += &format!("openid.f{i}=v{i}&");
            }
            let m = Message::parse(&q, Version::V1).unwrap().unwrap();
            for i in 0..n {
                assert_eq!(
                    m.get(&format!("f{i}")),
                    Some(format!("v{i}").as_str()),
                    "{n}"
                );
            }
            assert_eq!(m.get("ns.x"), Some("a+b"));
            assert_eq!(m.get("f"), None);
            assert_eq!(m.get("ns"), None);
            assert_eq!(m.get("mod"), None);
            assert_eq!(m.get(&format!("f{n}")), None);
            assert_eq!(m.mode(), "id_res");
            let dup = format!("{q}openid.f0=other");
            assert_eq!(
                Message::parse(&dup, Version::V1).unwrap_err().code,
                ErrorCode::BadMessage
            );
        }
    }

    #[test]
    fn equal_messages_whatever_the_order() {
        let a = Message::parse(
            "openid.mode=id_res&openid.identity=x&openid.ns.a=b",
            Version::V1,
        )
        .unwrap()
        .unwrap();
        let b = Message::from_pairs(
            [
                ("openid.ns.a", "b"),
                ("other", "y"),
                ("openid.identity", "x"),
                ("openid.mode", "id_res"),
            ],
            Version::V1,
        )
        .unwrap()
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a.fields().collect::<Vec<_>>(),
            [("identity", "x"), ("mode", "id_res"), ("ns.a", "b")]
        );
        assert_eq!(
            a.clone().into_fields(),
            [
                ("identity".to_string(), "x".to_string()),
                ("mode".into(), "id_res".into()),
                ("ns.a".into(), "b".into())
            ]
        );
        let c = Message::parse(
            "openid.mode=id_res&openid.identity=y&openid.ns.a=b",
            Version::V1,
        )
        .unwrap()
        .unwrap();
        assert_ne!(a, c);
        // Keys and values are kept apart: "ab"+"c" is not "a"+"bc".
        let d = Message::parse("openid.mode=x&openid.ab=c", Version::V1)
            .unwrap()
            .unwrap();
        assert_eq!(d.get("ab"), Some("c"));
        assert_eq!(d.get("a"), None);
    }

    #[test]
    fn too_many_fields() {
        let q: String = (0..=MAX_FIELDS)
            .map(|i| format!("openid.f{i}=x&"))
            .collect();
        assert_eq!(
            Message::parse(&q, Version::V1).unwrap_err().code,
            ErrorCode::BadMessage
        );
    }

    #[test]
    fn version_numbers_and_names() {
        assert_eq!((Version::V1.number(), Version::V2.number()), (1, 2));
        assert_eq!(Version::V1.to_string(), "1.1");
        assert_eq!(Version::V2.to_string(), "2.0");
        // Anything but 2 or more is 1, as the seed reads minimum_version.
        for (n, v) in [(-1, Version::V1), (0, Version::V1), (1, Version::V1)] {
            assert_eq!(Version::from_minimum(n), v, "{n}");
        }
        for n in [2, 3, i64::MAX] {
            assert_eq!(Version::from_minimum(n), Version::V2, "{n}");
        }
    }

    #[test]
    fn empty_values_are_present_but_not_nonempty() {
        // An empty openid.identity or claimed_id is present (get) yet absent for the checks
        // that use span_nonempty: it must never stand for an identity.
        let m = Message::parse(
            "openid.mode=id_res&openid.identity=&openid.claimed_id=x",
            Version::V1,
        )
        .unwrap()
        .unwrap();
        assert_eq!(m.get("identity"), Some(""));
        assert_eq!(m.get_nonempty("identity"), None);
        assert_eq!(m.span_nonempty("identity"), None);
        assert_eq!(m.span_nonempty("missing"), None);
        let span = m.span_nonempty("claimed_id").unwrap();
        assert_eq!(m.at(span), "x");
        assert_eq!(m.span("identity").map(|s| m.at(s)), Some(""));
    }

    #[test]
    fn namespace_decides_the_version_exactly() {
        // 1.0 is 1.x too; a namespace that only resembles 2.0 is not OpenID at all.
        let v = |ns: &str, min| {
            Message::from_pairs([("openid.mode", "id_res"), ("openid.ns", ns)], min)
                .unwrap()
                .map(|m| m.version())
        };
        assert_eq!(v(NS_1_0, Version::V1), Some(Version::V1));
        assert_eq!(v(NS_1_1, Version::V1), Some(Version::V1));
        assert_eq!(v(NS_2_0, Version::V2), Some(Version::V2));
        assert_eq!(v(NS_1_1, Version::V2), None);
        assert_eq!(v("http://specs.openid.net/auth/2.0/", Version::V1), None);
        assert_eq!(v("HTTP://specs.openid.net/auth/2.0", Version::V1), None);
        assert_eq!(v("", Version::V1), None);
        // Only the openid. prefix counts: openid_ns or ns are ordinary parameters.
        let m = Message::from_pairs(
            [
                ("openid.mode", "id_res"),
                ("ns", NS_2_0),
                ("openid_ns", NS_2_0),
            ],
            Version::V1,
        )
        .unwrap()
        .unwrap();
        assert_eq!(m.version(), Version::V1);
        assert_eq!(m.fields().count(), 1);
    }

    #[test]
    fn repeated_keys_are_refused_wherever_they_are() {
        // Duplicates that do not sort next to each other in the input, in small and large messages,
        // and ones that differ only after their first byte from a neighbour.
        for filler in [0usize, 30] {
            let mut pairs: Vec<(String, String)> = vec![
                ("openid.identity".into(), "https://a/".into()),
                ("openid.mode".into(), "id_res".into()),
                ("openid.idx".into(), "1".into()),
            ];
            pairs.extend((0..filler).map(|i| (format!("openid.i{i}"), "v".into())));
            pairs.push(("openid.identity".into(), "https://evil/".into()));
            let e = Message::from_pairs(pairs.clone(), Version::V1).unwrap_err();
            assert_eq!(e.code, ErrorCode::BadMessage);
            assert!(e.to_string().contains("openid.identity"), "{e}");
            pairs.pop();
            let m = Message::from_pairs(pairs, Version::V1).unwrap().unwrap();
            assert_eq!(m.get("identity"), Some("https://a/"));
            let keys: Vec<&str> = m.fields().map(|(k, _)| k).collect();
            let mut sorted = keys.clone();
            sorted.sort_unstable();
            assert_eq!(keys, sorted);
        }
        // A repeated non-openid parameter is none of our business.
        assert!(Message::parse("openid.mode=x&a=1&a=2", Version::V1)
            .unwrap()
            .is_some());
    }

    #[test]
    fn field_limit_is_inclusive() {
        let q: String = (0..MAX_FIELDS - 1)
            .map(|i| format!("openid.f{i}=x&"))
            .chain(["openid.mode=id_res".to_string()])
            .collect();
        let m = Message::parse(&q, Version::V1).unwrap().unwrap();
        assert_eq!(m.fields().count(), MAX_FIELDS);
        assert_eq!(
            m.text().len(),
            m.fields().map(|(k, v)| k.len() + v.len()).sum::<usize>()
        );
    }
}
