#![no_main]
// Any header value parses or gives a typed error; the PEM decoder gets the same input.
libfuzzer_sys::fuzz_target!(|data: &str| {
    let _ = authrs_core::xfcc::parse(data);
    let _ = authrs_core::proxy::decode_proxy_pem(data);
});
