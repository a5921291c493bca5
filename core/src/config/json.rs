//! Reading the Envoy plugin's JSON configuration into [`Settings`], with the same parsers as Apache.

use serde_json::Value;

use super::assign::Parsed;
use super::error::{ConfigError, ConfigErrorKind};
use super::settings::Settings;
use super::spec::{by_directive, by_json, closest, OptionSpec, Scope, ValueKind};
use super::table::OPTIONS;

/// The name errors use for the JSON document as a whole.
const WHOLE_DOCUMENT: &str = "configuration";

impl Settings {
    /// Parses the plugin configuration text (a JSON object) at the top level.
    pub fn from_json_str(text: &str) -> Result<Settings, ConfigError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
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
        (ValueKind::Text, Value::Array(lines)) => vec![strings(lines).ok_or_else(wrong)?.join("\n")],
        (kind, Value::Array(items)) if kind.is_list() => strings(items).ok_or_else(wrong)?,
        (
            ValueKind::Bool | ValueKind::Integer { .. } | ValueKind::Fraction,
            _,
        ) => return Err(wrong()),
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
