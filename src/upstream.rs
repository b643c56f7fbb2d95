//! DESIGN.md's rule for outbound URLs a user gives the server (Okta domains, and later OpenID
//! issuers, webhooks, git remotes): `https` only, and the host must not be, or resolve to, a
//! loopback, private, link-local, shared (CGNAT), unspecified, multicast or cloud-metadata
//! address. Checked once when the URL is given (`check`) and again at every connection through
//! the HTTP client's resolver ([`GuardedResolver`]), so a name that later resolves somewhere
//! else (DNS rebinding) is refused where it matters. `--allow-insecure-upstreams` (tests, the
//! simulator) turns the rule off.
//!
//! Must not follow redirects itself: the clients that use it disable them (a redirect would
//! carry credentials to another host).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;

/// Whether the rule is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamPolicy {
    /// `--allow-insecure-upstreams`: plain http and any address (tests and the simulator).
    pub allow_insecure: bool,
}

/// Why an upstream URL is refused; each names the URL or host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("`{url}` is not a URL: {problem}")]
    BadUrl { url: String, problem: String },
    #[error(
        "`{url}` does not use https: the server only connects to https upstreams (start it with --allow-insecure-upstreams for a test org)"
    )]
    NotHttps { url: String },
    #[error(
        "`{host}` is refused: it {resolves}{address}, {why} (start the server with --allow-insecure-upstreams for a test org)"
    )]
    Forbidden {
        host: String,
        /// `is ` for a literal address, `resolves to ` for a name.
        resolves: &'static str,
        address: IpAddr,
        why: &'static str,
    },
    #[error("`{host}` could not be resolved: {problem}")]
    Resolve { host: String, problem: String },
}

/// Why `ip` may not be an upstream, if it may not: loopback, private, link-local, metadata …
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let segments = v6.segments();
            if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("the unspecified address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else if segments[0] & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                Some("a cloud metadata address")
            } else if segments[0] & 0xfe00 == 0xfc00 {
                Some("a private (unique local) address")
            } else if segments[0] == 0x64 && segments[1] == 0xff9b {
                // NAT64: the embedded IPv4 address decides.
                let v4 = Ipv4Addr::new(
                    (segments[6] >> 8) as u8,
                    segments[6] as u8,
                    (segments[7] >> 8) as u8,
                    segments[7] as u8,
                );
                forbidden_v4(v4)
            } else {
                None
            }
        }
    }
}

fn forbidden_v4(v4: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, d] = v4.octets();
    if v4 == Ipv4Addr::new(169, 254, 169, 254) || (a == 100 && b == 100 && c == 100 && d == 200) {
        // AWS, GCP, Azure (169.254.169.254) and Alibaba (100.100.100.200) instance metadata.
        Some("a cloud metadata address")
    } else if v4.is_loopback() {
        Some("a loopback address")
    } else if v4.is_private() {
        Some("a private address")
    } else if v4.is_link_local() {
        Some("a link-local address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else if v4.is_unspecified() || a == 0 {
        Some("the unspecified address")
    } else if v4.is_multicast() || v4.is_broadcast() || a >= 240 {
        Some("a multicast, broadcast or reserved address")
    } else {
        None
    }
}

impl UpstreamPolicy {
    pub fn strict() -> UpstreamPolicy {
        UpstreamPolicy {
            allow_insecure: false,
        }
    }

    /// Checks a URL as given: parsed, `https`, and not a forbidden literal address. Names are
    /// checked when connecting (`check_resolved`, and the client's resolver).
    pub fn check_url(&self, text: &str) -> Result<Url, UpstreamError> {
        let url = Url::parse(text).map_err(|e| UpstreamError::BadUrl {
            url: text.to_string(),
            problem: e.to_string(),
        })?;
        if self.allow_insecure {
            return Ok(url);
        }
        if url.scheme() != "https" {
            return Err(UpstreamError::NotHttps {
                url: text.to_string(),
            });
        }
        let host = url.host_str().unwrap_or_default();
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>()
            && let Some(why) = forbidden(ip)
        {
            return Err(UpstreamError::Forbidden {
                host: host.to_string(),
                resolves: "is ",
                address: ip,
                why,
            });
        }
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        if name == "localhost" || name.ends_with(".localhost") {
            return Err(UpstreamError::Forbidden {
                host: host.to_string(),
                resolves: "is ",
                address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                why: "a loopback address",
            });
        }
        Ok(url)
    }

