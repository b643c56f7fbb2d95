//! A team's org connections as the server keeps them: a row in the store, a sealed credential,
//! and an org repository in the data directory (`repos/team-<id>/connection-<id>`). Create,
//! edit, delete, Test Connection, and opening one as an `ops::connection::Connection` for a
//! backup. Every change is recorded in the audit trail with its actor.
//!
//! Each function takes the team from the signed-in member, never from the request: a
//! connection id of another team is "not found".

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::catalogue::Catalogue;
use crate::config::OrgConfig;
use crate::ops::connection::{self, Connection, ConnectionReport};
use crate::provider::okta::signing::SigningKey;
use crate::provider::okta::{Client, ClientError, Credentials, OrgUrl, Secret};
use crate::store::accounts::{TeamId, User};
use crate::store::audit::AuditEntry;
use crate::store::connections::{AuthMethod, ConnectionFields, ConnectionId, OrgConnection};
use crate::store::{Store, StoreError, now};
use crate::upstream::{UpstreamError, UpstreamPolicy};

/// What the server's use cases need: the store, the catalogue, the data directory and the
/// upstream rule.
#[derive(Clone)]
pub struct Installation {
    pub store: Store,
    pub catalogue: &'static Catalogue,
    pub data_dir: PathBuf,
    pub upstream: UpstreamPolicy,
}

/// Who does something, for the audit trail.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: User,
    /// The client's address as the server saw it.
    pub ip: String,
}

impl Actor {
    pub fn entry(&self, action: &str, target: String, detail: String) -> AuditEntry {
        AuditEntry {
            user: Some(self.user.id),
            actor: self.user.email.to_string(),
            action: action.to_string(),
            target,
            detail,
            ip: self.ip.clone(),
        }
    }
}

/// A connection as a person fills it in.
#[derive(Debug, Clone, Default)]
pub struct ConnectionInput {
    pub name: String,
    pub okta_domain: String,
    pub client_id: String,
    /// `client_secret` or `private_key`.
    pub auth_method: String,
    /// The client secret or the private key (PEM or JWK); empty on an edit keeps the old one.
    pub credential: String,
}

/// Why a connection use case failed; each names the field or the connection.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionsError {
    #[error("{field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    #[error("okta_domain: {0}")]
    Upstream(#[from] UpstreamError),
    #[error("no connection {0} in this team")]
    NotFound(i64),
    #[error(
        "the {plan} plan allows {limit} connection(s) and the team has {count}: remove one, or ask the installation's operator for a larger plan"
    )]
    PlanLimit {
        plan: String,
        limit: i64,
        count: i64,
    },
    #[error("the org repository {}: {problem}", path.display())]
    Repository { path: PathBuf, problem: String },
    #[error("connecting to the org: {0}")]
    Client(#[from] ClientError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The most connections a team on `plan` may have (seed 003), `None` for no limit.
pub fn connection_limit(plan: &str) -> Option<i64> {
    match plan {
        "free" => Some(1),
        "standard" => Some(2),
        _ => None,
    }
}

/// What a team on `plan` keeps of each connection's snapshots (seed 003: Free keeps its one
/// backup, 7 days at most but the newest always; Standard 90 days; Business everything).
pub fn retention_policy(plan: &str) -> crate::snapshot::retention::Policy {
    const DAY: i64 = 86_400;
    let (max_age_secs, max_snapshots) = match plan {
        "free" => (Some(7 * DAY), Some(1)),
        "standard" => (Some(90 * DAY), None),
        _ => (None, None),
    };
    crate::snapshot::retention::Policy {
        max_age_secs,
        max_snapshots,
    }
}

/// The org repository of a connection.
pub fn repository_dir(data_dir: &Path, team: TeamId, id: ConnectionId) -> PathBuf {
    data_dir
        .join("repos")
        .join(format!("team-{}", team.0))
        .join(format!("connection-{}", id.0))
}

fn invalid(field: &'static str, problem: impl Into<String>) -> ConnectionsError {
    ConnectionsError::Invalid {
        field,
        problem: problem.into(),
    }
}

/// The checked fields and the credential bytes to seal (`None`: keep the stored one).
fn check_input(
    input: &ConnectionInput,
    upstream: UpstreamPolicy,
    credential_required: bool,
) -> Result<(ConnectionFields, Option<Vec<u8>>), ConnectionsError> {
    let name = input.name.trim();
    if name.is_empty() {
        return Err(invalid("name", "is empty; name the org, e.g. Production"));
    }
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid(
            "name",
            "must be at most 100 characters, without control characters",
        ));
    }
    let org = OrgUrl::parse(&input.okta_domain).map_err(|e| match e {
        ClientError::Domain { problem, .. } => invalid("okta_domain", problem),
        other => invalid("okta_domain", other.to_string()),
    })?;
    upstream.check_url(&org.base())?;
    let client_id = input.client_id.trim();
    if client_id.is_empty() || client_id.len() > 200 || client_id.contains(char::is_whitespace) {
        return Err(invalid(
            "client_id",
            "must be the API Services app's client id (0oa…), without spaces",
        ));
    }
    let auth_method = AuthMethod::parse(input.auth_method.trim()).ok_or_else(|| {
        invalid(
            "auth_method",
            format!(
                "`{}` is not client_secret or private_key",
                input.auth_method
            ),
        )
    })?;
    let credential = input.credential.trim();
    let credential = if credential.is_empty() {
        if credential_required {
            return Err(invalid(
                "credential",
                match auth_method {
                    AuthMethod::ClientSecret => "the client secret is empty",
                    AuthMethod::PrivateKey => "the private key (PEM or JWK) is empty",
                },
            ));
        }
        None
    } else {
        if auth_method == AuthMethod::PrivateKey {
            SigningKey::parse(credential, "the private key")
                .map_err(|e| invalid("credential", e.to_string()))?;
        }
        Some(credential.as_bytes().to_vec())
    };
    Ok((
        ConnectionFields {
            name: name.to_string(),
            okta_domain: org.base(),
            client_id: client_id.to_string(),
            auth_method,
        },
        credential,
    ))
}

