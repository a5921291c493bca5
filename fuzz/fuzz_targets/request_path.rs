#![no_main]
// What the Envoy filter matches locations against: a normalized path is normal (no empty,
// `.` or `..` segment, no `;` parameter, no character a backend reinterprets) and normalizing
// it again changes nothing — so the path judged is the path a normalizing proxy passes on.
use authrs_core::site::normalize_path;

libfuzzer_sys::fuzz_target!(|raw: &str| {
    let Ok(n) = normalize_path(raw) else { return };
    assert!(n.starts_with('/'), "{raw:?} -> {n:?}");
    assert!(!n.contains('?') && !n.contains(';') && !n.contains('#'), "{raw:?} -> {n:?}");
    assert!(!n.bytes().any(|b| b < 0x20 || b == 0x7f || b == b'\\'), "{raw:?} -> {n:?}");
    for segment in n[1..].split('/').rev().skip(1) {
        // Only the last segment may be empty (a trailing slash).
        assert!(!segment.is_empty(), "{raw:?} -> {n:?}");
    }
    for segment in n.split('/') {
        assert!(segment != "." && segment != "..", "{raw:?} -> {n:?}");
    }
    assert_eq!(normalize_path(&n).as_deref(), Ok(n.as_str()), "not idempotent for {raw:?}");
});
