//! Safe-ish helpers over APR pools, tables and httpd logging.

use crate::ffi;
use std::ffi::{c_char, c_int, CStr, CString};

/// httpd log levels (APLOG_*), as the shim expects them.
#[derive(Debug, Clone, Copy)]
pub enum LogLevel {
    /// APLOG_ERR
    Error,
    /// APLOG_WARNING
    Warn,
    /// APLOG_INFO
    Info,
    /// APLOG_DEBUG
    Debug,
}

impl LogLevel {
    fn raw(self) -> c_int {
        (match self {
            LogLevel::Error => ffi::APLOG_ERR,
            LogLevel::Warn => ffi::APLOG_WARNING,
            LogLevel::Info => ffi::APLOG_INFO,
            LogLevel::Debug => ffi::APLOG_DEBUG,
        }) as c_int
    }
}

/// A C string for `s`, with any NUL replaced so it can never truncate or fail.
pub fn cstring(s: &str) -> CString {
    // After replacing NULs, CString::new cannot fail.
    CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}

/// Logs `msg` for request `r` (format is always "%s" in the shim).
///
/// # Safety
/// `r` must be a live request_rec.
pub unsafe fn log_r(r: *const ffi::request_rec, level: LogLevel, msg: &str) {
    let m = cstring(msg);
    // SAFETY: r is live per the contract; m outlives the call.
    unsafe { ffi::authrs_log_r(r, level.raw(), m.as_ptr()) }
}

/// The flood-prone warnings this process logged (see [`log_r_quiet`]).
static QUIETED: std::sync::Mutex<authrs_core::quiet::Quieter> =
    std::sync::Mutex::new(authrs_core::quiet::Quieter::new());

/// [`log_r`] for a message that may be one any client can cause with one request: an id of
/// [`FLOOD_PRONE`](authrs_core::quiet::FLOOD_PRONE) is logged once a second per client, for at
/// most [`CLIENTS_PER_SECOND`](authrs_core::quiet::CLIENTS_PER_SECOND) clients a second per
/// process, a later line saying how many were left out; anything else is logged as is.
///
/// # Safety
/// As for [`log_r`].
pub unsafe fn log_r_quiet(r: *const ffi::request_rec, level: LogLevel, msg: &str) {
    if authrs_core::quiet::flood_prone(msg).is_none() {
        // SAFETY: forwarded contract.
        return unsafe { log_r(r, level, msg) };
    }
    let now = crate::request::now();
    // The client as httpd knows it (mod_remoteip's, when it is configured).
    // SAFETY: r is live per the contract; useragent_ip is NULL or a pool string.
    let client =
        unsafe { r.as_ref().and_then(|r| str_from(r.useragent_ip)) }.and_then(|ip| ip.parse().ok());
    let admitted = QUIETED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .admit(msg, client, now)
        .map(std::borrow::Cow::into_owned);
    if let Some(line) = admitted {
        // SAFETY: forwarded contract.
        unsafe { log_r(r, level, &line) };
    }
}

/// Logs `msg` for server `s`.
///
/// # Safety
/// `s` must be a live server_rec.
pub unsafe fn log_s(s: *const ffi::server_rec, level: LogLevel, msg: &str) {
    let m = cstring(msg);
    // SAFETY: s is live per the contract; m outlives the call.
    unsafe { ffi::authrs_log_s(s, level.raw(), m.as_ptr()) }
}

/// Copies `s` into pool `p` (httpd keeps pointers we hand it: never give it a Rust CString).
///
/// # Safety
/// `p` must be a live pool.
pub unsafe fn pstrdup(p: *mut ffi::apr_pool_t, s: &str) -> *mut c_char {
    let bytes = s.as_bytes();
    // SAFETY: apr_pstrmemdup copies len bytes and NUL-terminates; p is live.
    unsafe { ffi::apr_pstrmemdup(p, bytes.as_ptr().cast(), bytes.len()) }
}

/// Borrows a C string as UTF-8 (lossy), `None` for NULL.
///
/// # Safety
/// `p` must be NULL or a NUL-terminated string that outlives the returned value.
pub unsafe fn str_from<'a>(p: *const c_char) -> Option<std::borrow::Cow<'a, str>> {
    if p.is_null() {
        None
    } else {
        // SAFETY: non-null and NUL-terminated per the contract.
        Some(cstr_text(unsafe { CStr::from_ptr(p) }))
    }
}

