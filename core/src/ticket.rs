//! The cookie ticket: HMAC-SHA256-signed user, method, times, address and roles; key rings.
