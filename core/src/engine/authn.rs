//! Authentication: try the configured methods in order, with SSLify-style fallbacks.

use std::borrow::Cow;

use super::decision::{Decision, Level};
use super::policy::{Method, Policy};
use super::stores::{ticket_ref_id, Stores};
use crate::cert::chain::{chain_der, ChainError};
use crate::cert::crl::CrlStatus;
use crate::cert::map::{map_user, map_user_from_dn};
use crate::cert::Certificate;
use crate::cookies::find_cookie;
use crate::identity::{AuthMethod, Identity};
use crate::proxy::{proxy_tls_facts, spoofed_proxy_headers};
use crate::reason::Reason;
use crate::request::{CertVerify, RequestFacts, TlsFacts};
use crate::ticket::{TicketBuf, TicketError, TICKET_VERSION};
use crate::time::UnixTime;

/// Who authenticated (if anyone) and, if nobody, the reason to report.
pub(super) struct Authn {
    pub identity: Option<Identity>,
    pub failure: Reason,
    /// The refused ticket may still be good elsewhere (bound to an address this location does
    /// not check): refuse it here, but do not clear the browser's cookie.
    pub keep_cookie: bool,
}

/// One method's outcome.
enum Outcome {
    /// Authenticated.
    User(Identity),
    /// This method's credential is not there at all.
    Absent,
    /// Present but refused. `final_` stops trying further methods.
    Refused { reason: Reason, final_: bool },
}

/// Runs the methods in order. `Err` is an internal failure (fail closed).
pub(super) fn authenticate(
    policy: &Policy,
    req: &RequestFacts,
    now: UnixTime,
    stores: &mut Stores<'_>,
    decision: &mut Decision,
) -> Result<Authn, String> {
    report_spoofed(policy, req, decision);
    let mut refused: Option<Reason> = None;
    let mut keep_cookie = false;
    for method in &policy.methods {
        let outcome = match method {
            Method::Cert => cert(policy, req, now, decision),
            Method::Ticket => ticket(policy, req, now, stores, decision, &mut keep_cookie)?,
            // An OpenID login happens at the login handler; what it issues is a ticket.
            Method::OpenId => Outcome::Absent,
        };
        match outcome {
            Outcome::User(identity) => {
                return Ok(Authn {
                    identity: Some(identity),
                    failure: Reason::NoCookie,
                    keep_cookie: false,
                })
            }
            Outcome::Absent => {}
            Outcome::Refused { reason, final_ } => {
                refused.get_or_insert(reason);
                if final_ {
                    break;
                }
            }
        }
    }
    // A credential that was there but refused says more than one that was missing.
    let absent = if policy.methods.contains(&Method::Ticket) {
        Reason::NoCookie
    } else {
        Reason::NoCert
    };
    Ok(Authn {
        identity: None,
        failure: refused.unwrap_or(absent),
        keep_cookie,
    })
}

/// Reports (AUTHRS0201) the proxy headers this request's peer may not assert, for the shells to
/// remove: on every authenticated request, whether or not the certificate method runs — a
/// ticket that succeeds first must not carry a client's own `SSL_CLIENT_*` or XFCC upstream.
fn report_spoofed(policy: &Policy, req: &RequestFacts, decision: &mut Decision) {
    let spoofed = spoofed_proxy_headers(req, &policy.trusted_proxies);
    if !spoofed.is_empty() {
        decision.note(
            Level::Warn,
            "AUTHRS0201",
            format!(
                "ignoring client-certificate headers not asserted by a trusted proxy (peer {}): {}",
                req.peer
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "unknown".into()),
                spoofed.join(", ")
            ),
        );
        decision.spoofed_headers = spoofed;
    }
}

/// Where the certificate facts come from: a trusted proxy's headers, else our own TLS.
/// `None` when a trusted proxy's headers are unusable: the certificate method must refuse.
fn tls_facts<'r>(
    policy: &Policy,
    req: &'r RequestFacts,
    decision: &mut Decision,
) -> Option<Cow<'r, TlsFacts>> {
    // Spoofed headers were reported by `authenticate`, whatever methods run.
    let outcome = proxy_tls_facts(req, &policy.trusted_proxies);
    if let Some(err) = outcome.error {
        decision.note(
            Level::Warn,
            "AUTHRS0202",
            format!("trusted proxy sent unusable certificate headers: {err}"),
        );
        return None;
    }
    if req.peer.is_some_and(|p| policy.trusted_proxies.contains(p)) {
        // Behind a trusted proxy our own TLS peer is the proxy: its certificate (if it presents
        // one) is never the client's. Only what the proxy asserts counts.
        return Some(Cow::Owned(outcome.facts.unwrap_or_default()));
    }
    // Our own TLS facts are read in place (the certificate is not copied per request).
    Some(outcome.facts.map_or(Cow::Borrowed(&req.tls), Cow::Owned))
}

