//! curl as the real HTTP client of the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One request to make.
#[derive(Debug, Clone, Default)]
pub struct Request {
    url: String,
    method: Option<String>,
    headers: Vec<String>,
    body: Option<String>,
    cert: Option<(PathBuf, PathBuf)>,
    cacert: Option<PathBuf>,
    path_as_is: bool,
    request_target: Option<String>,
    interface: Option<String>,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// Response body as text.
    pub body: String,
}

impl Response {
    /// The login page's headers, the same from both shells: never framed by another site
    /// (clickjacking the password form), never cached.
    pub fn assert_login_page_headers(&self) {
        assert_eq!(self.header("x-frame-options"), Some("DENY"), "{self:?}");
        assert_eq!(
            self.header("content-security-policy"),
            Some("frame-ancestors 'none'"),
            "{self:?}"
        );
        assert_eq!(self.header("cache-control"), Some("no-store"), "{self:?}");
    }

    /// Every value of header `name` (lower-case, as stored), in order.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of cookie `name` from the Set-Cookie headers.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .filter_map(|(_, v)| v.split(';').next())
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.to_string())
    }

    /// The line `KEY=value` of the CGI echo script's output, if present.
    pub fn env(&self, key: &str) -> Option<&str> {
        self.body
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
    }
}

impl Request {
    /// A GET of `url`.
    pub fn get(url: impl Into<String>) -> Request {
        Request {
            url: url.into(),
            ..Request::default()
        }
    }

    /// A POST of a form body.
    pub fn post_form(url: impl Into<String>, body: impl Into<String>) -> Request {
        Request {
            url: url.into(),
            method: Some("POST".into()),
            headers: vec!["Content-Type: application/x-www-form-urlencoded".into()],
            body: Some(body.into()),
            ..Request::default()
        }
    }

    /// Uses another method (`PUT`, `DELETE`, …).
    pub fn method(mut self, m: &str) -> Request {
        self.method = Some(m.to_string());
        self
    }

    /// Adds a request header (`Name: value`).
    pub fn header(mut self, h: impl Into<String>) -> Request {
        self.headers.push(h.into());
        self
    }

    /// Sends a cookie.
    pub fn cookie(self, name: &str, value: &str) -> Request {
        self.header(format!("Cookie: {name}={value}"))
    }

    /// Presents client certificate `name` (`name.crt`, `name.key`) from `dir`.
    pub fn client_cert(mut self, dir: &Path, name: &str) -> Request {
        self.cert = Some((
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        ));
        self
    }

    /// Sends the URL's path as written (`--path-as-is`: no dot segments resolved by curl).
    pub fn path_as_is(mut self) -> Request {
        self.path_as_is = true;
        self
    }

    /// Sends `target` as the request line's target (`--request-target`), e.g. the absolute form
    /// `https://host/path?query` a proxy-style client sends; the URL still says where to connect.
    pub fn request_target(mut self, target: impl Into<String>) -> Request {
        self.request_target = Some(target.into());
        self
    }

    /// Connects from local address `ip` (curl `--interface`), e.g. `127.0.0.2`: another client
    /// on loopback, as the server sees it.
    pub fn from_address(mut self, ip: &str) -> Request {
        self.interface = Some(ip.to_string());
        self
    }

    /// Trusts this CA for the server certificate.
    pub fn ca(mut self, cacert: &Path) -> Request {
        self.cacert = Some(cacert.to_path_buf());
        self
    }

    /// Runs curl and parses its answer; panics (fails the test) if curl itself fails.
    pub fn send(&self) -> Response {
        match self.run() {
            Ok(r) => r,
            Err(e) => panic!("curl {} failed: {e}", self.url),
        }
    }

    /// As [`Request::send`], `None` when curl itself fails (connection refused, TLS error, …).
    pub fn try_send(&self) -> Option<Response> {
        self.run().ok()
    }

    fn run(&self) -> Result<Response, String> {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "20", "-D", "-", "--noproxy", "*"]);
        if let Some(m) = &self.method {
            cmd.args(["-X", m]);
        }
        if self.path_as_is {
            cmd.arg("--path-as-is");
        }
        if let Some(target) = &self.request_target {
            cmd.arg("--request-target").arg(target);
        }
        if let Some(ip) = &self.interface {
            cmd.arg("--interface").arg(ip);
        }
        // Long headers (a 10 MB cookie) exceed the kernel's argument limit: pass them in a file.
        let header_file = if self.headers.iter().any(|h| h.len() > 16 * 1024) {
            // In a directory this call made: never through a name someone planted in /tmp.
            let path = crate::scratch("curl-headers").join("headers");
            std::fs::write(&path, self.headers.join("\r\n") + "\r\n").expect("write header file");
            cmd.arg("-H").arg(format!("@{}", path.display()));
            Some(path)
        } else {
            for h in &self.headers {
                cmd.args(["-H", h]);
            }
            None
        };
        if let Some(b) = &self.body {
            cmd.args(["--data-binary", b]);
        }
        if let Some((crt, key)) = &self.cert {
            cmd.arg("--cert").arg(crt).arg("--key").arg(key);
        }
        match &self.cacert {
            Some(ca) => cmd.arg("--cacert").arg(ca),
            None => cmd.arg("-k"),
        };
        cmd.arg(&self.url);
        let out = cmd.output().expect("curl must be installed");
        if let Some(dir) = header_file.as_deref().and_then(std::path::Path::parent) {
            let _ = std::fs::remove_dir_all(dir);
        }
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(parse(&String::from_utf8_lossy(&out.stdout)))
    }
}

fn parse(raw: &str) -> Response {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_string(),
    }
}
