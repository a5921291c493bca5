//! Checks across options, run once a scope is complete (after merging, or after reading the JSON).

use crate::cookies::SameSite;

use super::error::{ConfigError, ConfigErrorKind};
use super::kinds::{Method, UnauthAction};
use super::settings::Settings;
use super::spec::{by_id, OptionId, Shell};

/// The option's name in `shell`, for errors about combinations.
fn name(id: OptionId, shell: Shell) -> &'static str {
    by_id(id).map_or("", |o| o.name_in(shell))
}

impl Settings {
    /// Refuses combinations that are each valid but cannot work together; names options as `shell` spells them.
    pub fn check(&self, shell: Shell) -> Result<(), ConfigError> {
        let conflict = |id: OptionId, value: &str, why: String| {
            Err(ConfigError::new(
                ConfigErrorKind::Conflict,
                name(id, shell),
                value,
                why,
                false,
            ))
        };
        if self.same_site() == SameSite::None && !self.cookie_secure() {
            return conflict(
                OptionId::CookieSameSite,
                "None",
                format!(
                    "needs {} On: browsers drop SameSite=None cookies that are not Secure",
                    name(OptionId::CookieSecure, shell)
                ),
            );
        }
        if let Some(cookie) = &self.cookie_name {
            // Browsers match the prefixes in any case and drop cookies that break their rules.
            let prefixed = |p: &str| {
                cookie
                    .get(..p.len())
                    .is_some_and(|c| c.eq_ignore_ascii_case(p))
            };
            if prefixed("__Host-")
                && (!self.cookie_secure()
                    || self.cookie_path() != "/"
                    || self.cookie_domain.is_some())
            {
                return conflict(
                    OptionId::CookieName,
                    cookie,
                    format!(
                        "a __Host- cookie needs {} On, {} / and no {}: browsers drop it otherwise",
                        name(OptionId::CookieSecure, shell),
                        name(OptionId::CookiePath, shell),
                        name(OptionId::CookieDomain, shell)
                    ),
                );
            }
            if prefixed("__Secure-") && !self.cookie_secure() {
                return conflict(
                    OptionId::CookieName,
                    cookie,
                    format!(
                        "a __Secure- cookie needs {} On: browsers drop it otherwise",
                        name(OptionId::CookieSecure, shell)
                    ),
                );
            }
        }
        if self.unauth_action() == UnauthAction::Redirect && self.login_url().is_none() {
            return conflict(
                OptionId::UnauthAction,
                "redirect",
                format!("needs {} to redirect to", name(OptionId::LoginUrl, shell)),
            );
        }
        if self.cert_require() && self.methods().first() != Some(&Method::Cert) {
            // A method tried before the certificate would let a request in without one.
            return conflict(
                OptionId::CertRequire,
                "On",
                format!(
                    "needs cert first in {}: a method tried before it would let a request in \
                     without a certificate",
                    name(OptionId::Methods, shell)
                ),
            );
        }
        if let (Some(login), Some(logout)) = (self.login_path(), self.logout_path()) {
            if login == logout {
                return conflict(
                    OptionId::LogoutPath,
                    logout,
                    format!("must differ from {}", name(OptionId::LoginPath, shell)),
                );
            }
        }
        Ok(())
    }