fn cert(policy: &Policy, req: &RequestFacts, now: UnixTime, decision: &mut Decision) -> Outcome {
    let Some(tls) = tls_facts(policy, req, decision) else {
        return Outcome::Refused {
            reason: Reason::BadCert,
            final_: true,
        };
    };
    let required = policy.cert_required;
    let refuse = |reason: Reason| Outcome::Refused {
        reason,
        // A revoked certificate never falls through to a weaker method.
        final_: required || reason == Reason::RevokedCert,
    };
    match &tls.verify {
        CertVerify::None => {
            return if required {
                refuse(Reason::NoCert)
            } else {
                Outcome::Absent
            }
        }
        // Not verified against a CA (mod_ssl's optional_no_ca gives GENEROUS or, for a
        // self-signed leaf, FAILED:…; Envoy's ACCEPT_UNTRUSTED): only a pinned certificate
        // may pass. The handshake still proved possession of its key.
        // Only failures about the issuer can be excused by pinning: an expired, revoked or
        // badly signed certificate stays refused (mod_ssl's ssl_verify_error_is_optional).
        CertVerify::Failed(why)
            if policy.enrolled.is_none() || !tls.has_cert() || !issuer_only_failure(why) =>
        {
            decision.note(
                Level::Info,
                "AUTHRS0210",
                format!("client certificate failed verification: {why}"),
            );
            return refuse(Reason::BadCert);
        }
        CertVerify::Success | CertVerify::Generous | CertVerify::Failed(_) => {}
    }
    let generous = tls.verify != CertVerify::Success;
    let parsed;
    let cert: &Certificate = match (&tls.parsed_cert, &tls.cert) {
        (Some(c), _) => c,
        (None, None) => {
            return match cert_from_dn(policy, &tls, generous, decision) {
                // A verdict naming no certificate (VERIFY alone, XFCC with only a hash) shows
                // none: where one is required, that is no_cert and no fallback to a ticket.
                Ok(Outcome::Absent) if required => refuse(Reason::NoCert),
                other => other.unwrap_or_else(refuse),
            };
        }
        (None, Some(bytes)) => match Certificate::parse(bytes) {
            Ok(c) => {
                parsed = c;
                &parsed
            }
            Err(e) => {
                decision.note(
                    Level::Info,
                    "AUTHRS0211",
                    format!("client certificate unreadable: {e}"),
                );
                return refuse(Reason::BadCert);
            }
        },
    };
    if let Some(dn) = tls.subject_dn.as_deref().filter(|_| tls.via_proxy) {
        // A proxy that asserts both must assert the same certificate: a mismatch means one of
        // the two came from the client (a proxy that sets the DN but passes SSL_CLIENT_CERT).
        if dn != cert.subject_dn && dn != cert.subject_dn_mod_ssl() {
            decision.note(
                Level::Warn,
                "AUTHRS0203",
                format!(
                    "proxy asserted DN {dn:?} but forwarded a certificate for {:?}; refused",
                    cert.subject_dn
                ),
            );
            return Outcome::Refused {
                reason: Reason::BadCert,
                final_: true,
            };
        }
    }
    if let Err(e) = cert.is_valid_at(now) {
        decision.note(
            Level::Info,
            "AUTHRS0212",
            format!("client certificate {}: {e}", cert.subject_dn),
        );
        return refuse(Reason::BadCert);
    }
    // Set when CRLs are configured but none is the issuer's: a CA-verified certificate is then
    // refused (below, once the chain has had its say), as mod_ssl's revocation check refuses
    // one whose issuer has no CRL — a CRL file for the wrong CA must not vouch for anyone.
    let mut no_crl = false;
    if let Some(crls) = &policy.crls {
        match crls.check(&cert.issuer_dn, &cert.serial, now) {
            CrlStatus::NotRevoked => {}
            CrlStatus::NoCrl => no_crl = true,
            CrlStatus::Revoked => {
                decision.note(
                    Level::Info,
                    "AUTHRS0213",
                    format!(
                        "client certificate serial {} from {} is revoked",
                        cert.serial, cert.issuer_dn
                    ),
                );
                return refuse(Reason::RevokedCert);
            }
            CrlStatus::BadSerial => {
                decision.note(
                    Level::Info,
                    "AUTHRS0219",
                    format!("certificate serial {:?} is not hex", cert.serial),
                );
                return refuse(Reason::BadCert);
            }
            CrlStatus::CrlExpired { issuer_dn } => {
                // Fail closed, as mod_ssl does: a stale CRL cannot vouch for anyone.
                decision.note(
                    Level::Error,
                    "AUTHRS0214",
                    format!("the CRL of {issuer_dn} has expired; refusing its certificates"),
                );
                return refuse(Reason::BadCert);
            }
        }
    }
    // Checked last, so an expired or revoked certificate is refused for that, whatever its chain.
    let generous = generous
        && match chain_verified(policy, &tls, cert, now, decision) {
            Chain::Verified => false,
            Chain::NotVerified => true,
            // A revoked sub-CA (or one whose issuer's CRLs are stale) stops its certificates as
            // a revoked leaf (or a leaf with a stale CRL) does, pinned or not.
            Chain::Refused(reason) => return refuse(reason),
        };
    if no_crl && !generous {
        decision.note(
            Level::Error,
            "AUTHRS0225",
            format!(
                "no CRL of {} is configured (AuthRsCRLFile / crls); refusing its certificates",
                cert.issuer_dn
            ),
        );
        return refuse(Reason::BadCert);
    }
    let pinned = policy
        .enrolled
        .as_ref()
        .and_then(|e| e.lookup(&cert.sha256, now));
    let user = match (pinned, generous) {
        (Some(enrollment), _) => enrollment.user.clone(),
        (None, true) => {
            decision.note(
                Level::Info,
                "AUTHRS0215",
                format!(
                    "certificate {} is neither CA-verified nor enrolled",
                    cert.subject_dn
                ),
            );
            return refuse(Reason::BadCert);
        }
        (None, false) => match map_user(cert, &policy.cert_user, policy.cert_user_map.as_ref()) {
            Ok(user) => user,
            Err(e) => {
                decision.note(
                    Level::Info,
                    "AUTHRS0216",
                    format!("certificate {} maps to no user: {e}", cert.subject_dn),
                );
                return refuse(Reason::BadCert);
            }
        },
    };
    let mut identity = Identity::new(user, AuthMethod::Cert);
    if generous {
        // A pinned certificate chose its own subject: no CA vouches for that DN, so it is not
        // exposed (no AUTHRS_DN, no `Require cert-dn` match). The enrolment names the user.
        return Outcome::User(identity);
    }
    if policy.mod_ssl_dn {
        identity.dn = Some(cert.subject_dn_mod_ssl());
        identity.issuer_dn = Some(cert.issuer_dn_mod_ssl());
    } else {
        identity.dn = Some(cert.subject_dn.clone());
        identity.issuer_dn = Some(cert.issuer_dn.clone());
    }
    Outcome::User(identity)
}

