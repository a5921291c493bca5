//! `authrs openid verify`: why was this OpenID login refused?
//!
//! Runs the core's verification of the URL a provider sent the browser back
//! to, performing discovery and check_authentication with a blocking HTTP
//! client (timeouts, size limits, no proxies, http(s) only, private
//! addresses refused unless `--allow-private-addresses`), and prints one
//! JSON line: `{"verdict", "code", "identity"}`. Exit 0 only for `verified`.

use crate::{CmdResult, Failure};
use authrs_core::openid::assoc::Association;
use authrs_core::openid::http::{is_private, HttpRequest, HttpResponse, Method};
use authrs_core::openid::nonce::NonceOptions;
use authrs_core::openid::signed_time::ConsumerSecret;
use authrs_core::openid::store::{AssociationStore, NonceStore, StoreError, Stores};
use authrs_core::openid::{Outcome, RelyingParty, ReturnRequest, VerifyStep, Version};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use clap::Subcommand;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

#[derive(Subcommand)]
pub enum OpenIdCmd {
    /// Verify the URL an OpenID provider sent the browser back to and print one JSON line
    /// (`verdict`, `code`, `identity`); exit 0 only when verified.
    Verify {
        /// The full URL the browser came back to (the "current URL").
        #[arg(long, value_name = "URL")]
        url: String,
        /// Prefix every return_to must start with (the seed's required_root).
        #[arg(long, value_name = "R")]
        required_root: Option<String>,
        /// File holding the consumer secret that signed oic.time (a trailing newline is ignored);
        /// without it oic.time is not checked and the output says "oic_time_checked": false.
        #[arg(long, value_name = "F")]
        consumer_secret_file: Option<PathBuf>,
        /// The seed's nonce_options as a JSON object (nocheck, lifetime, ignoretime, skew, start, window, timecop).
        #[arg(long, value_name = "JSON")]
        nonce_options: Option<String>,
        /// 1 (accept 1.1 and 2.0, the default) or 2 (2.0 only).
        #[arg(long, value_name = "1|2", default_value_t = 1)]
        minimum_version: u8,
        /// Keep the nonces seen and the associations made here between invocations.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// JSON list of associations made earlier: {"server","handle","secret" (base64),"type","expiry"}.
        #[arg(long, value_name = "FILE")]
        associations: Option<PathBuf>,
        /// Verify as of this Unix time instead of the clock.
        #[arg(long, value_name = "UNIX")]
        now: Option<i64>,
        /// Allow fetches to loopback, private and link-local addresses (tests, intranets).
        #[arg(long)]
        allow_private_addresses: bool,
    },
}

/// Runs an `openid` subcommand.
pub fn run(cmd: OpenIdCmd) -> CmdResult {
    let OpenIdCmd::Verify {
        url,
        required_root,
        consumer_secret_file,
        nonce_options,
        minimum_version,
        state_dir,
        associations,
        now,
        allow_private_addresses,
    } = cmd;
    // Without the secret that signed oic.time the rest of the assertion can still be checked
    // (a diagnosis); the output then says `"oic_time_checked": false`.
    let mut rp = match &consumer_secret_file {
        Some(file) => RelyingParty::new(read_secret(file)?),
        None => {
            let mut unused = [0u8; 32];
            getrandom::fill(&mut unused).map_err(|e| Failure(format!("error: random: {e}")))?;
            let mut rp = RelyingParty::new(ConsumerSecret::new(&unused)?);
            rp.check_signed_time = false;
            rp
        }
    };
    if let Some(root) = required_root {
        rp = rp.with_required_root(&root)?;
    }
    rp.minimum_version = match minimum_version {
        1 => Version::V1,
        2 => Version::V2,
        n => {
            return Err(Failure(format!(
                "error: --minimum-version must be 1 or 2, not {n}"
            )))
        }
    };
    if let Some(json) = nonce_options {
        let options: NonceOptions = serde_json::from_str(&json)
            .map_err(|e| Failure(format!("error: --nonce-options: {e}")))?;
        rp.nonce = options.resolve();
    }
    rp.fetch.allow_private_addresses = allow_private_addresses;
    let now = match now {
        Some(t) => t,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| Failure(format!("error: clock: {e}")))?
            .as_secs()
            .try_into()
            .map_err(|_| Failure("error: clock out of range".into()))?,
    };
    let mut state = State::load(state_dir.as_deref())?;
    if let Some(file) = associations {
        let text = crate::read_bounded_text(&file, crate::MAX_INPUT)?;
        // serde's message may quote the value it choked on (a secret): line and column only.
        let list: Vec<Association> = serde_json::from_str(&text).map_err(|e| {
            Failure(format!(
                "error: {}: not a JSON list of associations (line {}, column {})",
                file.display(),
                e.line(),
                e.column()
            ))
        })?;
        state.associations.extend(list);
    }
    let agent = agent(allow_private_addresses);
    let outcome = {
        let (mut nonces, mut assocs) = (
            NonceFile(&mut state.nonces),
            AssocFile(&mut state.associations),
        );
        let mut stores = Stores {
            nonces: &mut nonces,
            associations: &mut assocs,
        };
        let mut step = rp.verify(
            ReturnRequest {
                current_url: &url,
                body: None,
            },
            &mut stores,
            now,
        );
        loop {
            match step {
                VerifyStep::Done(outcome) => break outcome,
                VerifyStep::Fetch(request, pending) => {
                    let response = perform(&agent, &request);
                    step = pending.on_response(&rp, response, &mut stores, now);
                }
            }
        }
    };
    state.save(state_dir.as_deref())?;
    let identity = match &outcome {
        Outcome::Verified(v) => Some(v.url.clone()),
        _ => None,
    };
    let line = serde_json::json!({
        "verdict": outcome.verdict(),
        "code": outcome.code(),
        "identity": identity,
        "oic_time_checked": rp.check_signed_time,
    });
    crate::outln!("{line}");
    match outcome {
        Outcome::Verified(_) => Ok(()),
        Outcome::Error(e) => Err(Failure(format!("{}: {}", e.code(), e.detail))),
        _ => Err(Failure(String::new())),
    }
}

