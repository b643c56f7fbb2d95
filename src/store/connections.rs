//! A team's connections to Okta orgs: the domain, the OAuth client id and how it authenticates.
//! The credential itself (client secret or private key) is a sealed secret of the team, named
//! after the connection, written and removed with it.
//!
//! Every query names the team: a connection id of another team is "not found", never its row.

use super::accounts::TeamId;
use super::secrets::SecretBytes;
use super::{Store, StoreError, is_unique_violation, now, on_pool};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectionId(pub i64);

/// How the connection's OAuth 2.0 service app authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// `client_secret_basic`: the secret is the client secret.
    ClientSecret,
    /// `private_key_jwt`: the secret is a PEM or JWK private key.
    PrivateKey,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecret => "client_secret",
            AuthMethod::PrivateKey => "private_key",
        }
    }

    pub fn parse(text: &str) -> Option<AuthMethod> {
        match text {
            "client_secret" => Some(AuthMethod::ClientSecret),
            "private_key" => Some(AuthMethod::PrivateKey),
            _ => None,
        }
    }
}

/// A connection as stored (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgConnection {
    pub id: ConnectionId,
    pub team: TeamId,
    pub name: String,
    /// As `OrgUrl::base` wrote it: `https://acme.okta.com`.
    pub okta_domain: String,
    pub client_id: String,
    pub auth_method: AuthMethod,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The fields a person sets on a connection; checked by `ops::connections` before they get here.
#[derive(Debug, Clone)]
pub struct ConnectionFields {
    pub name: String,
    pub okta_domain: String,
    pub client_id: String,
    pub auth_method: AuthMethod,
}

type Row = (i64, i64, String, String, String, String, i64, i64);

fn from_row(row: Row) -> Result<OrgConnection, StoreError> {
    let (id, team, name, okta_domain, client_id, method, created_at, updated_at) = row;
    let auth_method = AuthMethod::parse(&method).ok_or_else(|| StoreError::NotFound {
        what: format!("valid auth method for connection {id} (found `{method}`)"),
    })?;
    Ok(OrgConnection {
        id: ConnectionId(id),
        team: TeamId(team),
        name,
        okta_domain,
        client_id,
        auth_method,
        created_at,
        updated_at,
    })
}

/// The secret's name in the team's sealed secrets.
fn secret_name(id: ConnectionId) -> String {
    format!("connection/{}/credential", id.0)
}

impl Store {
    /// A new connection of `team` with its credential sealed; a name already used in the team
    /// is refused, naming it.
    pub async fn create_connection(
        &self,
        team: TeamId,
        fields: &ConnectionFields,
        credential: &[u8],
    ) -> Result<OrgConnection, StoreError> {
        let at = now();
        let sql = "INSERT INTO connections \
                   (team_id, name, okta_domain, client_id, auth_method, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id";
        let made: Result<(i64,), sqlx::Error> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(team.0)
            .bind(&fields.name)
            .bind(&fields.okta_domain)
            .bind(&fields.client_id)
            .bind(fields.auth_method.as_str())
            .bind(at)
            .fetch_one(p)
            .await);
        let id = match made {
            Ok((id,)) => ConnectionId(id),
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict {
                    what: format!("a connection named `{}` already exists", fields.name),
                });
            }
            Err(e) => {
                return Err(self
                    .query_error(format!("create the connection {}", fields.name))(
                    e
                ));
            }
        };
        if let Err(e) = self.put_secret(team, &secret_name(id), credential).await {
            // No connection without its credential: take the row back out.
            let _ = self.delete_connection(team, id).await;
            return Err(e);
        }
        Ok(OrgConnection {
            id,
            team,
            name: fields.name.clone(),
            okta_domain: fields.okta_domain.clone(),
            client_id: fields.client_id.clone(),
            auth_method: fields.auth_method,
            created_at: at,
            updated_at: at,
        })
    }

    /// The team's connections, by name.
    pub async fn connections(&self, team: TeamId) -> Result<Vec<OrgConnection>, StoreError> {
        let sql = "SELECT id, team_id, name, okta_domain, client_id, auth_method, created_at, \
                   updated_at FROM connections WHERE team_id = $1 ORDER BY name, id";
        let rows: Vec<Row> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(team.0)
            .fetch_all(p)
            .await)
        .map_err(self.query_error(format!("list the connections of team {}", team.0)))?;
        rows.into_iter().map(from_row).collect()
    }

    /// How many connections the team has (for its plan's limit).
    pub async fn count_connections(&self, team: TeamId) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) FROM connections WHERE team_id = $1";
        let (count,): (i64,) = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(team.0)
            .fetch_one(p)
            .await)
        .map_err(self.query_error(format!("count the connections of team {}", team.0)))?;
        Ok(count)
    }

    /// The team's connection `id`; `None` when the team has none of that id.
    pub async fn connection(
        &self,
        team: TeamId,
        id: ConnectionId,
    ) -> Result<Option<OrgConnection>, StoreError> {
        let sql = "SELECT id, team_id, name, okta_domain, client_id, auth_method, created_at, \
                   updated_at FROM connections WHERE team_id = $1 AND id = $2";
        let row: Option<Row> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(team.0)
            .bind(id.0)
            .fetch_optional(p)
            .await)
        .map_err(self.query_error(format!("read connection {}", id.0)))?;
        row.map(from_row).transpose()
    }

    /// Changes the team's connection `id`; its credential too when `credential` is given.
    /// `false` when the team has no such connection.
    pub async fn update_connection(
        &self,
        team: TeamId,
        id: ConnectionId,
        fields: &ConnectionFields,
        credential: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE connections SET name = $1, okta_domain = $2, client_id = $3, \
                   auth_method = $4, updated_at = $5 WHERE team_id = $6 AND id = $7";
        let done: Result<u64, sqlx::Error> = on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(&fields.name)
            .bind(&fields.okta_domain)
            .bind(&fields.client_id)
            .bind(fields.auth_method.as_str())
            .bind(now())
            .bind(team.0)
            .bind(id.0)
            .execute(p)
            .await
            .map(|r| r.rows_affected()));
        let done = match done {
            Ok(n) => n,
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict {
                    what: format!("a connection named `{}` already exists", fields.name),
                });
            }
            Err(e) => return Err(self.query_error(format!("update connection {}", id.0))(e)),
        };
        if done == 0 {
            return Ok(false);
        }
        if let Some(credential) = credential {
            self.put_secret(team, &secret_name(id), credential).await?;
        }
        Ok(true)
    }

    /// Removes the team's connection `id` and its credential; `false` when there was none.
    pub async fn delete_connection(
        &self,
        team: TeamId,
        id: ConnectionId,
    ) -> Result<bool, StoreError> {
        let sql = "DELETE FROM connections WHERE team_id = $1 AND id = $2";
        let done = on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(team.0)
            .bind(id.0)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(self.query_error(format!("delete connection {}", id.0)))?;
        let name = secret_name(id);
        let sql = "DELETE FROM secrets WHERE team_id = $1 AND name = $2";
        on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(team.0)
            .bind(&name)
            .execute(p)
            .await
            .map(|_| ()))
        .map_err(self.query_error(format!("delete the credential of connection {}", id.0)))?;
        Ok(done > 0)
    }

    /// The connection's credential, decrypted.
    pub async fn connection_credential(
        &self,
        team: TeamId,
        id: ConnectionId,
    ) -> Result<SecretBytes, StoreError> {
        self.secret(team, &secret_name(id))
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("credential of connection {}", id.0),
            })
    }
}