    /// Checks a URL and every address its host resolves to now.
    pub async fn check_resolved(&self, text: &str) -> Result<Url, UpstreamError> {
        let url = self.check_url(text)?;
        if self.allow_insecure {
            return Ok(url);
        }
        let host = url.host_str().unwrap_or_default().to_string();
        let port = url.port_or_known_default().unwrap_or(443);
        resolve_checked(&host, port).await?;
        Ok(url)
    }

    /// The resolver HTTP clients of user-given upstreams use; `None` when the rule is off.
    pub fn resolver(&self) -> Option<Arc<GuardedResolver>> {
        (!self.allow_insecure).then(|| Arc::new(GuardedResolver))
    }
}

/// Resolves `host`, refusing it when any of its addresses is forbidden (a name that mixes a
/// public and a private address is refused, not filtered: it is someone's trick).
async fn resolve_checked(host: &str, port: u16) -> Result<Vec<SocketAddr>, UpstreamError> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| UpstreamError::Resolve {
            host: host.to_string(),
            problem: e.to_string(),
        })?
        .collect();
    if addresses.is_empty() {
        return Err(UpstreamError::Resolve {
            host: host.to_string(),
            problem: "no addresses".into(),
        });
    }
    for address in &addresses {
        if let Some(why) = forbidden(address.ip()) {
            return Err(UpstreamError::Forbidden {
                host: host.to_string(),
                resolves: "resolves to ",
                address: address.ip(),
                why,
            });
        }
    }
    Ok(addresses)
}

/// A `reqwest` resolver that applies the rule at every connection.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addresses = resolve_checked(&host, 0).await?;
            let iter: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(iter)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> String {
        UpstreamPolicy::strict()
            .check_url(url)
            .expect_err(url)
            .to_string()
    }

    #[test]
    fn every_forbidden_kind_of_literal_address_is_refused_naming_why() {
        for (url, why) in [
            ("https://127.0.0.1", "loopback"),
            ("https://[::1]:8443", "loopback"),
            ("https://localhost", "loopback"),
            ("https://api.localhost", "loopback"),
            ("https://LOCALHOST.", "loopback"),
            ("https://10.1.2.3", "private"),
            ("https://172.16.0.9", "private"),
            ("https://192.168.1.1", "private"),
            ("https://[fd12::1]", "private"),
            ("https://169.254.10.1", "link-local"),
            ("https://[fe80::1]", "link-local"),
            ("https://169.254.169.254", "metadata"),
            ("https://[fd00:ec2::254]", "metadata"),
            ("https://100.100.100.200", "metadata"),
            ("https://100.64.0.1", "carrier-grade"),
            ("https://0.0.0.0", "unspecified"),
            ("https://[::ffff:127.0.0.1]", "loopback"),
            ("https://[64:ff9b::a00:1]", "private"),
            ("https://224.0.0.1", "multicast"),
        ] {
            let message = refused(url);
            assert!(message.contains(why), "{url}: {message}");
            assert!(message.contains("--allow-insecure-upstreams"), "{message}");
        }
    }

    #[test]
    fn plain_http_is_refused_and_public_https_passes() {
        assert!(refused("http://acme.okta.com").contains("does not use https"));
        assert!(refused("not a url").contains("is not a URL"));
        let policy = UpstreamPolicy::strict();
        assert!(policy.check_url("https://acme.okta.com").is_ok());
        assert!(policy.check_url("https://8.8.8.8").is_ok());
        let open = UpstreamPolicy {
            allow_insecure: true,
        };
        assert!(open.check_url("http://127.0.0.1:8080").is_ok());
        assert!(open.resolver().is_none());
        assert!(policy.resolver().is_some());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_when_connecting() {
        // A name is checked by what it resolves to, whatever it is called.
        let error = resolve_checked("localhost", 443).await.unwrap_err();
        assert!(error.to_string().contains("resolves to"), "{error}");
        assert!(error.to_string().contains("loopback"), "{error}");
    }
}
