#![no_main]
use authrs_core::openid::{html, kv, xrds, Message, Version};

// The parsers that read what a provider or a browser sends: indirect messages, key-value
// form (direct responses), XRDS documents and HTML heads. None may panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(pairs) = kv::parse(data) {
        let text = kv::serialize(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(text.ok().map(String::into_bytes).as_deref(), Some(data));
    }
    let _ = Message::parse(&String::from_utf8_lossy(data), Version::V1);
    let _ = xrds::parse(data);
    let _ = html::scan(data);
});
