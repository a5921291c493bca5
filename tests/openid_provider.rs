//! The real OpenID 2.0 provider of the tests: python3-openid's server scripted in
//! `tests/openid_op.py` (approves `/id/<name>`, declines `/id/cancel`, `/deleg/<name>`
//! delegates to `/id/<name>`; 1.1, XRDS, Yadis, setup_needed and bogus-delegation pages: see
//! the script), on a free 127.0.0.1 port. `/log` lists the requests its endpoint received.

use crate::{free_port, workspace};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The provider process; killed when dropped.
pub struct Provider {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Child,
}

impl Provider {
    /// Starts it under Debian's `/usr/bin/python3` (where python3-openid is installed).
    pub fn start() -> Provider {
        let port = free_port();
        let child = Command::new("/usr/bin/python3")
            .arg(workspace().join("tests/openid_op.py"))
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("/usr/bin/python3 with python3-openid (apt-get install python3-openid)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the OpenID provider did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Provider { port, child }
    }

    /// `http://127.0.0.1:<port>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// The identity URL of `name` (`/id/<name>`).
    pub fn identity(&self, name: &str) -> String {
        self.url(&format!("id/{name}"))
    }

    /// The requests the endpoint received so far, oldest first (mode, ns, realm, assoc_handle,
    /// identity, claimed_id, return_to), and the pages discovery fetched (mode `discover`,
    /// path).
    pub fn log(&self) -> Vec<serde_json::Value> {
        let r = crate::curl::Request::get(self.url("log")).send();
        assert_eq!(r.status, 200, "provider log: {r:?}");
        r.body
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    /// The last request with `openid.mode=<mode>` the endpoint received; panics when none.
    pub fn last(&self, mode: &str) -> serde_json::Value {
        self.log()
            .into_iter()
            .rev()
            .find(|e| e["mode"].as_str() == Some(mode))
            .unwrap_or_else(|| panic!("no {mode} at the provider"))
    }

    /// How many requests with `openid.mode=<mode>` the endpoint received (`discover`: pages
    /// fetched by discovery).
    pub fn count(&self, mode: &str) -> usize {
        self.log()
            .iter()
            .filter(|e| e["mode"].as_str() == Some(mode))
            .count()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
