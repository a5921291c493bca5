//! Query strings and form bodies on the verification path, decoded by the `url` crate's
//! `form_urlencoded` (the WHATWG urlencoded parser) — one place, so every caller agrees.

use std::borrow::Cow;

/// The `(name, value)` pairs of `input`, as `form_urlencoded::parse` yields them.
pub fn pairs(input: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    url::form_urlencoded::parse(input.as_bytes())
}
