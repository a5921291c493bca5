//! XRDS documents (Yadis 1.0, XRI Resolution 2.0 §4): the services an identifier declares.
//!
//! Parsed with `roxmltree` (DTDs refused, node count bounded). The last
//! `XRD` of the document is the final one (XRI Resolution 2.0 §4.2.1);
//! services and their URIs are ordered by `priority`, lowest first, those
//! without one last, document order breaking ties.

use std::fmt;

/// XRDS container namespace.
pub const NS_XRDS: &str = "xri://$xrds";
/// XRD namespace (Service, Type, URI, LocalID).
pub const NS_XRD: &str = "xri://$xrd*($v*2.0)";
/// OpenID 1.x namespace for `<openid:Delegate>`.
pub const NS_OPENID_1: &str = "http://openid.net/xmlns/1.0";
/// Most XML nodes accepted in one document.
pub const MAX_NODES: u32 = 20_000;
/// Most `=` signs (so at most this many attributes) accepted in one document: the XML parser
/// checks each attribute of an element against the earlier ones, so one element with 100,000
/// attributes would cost seconds. Real XRDS documents have a few dozen.
pub const MAX_EQUALS: usize = 2_000;

/// One `<Service>` of the final XRD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XrdsService {
    /// The service's `priority`, if any.
    pub priority: Option<u64>,
    /// Its `<Type>` values.
    pub types: Vec<String>,
    /// Its `<URI>` values, by priority.
    pub uris: Vec<String>,
    /// `<LocalID>` (OpenID 2.0 OP-local identifier).
    pub local_id: Option<String>,
    /// `<openid:Delegate>` (OpenID 1.x delegate).
    pub delegate: Option<String>,
}

impl XrdsService {
    /// True when one of its types is `type_uri`.
    pub fn has_type(&self, type_uri: &str) -> bool {
        self.types.iter().any(|t| t == type_uri)
    }
}

/// Why an XRDS document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XrdsError {
    /// Not well-formed XML (or a DTD, or too many nodes).
    Xml(String),
    /// Well-formed, but not an XRDS document with an XRD.
    NotXrds,
}

impl fmt::Display for XrdsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XrdsError::Xml(e) => write!(f, "XRDS is not valid XML: {e}"),
            XrdsError::NotXrds => f.write_str("document is not XRDS (no xrds:XRDS/XRD)"),
        }
    }
}

impl std::error::Error for XrdsError {}

/// Parses an XRDS document into the services of its final XRD, by priority.
pub fn parse(document: &[u8]) -> Result<Vec<XrdsService>, XrdsError> {
    let text = std::str::from_utf8(document).map_err(|_| XrdsError::Xml("not UTF-8".into()))?;
    if document.iter().filter(|&&b| b == b'=').count() > MAX_EQUALS {
        return Err(XrdsError::Xml(format!("more than {MAX_EQUALS} attributes")));
    }
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, options)
        .map_err(|e| XrdsError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if !root.has_tag_name((NS_XRDS, "XRDS")) {
        return Err(XrdsError::NotXrds);
    }
    let xrd = root
        .children()
        .rfind(|n| n.has_tag_name((NS_XRD, "XRD")))
        .ok_or(XrdsError::NotXrds)?;
    let mut services: Vec<XrdsService> = xrd
        .children()
        .filter(|n| n.has_tag_name((NS_XRD, "Service")))
        .map(|s| {
            let texts = |ns: &str, name: &str| -> Vec<(Option<u64>, String)> {
                s.children()
                    .filter(|n| n.has_tag_name((ns, name)))
                    .filter_map(|n| {
                        let t = n.text()?.trim();
                        (!t.is_empty()).then(|| (priority(n), t.to_string()))
                    })
                    .collect()
            };
            let mut uris = texts(NS_XRD, "URI");
            uris.sort_by_key(|(p, _)| sort_key(*p));
            XrdsService {
                priority: priority(s),
                types: texts(NS_XRD, "Type").into_iter().map(|(_, t)| t).collect(),
                uris: uris.into_iter().map(|(_, u)| u).collect(),
                local_id: texts(NS_XRD, "LocalID").into_iter().next().map(|(_, t)| t),
                delegate: texts(NS_OPENID_1, "Delegate")
                    .into_iter()
                    .next()
                    .map(|(_, t)| t),
            }
        })
        .collect();
    services.sort_by_key(|s| sort_key(s.priority));
    Ok(services)
}

