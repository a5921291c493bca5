//! Envoy's `x-forwarded-client-cert` header parser.