fn read_secret(path: &Path) -> Result<ConsumerSecret, Failure> {
    let bytes = crate::read_bounded(path, 64 * 1024)?;
    let trimmed = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    ConsumerSecret::new(trimmed).map_err(|e| Failure(format!("error: {}: {e}", path.display())))
}

/// Resolves names like the default resolver, then drops private addresses unless allowed,
/// so the connection goes only to the addresses checked (no DNS rebinding window).
#[derive(Debug)]
struct ParanoidResolver {
    allow_private: bool,
    inner: DefaultResolver,
}

impl Resolver for ParanoidResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let all = self.inner.resolve(uri, config, timeout)?;
        let mut kept = self.empty();
        for addr in all
            .iter()
            .filter(|a| self.allow_private || !is_private(a.ip()))
        {
            kept.push(*addr);
        }
        if kept.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(kept)
    }
}

fn agent(allow_private: bool) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .max_redirects(0)
        .max_redirects_will_error(false)
        .http_status_as_error(false)
        .proxy(None)
        .user_agent("authrs-openid")
        .build();
    let resolver = ParanoidResolver {
        allow_private,
        inner: DefaultResolver::default(),
    };
    ureq::Agent::with_parts(config, DefaultConnector::default(), resolver)
}

/// Performs a described request; any failure is status 0 ("no response").
fn perform(agent: &ureq::Agent, request: &HttpRequest) -> HttpResponse {
    let timeout = Some(Duration::from_millis(request.timeout_ms));
    let result = match request.method {
        Method::Get => {
            let mut r = agent
                .get(&request.url)
                .config()
                .timeout_global(timeout)
                .build();
            for (k, v) in &request.headers {
                r = r.header(k, v);
            }
            r.call()
        }
        Method::Post => {
            let mut r = agent
                .post(&request.url)
                .config()
                .timeout_global(timeout)
                .build();
            for (k, v) in &request.headers {
                r = r.header(k, v);
            }
            r.send(request.body.as_deref().unwrap_or_default())
        }
    };
    let Ok(mut response) = result else {
        return HttpResponse::failed();
    };
    let headers = response
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let limit = u64::try_from(request.max_response_bytes).unwrap_or(u64::MAX);
    let Ok(body) = response.body_mut().with_config().limit(limit).read_to_vec() else {
        return HttpResponse::failed();
    };
    HttpResponse {
        status: response.status().as_u16(),
        headers,
        body,
    }
}

/// What `--state-dir` keeps: nonces seen (key → expiry) and associations.
#[derive(Default)]
struct State {
    nonces: BTreeMap<String, Option<i64>>,
    associations: Vec<Association>,
}

const NONCES_FILE: &str = "openid-nonces.json";
const ASSOCIATIONS_FILE: &str = "openid-associations.json";

