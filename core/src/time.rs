//! Time as the shells pass it in: whole seconds since the Unix epoch.

/// Seconds since 1970-01-01T00:00:00Z; the core never reads a clock itself.
pub type UnixTime = i64;

/// Formats `t` as RFC 3339 in UTC (`2026-11-23T04:51:08Z`), or the bare number if out of range.
pub fn rfc3339(t: UnixTime) -> String {
    match ::time::OffsetDateTime::from_unix_timestamp(t) {
        Ok(dt) => dt
            .format(&::time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| t.to_string()),
        Err(_) => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_409_468), "2026-11-23T04:51:08Z");
    }
}