/// What the client's chain says under [`CertVerify::Generous`] with `trusted_cas` set.
enum Chain {
    /// It leads to a trusted CA: the certificate counts as CA-verified.
    Verified,
    /// It does not (or there is no `trusted_cas`): the certificate stays unverified.
    NotVerified,
    /// A CRL revokes an intermediate of the best path (`revoked_cert`), or every CRL of its
    /// issuer has expired (`bad_cert`): refuse, as for the leaf.
    Refused(Reason),
}

/// Under [`CertVerify::Generous`] with `trusted_cas` set: whether the client's chain leads to
/// one of those CAs through intermediates the CRLs do not revoke. A failure is only noted
/// (debug: a pinned certificate fails it by design); the certificate stays unverified — but a
/// revoked intermediate, or one whose issuer's CRLs have expired, refuses it as for the leaf.
fn chain_verified(
    policy: &Policy,
    tls: &TlsFacts,
    cert: &Certificate,
    now: UnixTime,
    decision: &mut Decision,
) -> Chain {
    let (CertVerify::Generous, Some(anchors)) = (&tls.verify, &policy.trusted_cas) else {
        return Chain::NotVerified;
    };
    let crls = policy.crls.as_ref();
    match chain_der(&tls.chain)
        .and_then(|chain| anchors.verify_with_crls(&cert.der, &chain, now, crls))
    {
        Ok(()) => Chain::Verified,
        Err(e @ ChainError::IntermediateRevoked { .. }) => {
            decision.note(
                Level::Info,
                "AUTHRS0213",
                format!("client certificate {}: {e}", cert.subject_dn),
            );
            Chain::Refused(Reason::RevokedCert)
        }
        Err(e @ ChainError::IntermediateCrlExpired { .. }) => {
            decision.note(
                Level::Error,
                "AUTHRS0214",
                format!("client certificate {}: {e}; refusing", cert.subject_dn),
            );
            Chain::Refused(Reason::BadCert)
        }
        Err(e) => {
            decision.note(
                Level::Debug,
                "AUTHRS0224",
                format!(
                    "client certificate {} not verified against trusted_cas: {e}",
                    cert.subject_dn
                ),
            );
            Chain::NotVerified
        }
    }
}