/// A node's `priority` attribute, when it is a non-negative integer.
fn priority(node: roxmltree::Node) -> Option<u64> {
    node.attribute("priority")?.trim().parse().ok()
}

/// Sort key: numbered priorities first, ascending; none last (stable sort keeps document order).
fn sort_key(p: Option<u64>) -> (bool, u64) {
    (p.is_none(), p.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<xrds:XRDS xmlns:xrds="xri://$xrds" xmlns="xri://$xrd*($v*2.0)" xmlns:openid="http://openid.net/xmlns/1.0">
  <XRD><Service><Type>http://ignored/first-xrd</Type></Service></XRD>
  <XRD>
    <Service>
      <Type>http://openid.net/signon/1.1</Type>
      <URI>http://op.example/v1</URI>
      <openid:Delegate>http://op.example/u/alice</openid:Delegate>
    </Service>
    <Service priority="10">
      <Type>http://specs.openid.net/auth/2.0/signon</Type>
      <URI priority="2">https://op.example/backup</URI>
      <URI priority="1">https://op.example/auth</URI>
      <LocalID>https://op.example/u/alice</LocalID>
    </Service>
    <Service priority="0"><Type>http://example.com/other</Type><URI>http://x/</URI></Service>
  </XRD>
</xrds:XRDS>"#;

    #[test]
    fn services_by_priority_from_the_last_xrd() {
        let s = parse(DOC.as_bytes()).unwrap();
        assert_eq!(s.len(), 3);
        assert!(s[0].has_type("http://example.com/other"));
        assert_eq!(s[1].priority, Some(10));
        assert_eq!(
            s[1].uris,
            ["https://op.example/auth", "https://op.example/backup"]
        );
        assert_eq!(s[1].local_id.as_deref(), Some("https://op.example/u/alice"));
        assert_eq!(s[2].priority, None);
        assert_eq!(s[2].delegate.as_deref(), Some("http://op.example/u/alice"));
    }

    #[test]
    fn hostile_documents_are_refused() {
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>
            <xrds:XRDS xmlns:xrds="xri://$xrds">&b;</xrds:XRDS>"#;
        assert!(matches!(parse(laughs.as_bytes()), Err(XrdsError::Xml(_))));
        assert!(matches!(
            parse(b"<html><head/></html>"),
            Err(XrdsError::NotXrds)
        ));
        assert!(matches!(
            parse(br#"<xrds:XRDS xmlns:xrds="xri://$xrds"></xrds:XRDS>"#),
            Err(XrdsError::NotXrds)
        ));
        assert!(matches!(parse(b"\xff"), Err(XrdsError::Xml(_))));
        assert!(matches!(parse(b"<unclosed"), Err(XrdsError::Xml(_))));
        // Wrong namespace: an XRD that is not in xri://$xrd*($v*2.0) is not one.
        let wrong = r#"<xrds:XRDS xmlns:xrds="xri://$xrds"><XRD><Service/></XRD></xrds:XRDS>"#;
        assert!(matches!(parse(wrong.as_bytes()), Err(XrdsError::NotXrds)));
        let many: String = format!(
            r#"<xrds:XRDS xmlns:xrds="xri://$xrds">{}</xrds:XRDS>"#,
            "<a/>".repeat(MAX_NODES as usize + 1)
        );
        assert!(matches!(parse(many.as_bytes()), Err(XrdsError::Xml(_))));
        // One element with 100,000 attributes: refused before the quadratic attribute check.
        let attrs: String = (0..100_000).map(|i| format!(" a{i}=\"\"")).collect();
        let wide = format!(r#"<xrds:XRDS xmlns:xrds="xri://$xrds"{attrs}/>"#);
        assert_eq!(
            parse(wide.as_bytes()),
            Err(XrdsError::Xml(format!("more than {MAX_EQUALS} attributes")))
        );
    }

    fn xrds(services: &str) -> String {
        format!(
            r#"<xrds:XRDS xmlns:xrds="xri://$xrds" xmlns="xri://$xrd*($v*2.0)"><XRD>{services}</XRD></xrds:XRDS>"#
        )
    }

    #[test]
    fn priorities_lowest_first_missing_or_bad_last() {
        // Numbered priorities ascending (0 is the highest), then the unnumbered and the
        // unparsable in document order; the same for URIs within a service.
        let doc = xrds(
            r#"<Service><Type>a</Type></Service>
            <Service priority="7"><Type>b</Type></Service>
            <Service priority="-1"><Type>c</Type></Service>
            <Service priority=" 3 "><Type>d</Type></Service>
            <Service priority="high"><Type>e</Type></Service>
            <Service priority="0"><Type>f</Type>
              <URI>http://u/none</URI><URI priority="1">http://u/1</URI>
              <URI priority="0">http://u/0</URI><URI priority="x">http://u/x</URI>
              <URI priority="1">http://u/1b</URI><URI>  </URI></Service>
            <Service priority="18446744073709551616"><Type>g</Type></Service>"#,
        );
        let s = parse(doc.as_bytes()).unwrap();
        let types: Vec<&str> = s.iter().map(|s| s.types[0].as_str()).collect();
        assert_eq!(types, ["f", "d", "b", "a", "c", "e", "g"]);
        let prios: Vec<Option<u64>> = s.iter().map(|s| s.priority).collect();
        assert_eq!(prios, [Some(0), Some(3), Some(7), None, None, None, None]);
        assert_eq!(
            s[0].uris,
            [
                "http://u/0",
                "http://u/1",
                "http://u/1b",
                "http://u/none",
                "http://u/x"
            ]
        );
        assert!(s[0].has_type("f"));
        assert!(!s[0].has_type("F"));
        assert!(!s[0].has_type("a"));
    }

    #[test]
    fn only_xrd_namespaced_elements_count() {
        // A LocalID or Delegate in the wrong namespace, or an empty one, is not one; the first
        // non-empty one wins.
        let doc = r#"<xrds:XRDS xmlns:xrds="xri://$xrds" xmlns="xri://$xrd*($v*2.0)"
            xmlns:o="http://openid.net/xmlns/1.0" xmlns:x="urn:x"><XRD><Service>
            <x:Type>http://specs.openid.net/auth/2.0/signon</x:Type><Type>t</Type>
            <x:URI>http://evil/</x:URI><URI>http://good/</URI>
            <x:LocalID>http://evil/id</x:LocalID><LocalID> </LocalID>
            <LocalID>http://good/id</LocalID><LocalID>http://second/</LocalID>
            <x:Delegate>http://evil/d</x:Delegate><o:Delegate>http://good/d</o:Delegate>
            </Service></XRD></xrds:XRDS>"#;
        let s = parse(doc.as_bytes()).unwrap();
        assert_eq!(
            s,
            [XrdsService {
                priority: None,
                types: vec!["t".into()],
                uris: vec!["http://good/".into()],
                local_id: Some("http://good/id".into()),
                delegate: Some("http://good/d".into()),
            }]
        );
    }

    #[test]
    fn size_limits_are_exact() {
        // Exactly MAX_EQUALS '=' signs pass (a long document is fine), one more does not.
        let pad = |n: usize| format!("<!--{}-->", "=".repeat(n));
        let base = xrds("<Service><Type>t</Type></Service>");
        let have = base.bytes().filter(|&b| b == b'=').count();
        let ok = base.replacen("<XRD>", &format!("<XRD>{}", pad(MAX_EQUALS - have)), 1);
        assert_eq!(parse(ok.as_bytes()).unwrap().len(), 1);
        let long = base.replacen("<XRD>", &format!("<XRD>{}", " ".repeat(50_000)), 1);
        assert_eq!(parse(long.as_bytes()).unwrap().len(), 1);
        let over = base.replacen("<XRD>", &format!("<XRD>{}", pad(MAX_EQUALS + 1 - have)), 1);
        assert_eq!(
            parse(over.as_bytes()),
            Err(XrdsError::Xml(format!("more than {MAX_EQUALS} attributes")))
        );
        assert!(XrdsError::NotXrds.to_string().contains("not XRDS"));
        assert!(XrdsError::Xml("boom".into()).to_string().contains("boom"));
    }
}