fn target(connection: &OrgConnection) -> String {
    format!("connection {} ({})", connection.id.0, connection.name)
}

impl Installation {
    /// The team's connection `id`, or `NotFound`.
    pub async fn connection(
        &self,
        team: TeamId,
        id: ConnectionId,
    ) -> Result<OrgConnection, ConnectionsError> {
        self.store
            .connection(team, id)
            .await?
            .ok_or(ConnectionsError::NotFound(id.0))
    }

    /// Creates a connection of the actor's team and its org repository; refused beyond the
    /// team plan's limit.
    pub async fn create_connection(
        &self,
        actor: &Actor,
        input: &ConnectionInput,
    ) -> Result<OrgConnection, ConnectionsError> {
        let team = actor.user.team;
        let (fields, credential) = check_input(input, self.upstream, true)?;
        let plan = self.store.team(team).await?.plan;
        if let Some(limit) = connection_limit(&plan) {
            let count = self.store.count_connections(team).await?;
            if count >= limit {
                return Err(ConnectionsError::PlanLimit { plan, limit, count });
            }
        }
        let credential = credential.unwrap_or_default();
        let made = self
            .store
            .create_connection(team, &fields, &credential)
            .await?;
        let dir = repository_dir(&self.data_dir, team, made.id);
        let catalogue = self.catalogue;
        let domain = made.okta_domain.clone();
        let init_dir = dir.clone();
        let initialised = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&init_dir).map_err(|e| e.to_string())?;
            crate::ops::init::init(catalogue, &init_dir, &domain, "main").map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        if let Err(problem) = initialised {
            self.store.delete_connection(team, made.id).await?;
            return Err(ConnectionsError::Repository { path: dir, problem });
        }
        self.store
            .audit(
                team,
                &actor.entry(
                    "connection.create",
                    target(&made),
                    format!(
                        "{} with client {} ({})",
                        made.okta_domain,
                        made.client_id,
                        made.auth_method.as_str()
                    ),
                ),
                now(),
            )
            .await?;
        Ok(made)
    }

    /// Changes a connection's name, client id and method, and its credential when one is given.
    /// The org cannot change: its snapshots belong to that org.
    pub async fn update_connection(
        &self,
        actor: &Actor,
        id: ConnectionId,
        input: &ConnectionInput,
    ) -> Result<OrgConnection, ConnectionsError> {
        let team = actor.user.team;
        let before = self.connection(team, id).await?;
        let (fields, credential) = check_input(input, self.upstream, false)?;
        if fields.okta_domain != before.okta_domain {
            return Err(invalid(
                "okta_domain",
                format!(
                    "cannot change from {} to {}: the snapshots of this connection belong to {}; create a new connection for the other org",
                    before.okta_domain, fields.okta_domain, before.okta_domain
                ),
            ));
        }
        if fields.auth_method != before.auth_method && credential.is_none() {
            return Err(invalid(
                "credential",
                "give the new credential when changing how the app authenticates",
            ));
        }
        if !self
            .store
            .update_connection(team, id, &fields, credential.as_deref())
            .await?
        {
            return Err(ConnectionsError::NotFound(id.0));
        }
        let after = self.connection(team, id).await?;
        let mut changed = Vec::new();
        if before.name != after.name {
            changed.push(format!("name {} → {}", before.name, after.name));
        }
        if before.client_id != after.client_id {
            changed.push(format!(
                "client id {} → {}",
                before.client_id, after.client_id
            ));
        }
        if before.auth_method != after.auth_method {
            changed.push(format!(
                "method {} → {}",
                before.auth_method.as_str(),
                after.auth_method.as_str()
            ));
        }
        if credential.is_some() {
            changed.push("credential replaced".into());
        }
        self.store
            .audit(
                team,
                &actor.entry("connection.update", target(&after), changed.join("; ")),
                now(),
            )
            .await?;
        Ok(after)
    }

    /// Deletes a connection; its org repository is kept (moved aside, named in the audit
    /// trail) or removed, as the person chose.
    pub async fn delete_connection(
        &self,
        actor: &Actor,
        id: ConnectionId,
        keep_repository: bool,
    ) -> Result<Option<PathBuf>, ConnectionsError> {
        let team = actor.user.team;
        let connection = self.connection(team, id).await?;
        let dir = repository_dir(&self.data_dir, team, id);
        let kept = if dir.exists() {
            if keep_repository {
                let aside = self.data_dir.join("repos").join("deleted").join(format!(
                    "team-{}-connection-{}-{}",
                    team.0,
                    id.0,
                    now()
                ));
                let (from, to) = (dir.clone(), aside.clone());
                tokio::task::spawn_blocking(move || {
                    if let Some(parent) = to.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::rename(&from, &to)
                })
                .await
                .map_err(|e| ConnectionsError::Repository {
                    path: dir.clone(),
                    problem: e.to_string(),
                })?
                .map_err(|e| ConnectionsError::Repository {
                    path: dir.clone(),
                    problem: format!("could not move it aside: {e}"),
                })?;
                Some(aside)
            } else {
                let from = dir.clone();
                tokio::task::spawn_blocking(move || std::fs::remove_dir_all(&from))
                    .await
                    .map_err(|e| ConnectionsError::Repository {
                        path: dir.clone(),
                        problem: e.to_string(),
                    })?
                    .map_err(|e| ConnectionsError::Repository {
                        path: dir.clone(),
                        problem: format!("could not remove it: {e}"),
                    })?;
                None
            }
        } else {
            None
        };
        self.store.delete_connection(team, id).await?;
        let detail = match &kept {
            Some(path) => format!("repository kept at {}", path.display()),
            None => "repository removed".to_string(),
        };
        self.store
            .audit(
                team,
                &actor.entry("connection.delete", target(&connection), detail),
                now(),
            )
            .await?;
        Ok(kept)
    }

    /// Opens the connection for a backup or a probe: its repository's settings, its sealed
    /// credential, and a client whose every connection obeys the upstream rule (checked now
    /// too, so a name that resolves somewhere forbidden is refused before any request).
    pub async fn open(
        &self,
        team: TeamId,
        id: ConnectionId,
    ) -> Result<(OrgConnection, Connection), ConnectionsError> {
        let row = self.connection(team, id).await?;
        self.upstream.check_resolved(&row.okta_domain).await?;
        let root = repository_dir(&self.data_dir, team, id);
        let catalogue = self.catalogue;
        let config_root = root.clone();
        let config = tokio::task::spawn_blocking(move || OrgConfig::load(&config_root, catalogue))
            .await
            .map_err(|e| ConnectionsError::Repository {
                path: root.clone(),
                problem: e.to_string(),
            })?
            .map_err(|e| ConnectionsError::Repository {
                path: root.clone(),
                problem: e.to_string(),
            })?;
        let credential = self.store.connection_credential(team, id).await?;
        let text = String::from_utf8(credential.expose().to_vec())
            .map_err(|_| invalid("credential", "the stored credential is not text"))?;
        let credentials = match row.auth_method {
            AuthMethod::ClientSecret => Credentials::ClientSecret {
                client_id: row.client_id.clone(),
                secret: Secret::new(text),
            },
            AuthMethod::PrivateKey => Credentials::PrivateKey {
                client_id: row.client_id.clone(),
                key: Arc::new(SigningKey::parse(&text, "the connection's private key")?),
            },
        };
        let client: Client =
            connection::client_with(&config, catalogue, credentials, self.upstream.resolver())?;
        Ok((
            row,
            Connection {
                root,
                config,
                client: Arc::new(client),
            },
        ))
    }

    /// The kinds a backup of `connection` reads: every kind but those its `butterfly.toml`
    /// leaves out.
    pub fn kinds(&self, connection: &Connection) -> BTreeSet<String> {
        let selection = crate::ops::selection::Selection {
            kinds: Vec::new(),
            exclude: connection.config.backup.exclude_kinds.clone(),
            with_opt_in: connection.config.backup.with_user_kinds,
        };
        // Only `butterfly.toml`'s names, which its loading checked, are given.
        selection.resolve(self.catalogue).unwrap_or_default()
    }

    /// Test Connection: a token, then one request per kind, each OK or its cause and fix.
    pub async fn test_connection(
        &self,
        actor: &Actor,
        id: ConnectionId,
    ) -> Result<ConnectionReport, ConnectionsError> {
        let team = actor.user.team;
        let (row, connection) = self.open(team, id).await?;
        let kinds = self.kinds(&connection);
        let report = connection::test_connection(self.catalogue, &connection, &kinds).await?;
        self.store
            .audit(
                team,
                &actor.entry(
                    "connection.test",
                    target(&row),
                    format!("{} kind(s) with problems", report.problems()),
                ),
                now(),
            )
            .await?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ConnectionInput {
        ConnectionInput {
            name: "Production".into(),
            okta_domain: "acme.okta.com".into(),
            client_id: "0oa1".into(),
            auth_method: "client_secret".into(),
            credential: "s3cret".into(),
        }
    }

    #[test]
    fn input_is_checked_field_by_field() {
        let strict = UpstreamPolicy::strict();
        let (fields, credential) = check_input(&input(), strict, true).unwrap();
        assert_eq!(fields.okta_domain, "https://acme.okta.com");
        assert_eq!(credential.as_deref(), Some(&b"s3cret"[..]));
        for (change, field) in [
            (
                ConnectionInput {
                    name: " ".into(),
                    ..input()
                },
                "name",
            ),
            (
                ConnectionInput {
                    client_id: "0oa 1".into(),
                    ..input()
                },
                "client_id",
            ),
            (
                ConnectionInput {
                    auth_method: "basic".into(),
                    ..input()
                },
                "auth_method",
            ),
            (
                ConnectionInput {
                    credential: "".into(),
                    ..input()
                },
                "credential",
            ),
            (
                ConnectionInput {
                    auth_method: "private_key".into(),
                    credential: "not a key".into(),
                    ..input()
                },
                "credential",
            ),
            (
                ConnectionInput {
                    okta_domain: "http://acme.okta.com".into(),
                    ..input()
                },
                "okta_domain",
            ),
            (
                ConnectionInput {
                    okta_domain: "https://10.0.0.5".into(),
                    ..input()
                },
                "okta_domain",
            ),
        ] {
            let error = check_input(&change, strict, true).unwrap_err();
            assert!(error.to_string().starts_with(field), "{field}: {error}");
        }
        // An edit may leave the credential empty: the stored one is kept.
        let (_, kept) = check_input(
            &ConnectionInput {
                credential: String::new(),
                ..input()
            },
            strict,
            false,
        )
        .unwrap();
        assert!(kept.is_none());
    }

    #[test]
    fn plan_limits_follow_seed_003() {
        assert_eq!(connection_limit("free"), Some(1));
        assert_eq!(connection_limit("standard"), Some(2));
        assert_eq!(connection_limit("business"), None);
        let free = retention_policy("free");
        assert_eq!(
            (free.max_age_secs, free.max_snapshots),
            (Some(7 * 86_400), Some(1))
        );
        let standard = retention_policy("standard");
        assert_eq!(
            (standard.max_age_secs, standard.max_snapshots),
            (Some(90 * 86_400), None)
        );
        assert!(retention_policy("business").keeps_everything());
    }
}
