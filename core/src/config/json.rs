//! Reading the Envoy plugin's JSON configuration into [`Settings`], with the same parsers as Apache.

use serde_json::Value;

use super::assign::Parsed;
use super::error::{ConfigError, ConfigErrorKind};
use super::settings::Settings;
use super::spec::{by_directive, by_json, closest, OptionSpec, Scope, ValueKind};
use super::table::OPTIONS;

/// The name errors use for the JSON document as a whole.
const WHOLE_DOCUMENT: &str = "configuration";

/// A JSON value read only to find an object that names one key twice (serde_json keeps the last
/// copy silently: `{"groups": {"banned": [..], "banned": []}}` would empty a group). Nesting
/// depth stays bounded by serde_json's own recursion limit.
struct NoDuplicateKeys;

impl<'de> serde::Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicateKeys)
    }
}

impl<'de> serde::de::Visitor<'de> for NoDuplicateKeys {
    type Value = NoDuplicateKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
        Ok(self)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                let shown: String = key.chars().take(64).collect();
                return Err(serde::de::Error::custom(format_args!(
                    "key {shown:?} appears twice in one object"
                )));
            }
            map.next_value::<NoDuplicateKeys>()?;
        }
        Ok(self)
    }
}

/// Parses configuration JSON text, refusing an object that names a key twice; the error is
/// serde_json's (line and column, never the document's content).
pub(crate) fn parse_json(text: &str) -> Result<Value, String> {
    serde_json::from_str::<NoDuplicateKeys>(text).map_err(|e| e.to_string())?;
    serde_json::from_str(text).map_err(|e| e.to_string())
}

impl Settings {
    /// Parses the plugin configuration text (a JSON object) at the top level.
    pub fn from_json_str(text: &str) -> Result<Settings, ConfigError> {
        let value: Value = parse_json(text).map_err(|e| {
            // serde_json's message names line and column, never the document's content.
            ConfigError::new(
                ConfigErrorKind::Syntax,
                WHOLE_DOCUMENT,
                "",
                format!("not valid JSON: {e}"),
                false,
            )
        })?;
        Settings::from_json(&value)
    }

    /// Reads a top-level JSON object: every key must be one of ours, with a value of the right type.
    pub fn from_json(value: &Value) -> Result<Settings, ConfigError> {
        read_object(value, Scope::Server)
    }

    /// Reads one entry of `locations`: like [`Settings::from_json`] but server-wide keys are refused.
    ///
    /// Keys the filter itself gives meaning to inside a location (such as
    /// its `path` or `require`) must be removed by the caller first.
    pub fn from_json_location(value: &Value) -> Result<Settings, ConfigError> {
        read_object(value, Scope::Directory)
    }
}

/// Reads the object's keys into fresh settings; `scope` is where the object sits.
fn read_object(value: &Value, scope: Scope) -> Result<Settings, ConfigError> {
    let Value::Object(map) = value else {
        return Err(ConfigError::new(
            ConfigErrorKind::WrongType,
            WHOLE_DOCUMENT,
            &render(value),
            "expected a JSON object of options",
            false,
        ));
    };
    let mut settings = Settings::new();
    for (key, v) in map {
        let spec = by_json(key).ok_or_else(|| unknown_key(key))?;
        if spec.scope == Scope::Server && scope == Scope::Directory {
            return Err(ConfigError::new(
                ConfigErrorKind::WrongScope,
                key,
                "",
                "only allowed at the top level of the configuration",
                false,
            ));
        }
        read_value(&mut settings, spec, key, v)?;
    }
    Ok(settings)
}

/// The error for a key we do not know, with a hint when one is near.
fn unknown_key(key: &str) -> ConfigError {
    let hint = match by_directive(key) {
        Some(OptionSpec {
            json: Some(json), ..
        }) => format!("JSON keys are snake_case: use \"{json}\""),
        Some(_) => "an Apache-only directive; the Envoy filter takes the data inline".to_string(),
        None => match closest(key, OPTIONS.iter().filter_map(|o| o.json)) {
            Some(near) => format!("did you mean \"{near}\"?"),
            None => "not an authrs option".to_string(),
        },
    };
    ConfigError::new(ConfigErrorKind::UnknownKey, key, "", hint, false)
}

