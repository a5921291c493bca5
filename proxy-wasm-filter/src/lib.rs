//! authrs for Envoy: a proxy-wasm HTTP filter over `authrs-core`.
//!
//! The filter holds no rule of its own: it turns the Envoy stream into the core's
//! `RequestFacts` (headers, peer address, TLS properties, the XFCC element Envoy
//! itself wrote), calls the core (`decide`, `recognize`, `login`, `logout`) and
//! applies the `Decision` (headers upstream or a local reply). Configuration is the
//! plugin's JSON, read by `authrs_core::site::Site`.

pub mod buckets;
pub mod facts;
pub mod openid_buckets;
pub mod reply;

#[cfg(target_arch = "wasm32")]
mod filter;
#[cfg(target_arch = "wasm32")]
mod metrics;
// The stores' logic is host-tested; only the wasm build calls it (through Envoy's shared data).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod openid_store;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod store;

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // proxy_wasm::main! exports `_initialize` (#[no_mangle]); nothing else is unsafe.
mod entry {
    proxy_wasm::main! {{
        crate::filter::install();
    }}
}
