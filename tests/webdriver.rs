//! A minimal W3C WebDriver client for Debian's chromedriver + headless Chromium: enough to
//! load pages, fill forms and click (plain HTTP/1.0 to chromedriver on 127.0.0.1).

use crate::{free_port, scratch};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process with one headless Chromium session; both end when dropped.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    // chromedriver may keep the connection open: read exactly the announced body.
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let raw = loop {
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let lower = head.to_ascii_lowercase();
            let length = lower
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            let done = match length {
                Some(len) => body.len() >= len,
                None if lower.contains("transfer-encoding: chunked") => body.ends_with("0\r\n\r\n"),
                None => n == 0,
            };
            if done || n == 0 {
                break text;
            }
        } else if n == 0 {
            break text;
        }
    };
    let (head, payload) = raw
        .split_once("\r\n\r\n")
        .ok_or("no HTTP body from chromedriver")?;
    let payload = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(payload)?
    } else {
        payload.to_string()
    };
    let v: Value = serde_json::from_str(&payload).map_err(|e| format!("{e}: {payload}"))?;
    if let Some(err) = v["value"].get("error") {
        return Err(format!(
            "webdriver {method} {path}: {err} {}",
            v["value"]["message"]
        ));
    }
    Ok(v["value"].clone())
}

/// Decodes an HTTP/1.1 chunked body.
fn dechunk(mut s: &str) -> Result<String, String> {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").ok_or("bad chunk")?;
        let n = usize::from_str_radix(size.trim(), 16).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..n).ok_or("short chunk")?);
        s = rest.get(n + 2..).ok_or("short chunk")?;
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium that accepts the test CA's certificates.
    pub fn start() -> Browser {
        let port = free_port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("/usr/bin/chromedriver must be installed (apt-get install chromium-driver)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while http(port, "GET", "/status", None).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = scratch("chromium-profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let v = http(port, "POST", "/session", Some(&caps)).expect("start a Chromium session");
        let session = v["sessionId"].as_str().expect("sessionId").to_string();
        Browser {
            driver,
            port,
            session,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let full = format!("/session/{}{path}", self.session);
        http(self.port, method, &full, body.as_ref()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Navigates and waits for the page load.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.call("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits (up to 10 s) until the current URL satisfies `want` and the document has loaded;
    /// returns the URL. A click that navigates may return before the new page is there.
    pub fn wait_for_url(&self, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = self.url();
            let ready = self.call(
                "POST",
                "/execute/sync",
                Some(json!({"script": "return document.readyState", "args": []})),
            );
            if want(&url) && ready.as_str() == Some("complete") {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting; the browser is at {url}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The page's HTML as the browser sees it now.
    pub fn source(&self) -> String {
        self.call("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn element(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_string()
    }

    /// Replaces the value of the element matching `css` with `text`.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.call("POST", &format!("/element/{id}/clear"), Some(json!({})));
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Clicks the element matching `css` (a submit button waits for the next page).
    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.call("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// The browser's cookies for the current page, as (name, value).
    pub fn cookies(&self) -> Vec<(String, String)> {
        let v = self.call("GET", "/cookie", None);
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        (
                            c["name"].as_str().unwrap_or_default().to_string(),
                            c["value"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