/// Whether a TLS verification failure is only about the issuer (self-signed, unknown CA) —
/// the cases `optional_no_ca` tolerates and pinning may excuse. OpenSSL's texts, both spellings.
fn issuer_only_failure(why: &str) -> bool {
    const ISSUER_ONLY: [&str; 5] = [
        "self-signed certificate",
        "self signed certificate",
        "unable to get local issuer certificate",
        "unable to get issuer certificate",
        "unable to verify the first certificate",
    ];
    let why = why.to_ascii_lowercase();
    ISSUER_ONLY.iter().any(|t| why.starts_with(t))
}

/// Certificate facts without the certificate: only a DN string (a proxy or Envoy's subject property).
fn cert_from_dn(
    policy: &Policy,
    tls: &TlsFacts,
    generous: bool,
    decision: &mut Decision,
) -> Result<Outcome, Reason> {
    let Some(dn) = &tls.subject_dn else {
        return Ok(Outcome::Absent);
    };
    if generous {
        // Pinning needs the certificate's fingerprint; a DN alone proves nothing.
        decision.note(
            Level::Info,
            "AUTHRS0217",
            format!("unverified certificate {dn} without its body cannot be checked"),
        );
        return Err(Reason::BadCert);
    }
    if policy.crls.is_some() {
        decision.note(
            Level::Warn,
            "AUTHRS0218",
            format!("a CRL is configured but only the DN of {dn} is known (no serial): refusing; forward the certificate itself"),
        );
        return Err(Reason::BadCert);
    }
    match map_user_from_dn(dn, &policy.cert_user, policy.cert_user_map.as_ref()) {
        Ok(user) => {
            let mut identity = Identity::new(user, AuthMethod::Cert);
            identity.dn = Some(dn.clone());
            identity.issuer_dn = tls.issuer_dn.clone();
            Ok(Outcome::User(identity))
        }
        Err(e) => {
            decision.note(
                Level::Info,
                "AUTHRS0216",
                format!("certificate {dn} maps to no user: {e}"),
            );
            Err(Reason::BadCert)
        }
    }
}

