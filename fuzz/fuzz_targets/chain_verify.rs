#![no_main]
// A client-chosen leaf and chain against fixed trusted CAs: an error or a verified path, never
// a panic or an endless search. Input: 2-byte leaf length, the leaf's DER, then PEM intermediates.
use authrs_core::cert::chain::{chain_der, TrustAnchors};
use std::sync::OnceLock;

const CAS: [&[u8]; 2] = [
    include_bytes!("../../core/src/cert/chain/fixtures/rsa-root.pem"),
    include_bytes!("../../core/src/cert/chain/fixtures/ec-root.pem"),
];
const NOW: i64 = 1_893_456_000;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static ANCHORS: OnceLock<Option<TrustAnchors>> = OnceLock::new();
    let Some(anchors) = ANCHORS.get_or_init(|| TrustAnchors::parse(&CAS.concat()).ok()) else {
        return;
    };
    let _ = TrustAnchors::parse(data);
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let (leaf, chain) = rest.split_at(usize::from(u16::from_be_bytes(*len)).min(rest.len()));
    if let Ok(chain) = chain_der(&[chain.to_vec()]) {
        let _ = anchors.verify(leaf, &chain, NOW);
    }
});
