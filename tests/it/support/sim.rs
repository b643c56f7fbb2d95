//! Starts the real `butterfly sim` binary on a free loopback port and stops it on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A running simulator.
pub struct Sim {
    child: Child,
    pub url: String,
    pub client_id: String,
    pub client_secret: String,
    pub api_token: String,
    /// The whole start line (`token_auth`, `private_key_path`, `key_id`, ...).
    pub start: Value,
}

impl Sim {
    /// Starts `butterfly sim --fixture fixtures/orgs/<fixture>` (or an absolute folder) with
    /// extra arguments.
    pub fn start(fixture: &str, extra: &[&str]) -> Sim {
        let fixture = super::root().join("fixtures").join("orgs").join(fixture);
        Sim::start_named(&fixture.to_string_lossy(), extra)
    }

    /// Starts `butterfly sim --fixture <name or folder>` with every rate-limit bucket far above
    /// Okta's quotas: for tests that walk a whole org (quotas are tested in `sim_limits`).
    pub fn start_unlimited(fixture: &str) -> Sim {
        let catalogue = butterfly::catalogue::Catalogue::okta().expect("the catalogue loads");
        let path = std::env::temp_dir().join(format!(
            "butterfly-it-unlimited-{}.toml",
            std::process::id()
        ));
        let mut toml = String::from("[buckets]\n");
        for bucket in catalogue.provider.buckets.keys() {
            toml.push_str(&format!("{bucket:?} = 1000000\n"));
        }
        std::fs::write(&path, toml).expect("write the rate-limit file");
        Sim::start_named(fixture, &["--rate-limits", &path.to_string_lossy()])
    }

    /// Starts `butterfly sim --fixture <name or folder>` with extra arguments.
    pub fn start_named(fixture: &str, extra: &[&str]) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_butterfly"))
            .arg("sim")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--fixture")
            .arg(fixture)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start butterfly sim");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the start line");
        let start: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("start line {line:?}: {e}"));
        let text = |key: &str| {
            start[key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} in {line}"))
                .to_string()
        };
        Sim {
            url: text("url"),
            client_id: text("client_id"),
            client_secret: text("client_secret"),
            api_token: text("api_token"),
            start,
            child,
        }
    }

    /// A client that sends the simulator's SSWS API token.
    pub fn ssws(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "authorization",
            format!("SSWS {}", self.api_token)
                .parse()
                .expect("a valid header"),
        );
        headers.insert(
            "accept",
            "application/json".parse().expect("a valid header"),
        );
        reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("a client")
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `rel="next"` target of a response's `Link` headers, if any.
pub fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers.get_all("link").iter().find_map(|value| {
        let text = value.to_str().ok()?;
        text.split(',').find_map(|part| {
            let (url, rel) = part.split_once(';')?;
            rel.contains("rel=\"next\"").then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
        })
    })
}

impl Sim {
    /// A client-credentials token request with `client_secret_basic` for `scope`.
    pub async fn token(&self, scope: &str) -> reqwest::Response {
        reqwest::Client::new()
            .post(self.at("/oauth2/v1/token"))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
            .send()
            .await
            .expect("token request")
    }

    /// `url` + `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// GET with the API token.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.ssws().get(self.at(path)).send().await.expect("GET")
    }

    /// GET with the API token, the answer as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.get(path).await.json().await.expect("a JSON answer")
    }

    /// DELETE with the API token.
    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.ssws()
            .delete(self.at(path))
            .send()
            .await
            .expect("DELETE")
    }

    /// POST without a body (`Content-Length: 0`, as Okta requires), e.g. a lifecycle call.
    pub async fn post_empty(&self, path: &str) -> reqwest::Response {
        self.ssws()
            .post(self.at(path))
            .header("content-length", "0")
            .send()
            .await
            .expect("POST")
    }

    /// POST a JSON body with the API token.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.ssws()
            .post(self.at(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    /// PUT a JSON body with the API token.
    pub async fn put_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.ssws()
            .put(self.at(path))
            .json(body)
            .send()
            .await
            .expect("PUT")
    }
}

/// A response's status and JSON body (`Null` when it has none).
pub async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}