fn ticket(
    policy: &Policy,
    req: &RequestFacts,
    now: UnixTime,
    stores: &mut Stores<'_>,
    decision: &mut Decision,
    keep_cookie: &mut bool,
) -> Result<Outcome, String> {
    let Some(keys) = &policy.keys else {
        return Ok(Outcome::Absent);
    };
    let Some(value) = find_cookie(req.header_all("cookie"), &policy.cookie.name) else {
        return Ok(Outcome::Absent);
    };
    let peer = if policy.bind_address {
        req.client_address()
    } else {
        None
    };
    // Read in place: the only copies made are the Identity's own.
    let mut buf = TicketBuf::new();
    let name = &policy.cookie.name;
    let ticket = match keys.verify_ref_for(name, value, &mut buf, now, peer, policy.session_timeout)
    {
        Ok(t) => t,
        Err(e) => {
            // A ticket from our future is ours, so the clocks disagree: the operator's problem.
            let level = if e == TicketError::ClockSkew {
                Level::Warn
            } else {
                Level::Info
            };
            decision.note(level, "AUTHRS0220", format!("ticket refused: {e}"));
            // Bound to an address where this location checks none: it may be good at the
            // locations that bind; clearing it would log the user out of all of them. One
            // from our future is good on the server that issued it (and here once our clock
            // catches up): clearing it would log the user out there too.
            *keep_cookie = (e == TicketError::AddressMismatch && peer.is_none())
                || e == TicketError::ClockSkew;
            return Ok(Outcome::Refused {
                reason: e.reason(),
                final_: false,
            });
        }
    };
    if ticket.version == TICKET_VERSION && !policy.accept_unbound_tickets {
        decision.note(
            Level::Info,
            "AUTHRS0226",
            format!(
                "unbound (version 1) ticket of {} refused (AuthRsAcceptUnboundTickets Off)",
                ticket.user
            ),
        );
        // Good where unbound tickets are still accepted; a login here replaces it.
        *keep_cookie = true;
        return Ok(Outcome::Refused {
            reason: Reason::BadCookie,
            final_: false,
        });
    }
    if policy.bind_address && ticket.address.is_none() {
        // Binding is on: a ticket bound to no address (older, or minted elsewhere) fails closed.
        decision.note(
            Level::Info,
            "AUTHRS0223",
            format!("ticket of {} is not bound to an address", ticket.user),
        );
        // It is good where binding is off: refused here, kept in the browser.
        *keep_cookie = true;
        return Ok(Outcome::Refused {
            reason: Reason::BadCookie,
            final_: false,
        });
    }
    if let Some(max) = policy
        .max_ticket_age
        .filter(|max| now.saturating_sub(ticket.issued) > *max)
    {
        // This location asks for a more recent login than the ticket's own lifetime
        // (AuthRsMaxTicketAge on a sensitive area, as mod_auth_tkt's TKTAuthTimeout): refused
        // here, kept for the locations it is still good at; a login here replaces it.
        decision.note(
            Level::Info,
            "AUTHRS0228",
            format!(
                "ticket of {} issued {} s ago refused: this location's AuthRsMaxTicketAge is {max} s",
                ticket.user,
                now.saturating_sub(ticket.issued)
            ),
        );
        *keep_cookie = true;
        return Ok(Outcome::Refused {
            reason: Reason::Expired,
            final_: false,
        });
    }
    if let Some(store) = stores.revocations.as_deref_mut() {
        match store.is_revoked(&ticket_ref_id(&ticket), now) {
            Ok(false) => {}
            Ok(true) => {
                decision.note(
                    Level::Info,
                    "AUTHRS0221",
                    format!("ticket of {} was revoked at logout", ticket.user),
                );
                return Ok(Outcome::Refused {
                    reason: Reason::BadCookie,
                    final_: false,
                });
            }
            Err(e) => return Err(format!("revocation store unavailable: {e}")),
        }
    }
    if ticket.needs_refresh(now, policy.session_timeout, policy.refresh_fraction)
        // Another site's request (its <img>, its link) may use the ticket but never refreshes
        // it: else any page the user visits could keep an idle session alive (SameSite=None
        // sends the cookie with its images, Lax with its links) until the absolute lifetime.
        // Nor does a sibling subdomain's <img> or fetch (same-site, so Lax sends the cookie):
        // only its links to pages, as a portal's.
        && !req.is_cross_site_fetch()
        && !req.is_sibling_subresource()
    {
        // Re-issued as it came: bound to this cookie's name, or unbound. Binding an unbound
        // ticket here would let it pass a location that refuses unbound tickets
        // (AuthRsAcceptUnboundTickets Off) but shares the cookie; unbound, it still expires
        // when it did.
        let refreshed = ticket.to_ticket().refreshed(now);
        let fresh = if ticket.version == TICKET_VERSION {
            keys.mint(&refreshed)
        } else {
            keys.mint_for(&refreshed, name)
        };
        match fresh {
            Ok(v) => {
                decision.set_cookie = Some(policy.cookie.set_cookie(
                    &v,
                    now,
                    Some(ticket.expires - now),
                ))
            }
            Err(e) => decision.note(
                Level::Error,
                "AUTHRS0222",
                format!("could not refresh ticket: {e}"),
            ),
        }
    }
    let mut identity = Identity::new(ticket.user, ticket.method);
    if let Some(roles) = ticket.roles {
        identity.roles = roles.to_roles();
    }
    Ok(Outcome::User(identity))
}