/// Type-checks one JSON value for `spec`, turns it into the text the shared parsers take, and stores it.
fn read_value(
    settings: &mut Settings,
    spec: &OptionSpec,
    key: &str,
    v: &Value,
) -> Result<(), ConfigError> {
    let wrong = || {
        ConfigError::new(
            ConfigErrorKind::WrongType,
            key,
            &render(v),
            spec.kind.json_expectation(),
            spec.secret,
        )
    };
    let args: Vec<String> = match (spec.kind, v) {
        (ValueKind::Json, _) => return settings.put(spec, key, Parsed::Json(v.clone())),
        (ValueKind::Bool, Value::Bool(b)) => vec![if *b { "on" } else { "off" }.to_string()],
        (ValueKind::Duration | ValueKind::DurationOrOff, Value::Number(n)) => {
            vec![n.to_string()]
        }
        (ValueKind::Integer { .. }, Value::Number(n)) => vec![n.to_string()],
        (ValueKind::Fraction, Value::Number(n)) => {
            // Display of an f64 never uses exponent notation, which the text parser refuses.
            vec![n.as_f64().map_or_else(|| n.to_string(), |f| f.to_string())]
        }
        (ValueKind::Text, Value::Array(lines)) => {
            vec![strings(lines).ok_or_else(wrong)?.join("\n")]
        }
        (kind, Value::Array(items)) if kind.is_list() => strings(items).ok_or_else(wrong)?,
        (ValueKind::Bool | ValueKind::Integer { .. } | ValueKind::Fraction, _) => {
            return Err(wrong())
        }
        (_, Value::String(s)) => vec![s.clone()],
        _ => return Err(wrong()),
    };
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    settings.store(spec, key, &refs)
}

/// The array's items when all are strings.
fn strings(items: &[Value]) -> Option<Vec<String>> {
    items
        .iter()
        .map(|i| i.as_str().map(str::to_string))
        .collect()
}

