//! The wasm baselines of `make bench` (scripts/bench-envoy.py), so the Envoy benchmark can tell
//! the cost of the wasm plumbing from the cost of authrs' own logic:
//! - configuration empty: the "empty filter", whose contexts do nothing (VM entry per callback,
//!   context creation);
//! - configuration `calls`: the "host calls filter", which makes exactly the host calls the
//!   authrs filter makes for a valid ticket under `"methods": ["ticket"]` — the request headers
//!   in, the time, the three identity headers out — and nothing else, so authrs minus it is
//!   the work done inside the VM.
//!
//! Build: `cargo build -p authrs-bench-empty-filter --target wasm32-wasip1 --profile wasm`.
#![forbid(unsafe_code)]

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(BaselineRoot { calls: false }) });
}}

/// The root context: reads which baseline it is, and hands out its per-request context.
struct BaselineRoot {
    calls: bool,
}

impl Context for BaselineRoot {}

impl RootContext for BaselineRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        self.calls = match self.get_plugin_configuration().as_deref() {
            None | Some(b"") => false,
            Some(b"calls") => true,
            Some(_) => return false, // anything else is a mistake in the benchmark: refuse it
        };
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        if self.calls {
            Some(Box::new(HostCallsHttp))
        } else {
            Some(Box::new(EmptyHttp))
        }
    }
}

/// A per-request context that lets every request through untouched (the default callbacks
/// all return `Continue` without a host call).
struct EmptyHttp;

impl Context for EmptyHttp {}

impl HttpContext for EmptyHttp {}

/// A per-request context making the authrs filter's host calls for a valid ticket (ticket
/// method only), with the benchmark ticket's values (user, its login method, roles), and no logic.
struct HostCallsHttp;

impl Context for HostCallsHttp {}

impl HttpContext for HostCallsHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let headers = self.get_http_request_headers_bytes();
        let now = self.get_current_time();
        // Used, so that neither call can be optimized away.
        if headers.is_empty() && now == std::time::UNIX_EPOCH {
            return Action::Pause;
        }
        self.add_http_request_header("x-authrs-user", "bench@example.org");
        self.add_http_request_header("x-authrs-method", "password");
        self.add_http_request_header("x-authrs-roles", "admin:projectX,reader");
        Action::Continue
    }
}
