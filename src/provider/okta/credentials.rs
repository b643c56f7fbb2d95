//! How Butterfly proves who it is to an org: an OAuth 2.0 service client with a client secret
//! (`client_secret_basic`, the OIN API service integration) or a private key
//! (`private_key_jwt`, a customer's API Services app), or an SSWS API token as a fallback.
//! Read from the environment (`OKTA_CLIENT_ID`, `OKTA_CLIENT_SECRET`, `OKTA_PRIVATE_KEY`,
//! `OKTA_KEY_ID`, `OKTA_API_TOKEN`), never from `butterfly.toml`.

use std::path::Path;
use std::sync::Arc;

use super::error::ClientError;
use super::signing::SigningKey;

/// A secret string that never shows in `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The credentials of one org connection.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// `client_secret_basic`.
    ClientSecret { client_id: String, secret: Secret },
    /// `private_key_jwt`.
    PrivateKey {
        client_id: String,
        key: Arc<SigningKey>,
    },
    /// `Authorization: SSWS <token>`.
    ApiToken(Secret),
}

/// The environment variables credentials are read from.
pub const ENV_VARS: [&str; 5] = [
    "OKTA_CLIENT_ID",
    "OKTA_CLIENT_SECRET",
    "OKTA_PRIVATE_KEY",
    "OKTA_KEY_ID",
    "OKTA_API_TOKEN",
];

impl Credentials {
    /// Reads credentials through `var` (the process environment, or a map in tests).
    /// `OKTA_PRIVATE_KEY` is a file path, or the PEM or JWK text itself.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Credentials, ClientError> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let client_id = get("OKTA_CLIENT_ID");
        let secret = get("OKTA_CLIENT_SECRET");
        let private_key = get("OKTA_PRIVATE_KEY");
        let api_token = get("OKTA_API_TOKEN");
        let problem = |text: &str| Err(ClientError::Credentials(text.to_string()));
        match (client_id, secret, private_key, api_token) {
            (Some(_), Some(_), Some(_), _) => problem(
                "both OKTA_CLIENT_SECRET and OKTA_PRIVATE_KEY are set; set the one the app authenticates with",
            ),
            (Some(client_id), Some(secret), None, _) => Ok(Credentials::ClientSecret {
                client_id: client_id.trim().to_string(),
                secret: Secret::new(secret.trim()),
            }),
            (Some(client_id), None, Some(key), _) => {
                let (text, source) = key_text(&key)?;
                let mut key = SigningKey::parse(&text, &source)?;
                if let Some(kid) = get("OKTA_KEY_ID") {
                    key.key_id = Some(kid.trim().to_string());
                }
                Ok(Credentials::PrivateKey {
                    client_id: client_id.trim().to_string(),
                    key: Arc::new(key),
                })
            }
            (Some(_), None, None, _) => problem(
                "OKTA_CLIENT_ID is set without OKTA_CLIENT_SECRET (client_secret_basic) or OKTA_PRIVATE_KEY (private_key_jwt)",
            ),
            (None, Some(_), _, _) | (None, _, Some(_), _) => problem(
                "OKTA_CLIENT_SECRET or OKTA_PRIVATE_KEY is set without OKTA_CLIENT_ID, the app's client id (0oa…)",
            ),
            (None, None, None, Some(token)) => Ok(Credentials::ApiToken(Secret::new(token.trim()))),
            (None, None, None, None) => problem(
                "none given: set OKTA_CLIENT_ID with OKTA_CLIENT_SECRET or OKTA_PRIVATE_KEY (an OAuth 2.0 service app), or OKTA_API_TOKEN",
            ),
        }
    }

    /// The OAuth client id, when the credentials are a client's.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Credentials::ClientSecret { client_id, .. }
            | Credentials::PrivateKey { client_id, .. } => Some(client_id),
            Credentials::ApiToken(_) => None,
        }
    }

    /// How they authenticate, for messages (`client_secret_basic`, `private_key_jwt`, `SSWS`).
    pub fn method(&self) -> &'static str {
        match self {
            Credentials::ClientSecret { .. } => "client_secret_basic",
            Credentials::PrivateKey { .. } => "private_key_jwt",
            Credentials::ApiToken(_) => "SSWS API token",
        }
    }
}

/// The key text and a name for errors: the file's content, or the variable's value itself.
fn key_text(value: &str) -> Result<(String, String), ClientError> {
    let trimmed = value.trim_start();
    if trimmed.starts_with("-----BEGIN") || trimmed.starts_with('{') {
        return Ok((value.to_string(), "OKTA_PRIVATE_KEY".to_string()));
    }
    let path = Path::new(value.trim());
    let text = std::fs::read_to_string(path).map_err(|e| ClientError::Key {
        source_name: path.display().to_string(),
        problem: format!("cannot be read ({e})"),
    })?;
    Ok((text, path.display().to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Credentials, ClientError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Credentials::from_env(|name| map.get(name).cloned())
    }

    #[test]
    fn each_method_is_read_from_its_variables() {
        let basic = from(&[("OKTA_CLIENT_ID", "0oa1"), ("OKTA_CLIENT_SECRET", "s3cr3t")]).unwrap();
        assert_eq!(basic.method(), "client_secret_basic");
        assert_eq!(basic.client_id(), Some("0oa1"));
        assert!(!format!("{basic:?}").contains("s3cr3t"));

        let pem = std::env::current_dir()
            .unwrap()
            .join("fixtures/keys/rsa-private.pem");
        let jwt = from(&[
            ("OKTA_CLIENT_ID", "0oa1"),
            ("OKTA_PRIVATE_KEY", pem.to_str().unwrap()),
            ("OKTA_KEY_ID", "kid-1"),
        ])
        .unwrap();
        let Credentials::PrivateKey { key, .. } = &jwt else {
            panic!("{jwt:?}")
        };
        assert_eq!(key.key_id.as_deref(), Some("kid-1"));
        let inline = std::fs::read_to_string(&pem).unwrap();
        assert!(from(&[("OKTA_CLIENT_ID", "0oa1"), ("OKTA_PRIVATE_KEY", &inline)]).is_ok());

        let token = from(&[("OKTA_API_TOKEN", "00abc")]).unwrap();
        assert_eq!(token.method(), "SSWS API token");
        assert!(!format!("{token:?}").contains("00abc"));
    }

    #[test]
    fn incomplete_or_conflicting_variables_are_explained() {
        for (vars, expect) in [
            (vec![], "none given"),
            (
                vec![("OKTA_CLIENT_ID", "0oa1")],
                "without OKTA_CLIENT_SECRET",
            ),
            (vec![("OKTA_CLIENT_SECRET", "x")], "without OKTA_CLIENT_ID"),
            (
                vec![
                    ("OKTA_CLIENT_ID", "0oa1"),
                    ("OKTA_CLIENT_SECRET", "x"),
                    ("OKTA_PRIVATE_KEY", "k"),
                ],
                "both",
            ),
            (
                vec![
                    ("OKTA_CLIENT_ID", "0oa1"),
                    ("OKTA_PRIVATE_KEY", "/no/such/key.pem"),
                ],
                "/no/such/key.pem: cannot be read",
            ),
        ] {
            let error = from(&vars).unwrap_err().to_string();
            assert!(error.contains(expect), "{vars:?}: {error}");
        }
    }
}