/// A compact rendering of a JSON value for errors (the error caps its length).
fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(_) => "[…]".to_string(),
        Value::Object(_) => "{…}".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::super::error::REDACTED;
    use super::super::kinds::{Method, UnauthAction};
    use super::*;

    #[test]
    fn common_and_envoy_keys() {
        let s = Settings::from_json(&json!({
            "methods": ["ticket"],
            "cookie_name": "Sess",
            "cookie_secure": false,
            "cookie_same_site": "strict",
            "ticket_lifetime": 3600,
            "session_timeout": "30m",
            "refresh_fraction": 0.25,
            "enrolled_certs_max": 3,
            "trusted_proxies": ["10.0.0.0/8", "::1"],
            "unauth_action": "redirect",
            "login_url": "/login",
            "ticket_keys": ["a2V5MQ==", "a2V5Mg=="],
            "users": ["alice:$2y$05$x", "bob:$2y$05$y"],
            "crls": "-----BEGIN X509 CRL-----",
            "groups": {"staff": ["alice"]},
            "locations": [{"path": "/admin"}],
            "login_path": "/authrs/login"
        }))
        .unwrap();
        assert_eq!(s.methods(), vec![Method::Ticket]);
        assert_eq!(s.cookie_name(None), "Sess");
        assert!(!s.cookie_secure());
        assert_eq!(s.ticket_lifetime(), 3600);
        assert_eq!(s.session_timeout(), Some(1800));
        assert_eq!(s.refresh_fraction(), 0.25);
        assert_eq!(s.enrolled_certs_max(), 3);
        assert_eq!(s.trusted_proxies().len(), 2);
        assert_eq!(s.unauth_action(), UnauthAction::Redirect);
        assert_eq!(s.ticket_keys()[0].expose(), "a2V5MQ==");
        assert_eq!(
            s.users().map(|u| u.expose()),
            Some("alice:$2y$05$x\nbob:$2y$05$y")
        );
        assert_eq!(s.extra()["groups"], json!({"staff": ["alice"]}));
        assert!(s.extra().contains_key("locations"));
        assert!(
            !format!("{s:?}").contains("a2V5MQ"),
            "keys never Debug-print"
        );
        assert!(
            !format!("{s:?}").contains("$2y$"),
            "hashes never Debug-print"
        );
    }

    #[test]
    fn unknown_keys_get_a_hint() {
        let e = Settings::from_json_str(r#"{"cookie_nam": "x"}"#).unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::UnknownKey);
        assert_eq!(
            e.to_string(),
            "unknown key \"cookie_nam\": did you mean \"cookie_name\"?"
        );
        let e = Settings::from_json_str(r#"{"AuthRsCookieName": "x"}"#).unwrap_err();
        assert!(e.to_string().contains("use \"cookie_name\""), "{e}");
        let e = Settings::from_json_str(r#"{"AuthRsCRLFile": "/x"}"#).unwrap_err();
        assert!(e.to_string().contains("Apache-only"), "{e}");
        let e = Settings::from_json_str(r#"{"zzzzzz": 1}"#).unwrap_err();
        assert!(e.to_string().contains("not an authrs option"), "{e}");
        let e = Settings::from_json_str(r#"{"crl_file": "/x"}"#).unwrap_err();
        assert_eq!(
            e.kind,
            ConfigErrorKind::UnknownKey,
            "file directives have no JSON key"
        );
    }

    #[test]
    fn wrong_types_name_key_and_expected_type() {
        for (doc, key, expect) in [
            (
                json!({"cookie_secure": "On"}),
                "cookie_secure",
                "JSON boolean",
            ),
            (json!({"cookie_secure": 1}), "cookie_secure", "JSON boolean"),
            (
                json!({"ticket_lifetime": true}),
                "ticket_lifetime",
                "number of seconds",
            ),
            (json!({"cookie_name": 5}), "cookie_name", "JSON string"),
            (json!({"methods": [1]}), "methods", "array of strings"),
            (json!({"methods": {"a": 1}}), "methods", "array of strings"),
            (
                json!({"enrolled_certs_max": "5"}),
                "enrolled_certs_max",
                "whole JSON number",
            ),
            (
                json!({"refresh_fraction": null}),
                "refresh_fraction",
                "number from 0 to 1",
            ),
            (json!({"crls": 7}), "crls", "JSON string"),
        ] {
            let e = Settings::from_json(&doc).unwrap_err();
            assert_eq!(e.kind, ConfigErrorKind::WrongType, "{doc}");
            assert_eq!(e.option, key);
            assert!(e.to_string().contains(expect), "{e}");
        }
        let e = Settings::from_json(&json!(["not", "an", "object"])).unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::WrongType);
        let e = Settings::from_json_str("{\"cookie_name\": ").unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::Syntax);
    }

    #[test]
    fn bad_values_use_the_shared_parsers() {
        for (doc, needle) in [
            (json!({"ticket_lifetime": -5}), "negative"),
            (json!({"ticket_lifetime": 1.5}), "duration"),
            (json!({"ticket_lifetime": 1e300}), "duration"),
            (
                json!({"ticket_lifetime": "99999999999999999999h"}),
                "too large",
            ),
            (json!({"enrolled_certs_max": 2.5}), "whole number"),
            (json!({"enrolled_certs_max": 0}), "from 1 to 1000"),
            (json!({"refresh_fraction": 1.5}), "from 0 to 1"),
            (
                json!({"cookie_same_site": "Laxx"}),
                "must be one of: Strict, Lax, None",
            ),
            (json!({"trusted_proxies": "10.0.0.0/33"}), "CIDR"),
            (json!({"methods": []}), "one or more"),
        ] {
            let e = Settings::from_json(&doc).unwrap_err();
            assert!(e.to_string().contains(needle), "{doc}: {e}");
        }
        // serde_json renders 1e-7 with an exponent; the fraction must still be read.
        let s = Settings::from_json(&json!({"refresh_fraction": 1e-7})).unwrap();
        assert_eq!(s.refresh_fraction(), 1e-7);
    }

    #[test]
    fn secrets_are_redacted_in_errors() {
        let e = Settings::from_json(&json!({"ticket_keys": ["", "c2VjcmV0"], "x": 1})).unwrap_err();
        assert!(!e.to_string().contains("c2VjcmV0"), "{e}");
        let e = Settings::from_json(&json!({"ticket_keys": [true, "c2VjcmV0"]})).unwrap_err();
        assert!(!e.to_string().contains("c2VjcmV0"), "{e}");
        let e = Settings::from_json(&json!({"users": {"alice": "$2y$05$secret"}})).unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(e.to_string().contains(REDACTED), "{e}");
        let e = Settings::from_json(&json!({"users": "alice:\u{0}x"})).unwrap_err();
        assert!(!e.to_string().contains("alice"), "{e}");
    }

    #[test]
    fn a_key_given_twice_is_refused_at_any_depth() {
        for doc in [
            r#"{"cookie_secure": true, "cookie_secure": false}"#,
            r#"{"groups": {"staff": ["alice"], "staff": []}}"#,
            r#"{"locations": [{"path": "/a"}, {"path": "/b", "path": "/c"}]}"#,
        ] {
            let e = Settings::from_json_str(doc).unwrap_err();
            assert_eq!(e.kind, ConfigErrorKind::Syntax, "{doc}");
            assert!(e.to_string().contains("appears twice"), "{doc}: {e}");
        }
        // Equal keys in different objects, and every JSON type, are fine.
        let s = Settings::from_json_str(
            r#"{"locations": [{"path": "/a", "n": 1, "f": 1.5, "neg": -2, "t": true, "z": null},
                              {"path": "/b"}],
                "groups": {"a": ["x"], "b": ["x"]}}"#,
        )
        .unwrap();
        assert!(s.extra().contains_key("locations") && s.extra().contains_key("groups"));
        // The repeated key is named, capped, and the document's values are not echoed.
        let long = "k".repeat(200);
        let doc = format!(r#"{{"groups": {{"{long}": ["secret1"], "{long}": ["secret2"]}}}}"#);
        let e = Settings::from_json_str(&doc).unwrap_err().to_string();
        assert!(
            e.contains(&"k".repeat(64)) && !e.contains(&"k".repeat(65)),
            "{e}"
        );
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn wrong_type_errors_echo_the_value_compactly() {
        for (doc, shown) in [
            (json!({"cookie_name": 5}), "5"),
            (json!({"cookie_name": true}), "true"),
            (json!({"cookie_name": null}), "null"),
            (json!({"cookie_secure": "yes"}), "yes"),
            (json!({"cookie_name": ["a"]}), "[…]"),
            (json!({"cookie_name": {"a": 1}}), "{…}"),
        ] {
            let e = Settings::from_json(&doc).unwrap_err();
            assert_eq!(e.kind, ConfigErrorKind::WrongType, "{doc}");
            assert_eq!(e.value, shown, "{doc}");
        }
        let e = Settings::from_json(&json!("text")).unwrap_err();
        assert_eq!(
            (e.option.as_str(), e.value.as_str()),
            ("configuration", "text")
        );
    }

    #[test]
    fn json_numbers_and_arrays_reach_the_shared_parsers() {
        let s = Settings::from_json(&json!({
            "refresh_fraction": 1,
            "session_timeout": 0,
            "openid_nonce_start": 0,
            "allowed_destinations": ["a.example.org", "b.example.org"],
            "trusted_proxies": "10.0.0.0/8 192.0.2.1",
            "roles": ["admin: alice", "staff: bob"],
            "cookie_http_only": false,
            "bind_address": true,
        }))
        .unwrap();
        assert_eq!(s.refresh_fraction(), 1.0);
        assert_eq!(s.session_timeout(), None);
        assert!(s.is_set(super::super::spec::OptionId::SessionTimeout));
        assert_eq!(s.openid_nonce_options().start, Some(0));
        assert_eq!(s.allowed_destinations(), ["a.example.org", "b.example.org"]);
        assert_eq!(s.trusted_proxies().len(), 2);
        assert_eq!(s.roles(), Some("admin: alice\nstaff: bob"));
        assert!(!s.cookie_http_only() && s.bind_address());
        for (doc, kind) in [
            (json!({"roles": ["a", 1]}), ConfigErrorKind::WrongType),
            (
                json!({"allowed_destinations": [true]}),
                ConfigErrorKind::WrongType,
            ),
            (
                json!({"session_timeout": false}),
                ConfigErrorKind::WrongType,
            ),
            (json!({"session_timeout": "-1"}), ConfigErrorKind::BadValue),
            (
                json!({"refresh_fraction": "0.5"}),
                ConfigErrorKind::WrongType,
            ),
            (json!({"bind_address": "on"}), ConfigErrorKind::WrongType),
        ] {
            assert_eq!(Settings::from_json(&doc).unwrap_err().kind, kind, "{doc}");
        }
    }

    #[test]
    fn locations_refuse_server_keys() {
        let e = Settings::from_json_location(&json!({"ticket_keys": ["k"]})).unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::WrongScope);
        assert_eq!(e.option, "ticket_keys");
        assert!(!e.to_string().contains("\"k\""));
        assert!(Settings::from_json_location(&json!({"locations": []})).is_err());
        let s = Settings::from_json_location(&json!({"cookie_path": "/app"})).unwrap();
        assert_eq!(s.cookie_path(), "/app");
    }
}