/// A C string as UTF-8, borrowed when it is valid (the common case: `to_str` checks ASCII a word
/// at a time, where `to_string_lossy` walks it byte by byte), else converted lossily.
pub fn cstr_text(c: &CStr) -> std::borrow::Cow<'_, str> {
    match c.to_str() {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => c.to_string_lossy(),
    }
}

/// Sets `key: value` in an APR table, copying both into pool `p`.
///
/// # Safety
/// `t` and `p` must be live, and `t` must belong to a pool that `p` outlives or equals.
pub unsafe fn table_set(p: *mut ffi::apr_pool_t, t: *mut ffi::apr_table_t, key: &str, value: &str) {
    // SAFETY: both strings are pool copies, so apr_table_setn may keep the pointers.
    unsafe { ffi::apr_table_setn(t, pstrdup(p, key), pstrdup(p, value)) }
}

/// Sets `key: value` with a static key (no copy of the key, as `apr_table_setn` allows).
///
/// # Safety
/// As for [`table_set`].
pub unsafe fn table_set_static(
    p: *mut ffi::apr_pool_t,
    t: *mut ffi::apr_table_t,
    key: &'static CStr,
    value: &str,
) {
    // SAFETY: key is 'static; value is a pool copy.
    unsafe { ffi::apr_table_setn(t, key.as_ptr(), pstrdup(p, value)) }
}

/// The value of a static key in an APR table, borrowed (`None` when absent).
///
/// # Safety
/// `t` must be NULL or a live table; the value lives as long as the table's pool.
pub unsafe fn table_get_static<'a>(
    t: *const ffi::apr_table_t,
    key: &CStr,
) -> Option<std::borrow::Cow<'a, str>> {
    if t.is_null() {
        return None;
    }
    // SAFETY: t is live; apr_table_get returns NULL or a NUL-terminated value in t's pool.
    unsafe { str_from(ffi::apr_table_get(t, key.as_ptr())) }
}

/// Removes a static key from an APR table (no allocation).
///
/// # Safety
/// `t` must be live.
pub unsafe fn table_unset_static(t: *mut ffi::apr_table_t, key: &CStr) {
    // SAFETY: apr_table_unset does not keep the key.
    unsafe { ffi::apr_table_unset(t, key.as_ptr()) }
}

/// Calls `f(key, value)` for each entry of an APR table, without copying anything.
///
/// # Safety
/// `t` must be NULL or a live table that outlives the call, and the strings its entries point
/// to must stay alive and unchanged for `'t` (pool strings of a request: its lifetime).
pub unsafe fn table_for_each<'t>(
    t: *const ffi::apr_table_t,
    mut f: impl FnMut(&'t CStr, &'t CStr),
) {
    if t.is_null() {
        return;
    }
    // SAFETY: an apr_table_t starts with its apr_array_header_t (apr_table_elts is that cast);
    // its elts are nelts apr_table_entry_t with NUL-terminated key and val (val may be NULL).
    unsafe {
        let arr = &*(t as *const ffi::apr_array_header_t);
        let elts = arr.elts as *const ffi::apr_table_entry_t;
        for i in 0..usize::try_from(arr.nelts).unwrap_or(0) {
            let e = &*elts.add(i);
            if !e.key.is_null() && !e.val.is_null() {
                f(CStr::from_ptr(e.key), CStr::from_ptr(e.val));
            }
        }
    }
}

/// Adds `key: value` to an APR table (keeps earlier values), copying into pool `p`.
///
/// # Safety
/// As for [`table_set`].
pub unsafe fn table_add(p: *mut ffi::apr_pool_t, t: *mut ffi::apr_table_t, key: &str, value: &str) {
    // SAFETY: pool copies, see table_set.
    unsafe { ffi::apr_table_addn(t, pstrdup(p, key), pstrdup(p, value)) }
}

/// Removes `key` from an APR table.
///
/// # Safety
/// `t` must be live.
pub unsafe fn table_unset(t: *mut ffi::apr_table_t, key: &str) {
    let k = cstring(key);
    // SAFETY: apr_table_unset does not keep the key.
    unsafe { ffi::apr_table_unset(t, k.as_ptr()) }
}
