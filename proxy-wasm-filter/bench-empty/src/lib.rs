//! The "empty filter" baseline of `make bench` (scripts/bench-envoy.py): a proxy-wasm HTTP
//! filter whose contexts do nothing, so the Envoy benchmark can tell the cost of the wasm
//! plumbing (VM entry per callback, context creation) from the cost of authrs' own logic.
//!
//! Build: `cargo build -p authrs-bench-empty-filter --target wasm32-wasip1 --profile wasm`.
#![forbid(unsafe_code)]

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(EmptyRoot) });
}}

/// The root context: accepts any configuration and hands out [`EmptyHttp`] per request.
struct EmptyRoot;

impl Context for EmptyRoot {}

impl RootContext for EmptyRoot {
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(EmptyHttp))
    }
}

/// A per-request context that lets every request through untouched (the default callbacks
/// all return `Continue` without a host call).
struct EmptyHttp;

impl Context for EmptyHttp {}

impl HttpContext for EmptyHttp {}