    /// [`Settings::check`] on the combinations whose every option this one section sets: no
    /// parent can mend them (set values win a merge), so httpd refuses them as the directive
    /// is read (`apache2 -t`); the rest wait for the merged scope.
    pub fn check_section(&self, shell: Shell) -> Result<(), ConfigError> {
        let mut own = Settings::new();
        if self.cookie_same_site.is_some() && self.cookie_secure.is_some() {
            own.cookie_same_site = self.cookie_same_site;
            own.cookie_secure = self.cookie_secure;
        }
        if self.cert_require.is_some() && self.methods.is_some() {
            own.cert_require = self.cert_require;
            own.methods.clone_from(&self.methods);
        }
        if self.unauth_action.is_some() && self.login_url.is_some() {
            own.unauth_action = self.unauth_action;
            own.login_url.clone_from(&self.login_url);
        }
        if self.cookie_name.is_some()
            && (self.cookie_secure.is_some()
                || self.cookie_path.is_some()
                || self.cookie_domain.is_some())
        {
            own.cookie_name.clone_from(&self.cookie_name);
            own.cookie_secure = self.cookie_secure;
            own.cookie_path.clone_from(&self.cookie_path);
            own.cookie_domain.clone_from(&self.cookie_domain);
        }
        if self.login_path.is_some() && self.logout_path.is_some() {
            own.login_path.clone_from(&self.login_path);
            own.logout_path.clone_from(&self.logout_path);
        }
        own.check(shell)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn same_site_none_needs_secure() {
        let mut s = Settings::new();
        s.set("AuthRsCookieSameSite", &["None"]).unwrap();
        assert!(s.check(Shell::Apache).is_ok());
        s.set("AuthRsCookieSecure", &["Off"]).unwrap();
        let e = s.check(Shell::Apache).unwrap_err();
        assert_eq!(e.option, "AuthRsCookieSameSite");
        assert!(e.to_string().contains("AuthRsCookieSecure On"), "{e}");
        let e = s.check(Shell::Envoy).unwrap_err();
        assert_eq!(e.option, "cookie_same_site");
        assert!(e.to_string().contains("cookie_secure On"), "{e}");
    }

    #[test]
    fn a_required_certificate_comes_first() {
        let mut s = Settings::new();
        s.set("AuthRsCertRequire", &["On"]).unwrap();
        assert!(
            s.check(Shell::Apache).is_ok(),
            "default methods: cert ticket"
        );
        s.set("AuthRsMethods", &["ticket", "cert"]).unwrap();
        let e = s.check(Shell::Apache).unwrap_err();
        assert_eq!(e.option, "AuthRsCertRequire");
        assert!(e.to_string().contains("cert first in AuthRsMethods"), "{e}");
        s.set("AuthRsMethods", &["ticket"]).unwrap();
        assert_eq!(s.check(Shell::Envoy).unwrap_err().option, "cert_require");
        s.set("AuthRsMethods", &["cert"]).unwrap();
        assert!(s.check(Shell::Apache).is_ok());
    }

    #[test]
    fn cookie_prefixes_need_their_attributes() {
        let mut s = Settings::new();
        s.set("AuthRsCookieName", &["__Host-t"]).unwrap();
        assert!(s.check(Shell::Apache).is_ok(), "defaults: Secure, Path /");
        assert!(s.check_section(Shell::Apache).is_ok());
        for (name, value) in [
            ("AuthRsCookiePath", "/app"),
            ("AuthRsCookieSecure", "Off"),
            ("AuthRsCookieDomain", "example.org"),
        ] {
            let mut bad = s.clone();
            bad.set(name, &[value]).unwrap();
            let e = bad.check_section(Shell::Apache).unwrap_err();
            assert_eq!(e.option, "AuthRsCookieName", "{name}");
            assert!(e.to_string().contains("__Host-"), "{e}");
            assert_eq!(bad.check(Shell::Envoy).unwrap_err().option, "cookie_name");
        }
        let mut s = Settings::new();
        s.set("AuthRsCookieName", &["__SECURE-t"]).unwrap();
        s.set("AuthRsCookiePath", &["/app"]).unwrap();
        assert!(s.check_section(Shell::Apache).is_ok());
        s.set("AuthRsCookieSecure", &["Off"]).unwrap();
        assert!(s.check_section(Shell::Apache).is_err());
    }

    #[test]
    fn redirect_needs_a_login_url() {
        let mut s = Settings::new();
        s.set("AuthRsUnauthAction", &["redirect"]).unwrap();
        let e = s.check(Shell::Apache).unwrap_err();
        assert!(e.to_string().contains("AuthRsLoginURL"), "{e}");
        s.set("AuthRsLoginURL", &["/login"]).unwrap();
        assert!(s.check(Shell::Apache).is_ok());
    }

    #[test]
    fn a_section_is_refused_only_for_what_it_sets_itself() {
        let mut s = Settings::new();
        // A parent may set AuthRsLoginURL, or cert first in the methods: not this section's error.
        s.set("AuthRsUnauthAction", &["redirect"]).unwrap();
        s.set("AuthRsCertRequire", &["On"]).unwrap();
        s.set("AuthRsCookieSameSite", &["None"]).unwrap();
        assert!(s.check_section(Shell::Apache).is_ok());
        assert!(s.check(Shell::Apache).is_err(), "merged, they conflict");
        s.set("AuthRsMethods", &["ticket", "cert"]).unwrap();
        assert_eq!(
            s.check_section(Shell::Apache).unwrap_err().option,
            "AuthRsCertRequire"
        );
        s.set("AuthRsMethods", &["cert", "ticket"]).unwrap();
        s.set("AuthRsCookieSecure", &["Off"]).unwrap();
        assert_eq!(
            s.check_section(Shell::Apache).unwrap_err().option,
            "AuthRsCookieSameSite"
        );
        s.set("AuthRsCookieSecure", &["On"]).unwrap();
        s.set("AuthRsLoginURL", &["/login"]).unwrap();
        assert!(s.check_section(Shell::Apache).is_ok());
        assert!(s.check(Shell::Apache).is_ok());
    }

    #[test]
    fn conflicts_name_the_option_the_value_and_the_reason() {
        let s = Settings::from_json_str(r#"{"unauth_action": "redirect"}"#).unwrap();
        let e = s.check(Shell::Envoy).unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::Conflict);
        assert_eq!(
            e.to_string(),
            "unauth_action: value \"redirect\" needs login_url to redirect to"
        );
        let mut s = Settings::new();
        s.set("AuthRsCertRequire", &["On"]).unwrap();
        s.set("AuthRsMethods", &["ticket"]).unwrap();
        assert_eq!(s.check(Shell::Apache).unwrap_err().value, "On");
        let s = Settings::from_json_str(r#"{"login_path": "/a", "logout_path": "/a"}"#).unwrap();
        let e = s.check_section(Shell::Envoy).unwrap_err();
        assert_eq!(e.value, "/a");
        assert!(e.to_string().contains("must differ from login_path"), "{e}");
        let s = Settings::from_json_str(r#"{"login_path": "/a", "logout_path": "/b"}"#).unwrap();
        assert!(s.check(Shell::Envoy).is_ok() && s.check_section(Shell::Envoy).is_ok());
    }

    #[test]
    fn login_and_logout_paths_differ() {
        let s = Settings::from_json_str(r#"{"login_path": "/a", "logout_path": "/a"}"#).unwrap();
        let e = s.check(Shell::Envoy).unwrap_err();
        assert_eq!(e.option, "logout_path");
    }
}
