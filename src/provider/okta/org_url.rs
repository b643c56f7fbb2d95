//! The address of an Okta org: `--okta-domain` as a user writes it (`acme.okta.com`,
//! `https://acme.okta.com/`, `http://127.0.0.1:8080` for the simulator), checked and reduced
//! to a scheme, host and port. `https` only, except plain `http` to a loopback host.

use std::net::IpAddr;

use reqwest::Url;

use super::error::ClientError;

/// A checked org address: `https://host[:port]` (or `http://` on loopback), no path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgUrl(Url);

impl OrgUrl {
    /// Parses a host or a URL.
    pub fn parse(given: &str) -> Result<OrgUrl, ClientError> {
        let problem = |problem: &str| ClientError::Domain {
            given: given.to_string(),
            problem: problem.to_string(),
        };
        let trimmed = given.trim();
        if trimmed.is_empty() {
            return Err(problem("is empty; give the org's host, e.g. acme.okta.com"));
        }
        let text = if trimmed.contains("://") {
            trimmed.to_string()
        } else {
            format!("https://{trimmed}")
        };
        let url = Url::parse(&text).map_err(|e| problem(&format!("is not a host or URL ({e})")))?;
        let Some(host) = url.host_str() else {
            return Err(problem("has no host"));
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(problem(
                "carries a user name or password; credentials go in OKTA_CLIENT_ID/OKTA_CLIENT_SECRET, OKTA_PRIVATE_KEY or OKTA_API_TOKEN",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() || !matches!(url.path(), "" | "/") {
            return Err(problem(
                "has a path, query or fragment; give only the org's address, e.g. https://acme.okta.com",
            ));
        }
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(host) => {}
            "http" => {
                return Err(problem(
                    "uses plain http; Okta is reached over https (plain http is allowed only to a loopback host such as the simulator)",
                ));
            }
            other => return Err(problem(&format!("uses {other}://; use https://"))),
        }
        let mut base = url.clone();
        base.set_path("");
        Ok(OrgUrl(base))
    }

    /// `scheme://host[:port]`, without a trailing slash.
    pub fn base(&self) -> String {
        self.0.as_str().trim_end_matches('/').to_string()
    }

    /// The host, as Okta names the org (`acme.okta.com`).
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// The org as one name: its host, with the port when it is not the scheme's default
    /// (`acme.okta.com`; `127.0.0.1:40845` for a simulator), so two orgs never share it.
    pub fn name(&self) -> String {
        match self.0.port() {
            Some(port) => format!("{}:{port}", self.host()),
            None => self.host().to_string(),
        }
    }

    /// The org authorization server's token endpoint, the audience of client assertions.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/v1/token", self.base())
    }

    /// An absolute URL for a path of the API (`/api/v1/groups`).
    pub fn join(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base())
    }

    /// Whether `url` points at this org (same scheme, host and port): a `next` link elsewhere
    /// is not followed, since the request would carry the org's token.
    pub fn owns(&self, url: &str) -> bool {
        Url::parse(url).is_ok_and(|u| {
            u.scheme() == self.0.scheme()
                && u.host_str() == self.0.host_str()
                && u.port_or_known_default() == self.0.port_or_known_default()
        })
    }
}

impl std::fmt::Display for OrgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.base())
    }
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_urls_become_one_base() {
        for given in [
            "acme.okta.com",
            "https://acme.okta.com",
            "https://acme.okta.com/",
            " acme.okta.com ",
            "HTTPS://ACME.okta.com",
        ] {
            let url = OrgUrl::parse(given).unwrap();
            assert_eq!(url.base(), "https://acme.okta.com", "{given}");
            assert_eq!(url.host(), "acme.okta.com");
        }
        assert_eq!(
            OrgUrl::parse("acme.okta.com:8443").unwrap().token_url(),
            "https://acme.okta.com:8443/oauth2/v1/token"
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for given in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
        ] {
            assert!(OrgUrl::parse(given).is_ok(), "{given}");
        }
        let error = OrgUrl::parse("http://acme.okta.com")
            .unwrap_err()
            .to_string();
        assert!(error.contains("plain http"), "{error}");
        assert!(OrgUrl::parse("http://10.0.0.1").is_err());
        assert!(OrgUrl::parse("ftp://acme.okta.com").is_err());
    }

    #[test]
    fn paths_queries_and_credentials_are_refused() {
        for given in [
            "https://acme.okta.com/api/v1",
            "https://acme.okta.com/?x=1",
            "https://user:pw@acme.okta.com",
            "",
            "https://",
        ] {
            let error = OrgUrl::parse(given).unwrap_err().to_string();
            assert!(error.contains(&format!("{given:?}")), "{error}");
        }
    }

    #[test]
    fn only_links_into_the_org_are_owned() {
        let url = OrgUrl::parse("acme.okta.com").unwrap();
        assert!(url.owns("https://acme.okta.com/api/v1/users?after=x"));
        assert!(url.owns("https://acme.okta.com:443/api/v1/users"));
        assert!(!url.owns("https://evil.example/api/v1/users"));
        assert!(!url.owns("http://acme.okta.com/api/v1/users"));
        assert!(!url.owns("not a url"));
    }
}