impl State {
    fn load(dir: Option<&Path>) -> Result<State, Failure> {
        let Some(dir) = dir else {
            return Ok(State::default());
        };
        private_dir(dir)?;
        let read = |name: &str| -> Result<Option<String>, Failure> {
            let path = dir.join(name);
            match std::fs::metadata(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(Failure(format!("error: {}: {e}", path.display()))),
                Ok(_) => {}
            }
            crate::read_bounded_text(&path, crate::MAX_INPUT).map(Some)
        };
        // serde's message may quote the value it choked on (an association's secret).
        let bad = |name: &str, e: serde_json::Error| {
            Failure(format!(
                "error: {}: not this command's state (line {}, column {})",
                dir.join(name).display(),
                e.line(),
                e.column()
            ))
        };
        let nonces = match read(NONCES_FILE)? {
            Some(s) => serde_json::from_str(&s).map_err(|e| bad(NONCES_FILE, e))?,
            None => BTreeMap::new(),
        };
        let associations = match read(ASSOCIATIONS_FILE)? {
            Some(s) => serde_json::from_str(&s).map_err(|e| bad(ASSOCIATIONS_FILE, e))?,
            None => Vec::new(),
        };
        Ok(State {
            nonces,
            associations,
        })
    }

    fn save(&self, dir: Option<&Path>) -> Result<(), Failure> {
        let Some(dir) = dir else {
            return Ok(());
        };
        private_dir(dir)?;
        let assocs: Vec<serde_json::Value> = self
            .associations
            .iter()
            .map(|a| {
                serde_json::json!({
                    "server": a.server, "handle": a.handle, "secret": STANDARD.encode(&a.secret),
                    "type": a.assoc_type.name(), "expiry": a.expiry,
                })
            })
            .collect();
        for (name, value) in [
            (NONCES_FILE, serde_json::to_string(&self.nonces)?),
            (ASSOCIATIONS_FILE, serde_json::to_string(&assocs)?),
        ] {
            write_private(&dir.join(name), &value)?;
        }
        Ok(())
    }
}

/// The state directory, created 0700 when missing; refused when others may write in it (a
/// shared `/tmp/x` someone else made 0777): they could plant an association whose secret they
/// know, and every assertion signed with it would verify, or delete the nonces seen.
fn private_dir(dir: &Path) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure(format!("error: {}: {e}", dir.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(fail)?;
        }
        let meta = std::fs::symlink_metadata(dir).map_err(fail)?;
        if !meta.is_dir() {
            return Err(Failure(format!(
                "error: {}: not a directory (a symlink is not followed)",
                dir.display()
            )));
        }
        if meta.permissions().mode() & 0o022 != 0 {
            return Err(Failure(format!(
                "error: {}: others may write in it (mode {:o}): its state could be planted; use a directory only you may write",
                dir.display(),
                meta.permissions().mode() & 0o7777
            )));
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(fail)?;
    Ok(())
}

/// Writes a state file readable by its owner only (it holds association secrets).
fn write_private(path: &Path, text: &str) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure(format!("error: {}: {e}", path.display()));
    let tmp = path.with_extension("tmp");
    // A fresh file, never an existing one (whose owner and mode would stay) nor a symlink's
    // target: a leftover is removed first, and O_EXCL refuses whatever appears in between.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(e)),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    std::io::Write::write_all(&mut options.open(&tmp).map_err(fail)?, text.as_bytes())
        .map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// The nonce file as a replay cache.
struct NonceFile<'a>(&'a mut BTreeMap<String, Option<i64>>);

impl NonceStore for NonceFile<'_> {
    fn seen(&mut self, key: &str, now: i64) -> Result<bool, StoreError> {
        Ok(matches!(self.0.get(key), Some(exp) if exp.is_none_or(|e| now <= e)))
    }

    fn check_and_insert(
        &mut self,
        key: &str,
        expires: Option<i64>,
        now: i64,
    ) -> Result<bool, StoreError> {
        if self.seen(key, now)? {
            return Ok(false);
        }
        self.0.retain(|_, e| e.is_none_or(|e| now <= e));
        self.0.insert(key.to_string(), expires);
        Ok(true)
    }
}

/// The association file as an association store.
struct AssocFile<'a>(&'a mut Vec<Association>);

impl AssociationStore for AssocFile<'_> {
    fn get(&mut self, server: &str, handle: &str) -> Result<Option<Association>, StoreError> {
        Ok(self
            .0
            .iter()
            .find(|a| a.server == server && a.handle == handle)
            .cloned())
    }

    fn current(&mut self, server: &str, now: i64) -> Result<Option<Association>, StoreError> {
        Ok(self
            .0
            .iter()
            .filter(|a| a.server == server && a.usable(now))
            .max_by_key(|a| a.expiry)
            .cloned())
    }

    fn put(&mut self, association: Association) -> Result<(), StoreError> {
        self.remove(&association.server.clone(), &association.handle.clone())?;
        self.0.push(association);
        Ok(())
    }

    fn remove(&mut self, server: &str, handle: &str) -> Result<(), StoreError> {
        self.0
            .retain(|a| !(a.server == server && a.handle == handle));
        Ok(())
    }
}
