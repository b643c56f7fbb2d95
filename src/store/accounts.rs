//! Teams and their members: the typed functions the CLI (`butterfly admin`) and the server use.
//! An email address belongs to one account (sign-in is by email), so it is unique across teams.
//!
//! Must not hand out a password hash: passwords are set and checked here, never read.

use std::fmt;

use super::{Store, StoreError, is_unique_violation, now, on_pool, password};
use crate::server::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TeamId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub i64);

/// An email address as accounts are keyed: trimmed and lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not an email address: {reason}")]
pub struct BadEmail {
    pub given: String,
    pub reason: &'static str,
}

impl Email {
    pub fn parse(text: &str) -> Result<Email, BadEmail> {
        let bad = |reason| BadEmail {
            given: text.to_string(),
            reason,
        };
        let email = text.trim().to_lowercase();
        if email.len() > 254 {
            return Err(bad("longer than 254 characters"));
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it contains a space or a control character"));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(bad("it has no @"));
        };
        if local.is_empty() || domain.is_empty() || domain.contains('@') {
            return Err(bad("expected one @ between a name and a domain"));
        }
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(bad("the domain needs a dot, not at either end"));
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A team's name: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TeamName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not a team name: {reason}")]
pub struct BadTeamName {
    pub given: String,
    pub reason: &'static str,
}

impl TeamName {
    pub fn parse(text: &str) -> Result<TeamName, BadTeamName> {
        let bad = |reason| BadTeamName {
            given: text.to_string(),
            reason,
        };
        let name = text.trim();
        if name.is_empty() {
            return Err(bad("it is empty"));
        }
        if name.chars().count() > 100 {
            return Err(bad("longer than 100 characters"));
        }
        if name.chars().any(char::is_control) {
            return Err(bad("it contains a control character"));
        }
        Ok(TeamName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TeamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub plan: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub team: TeamId,
    pub email: Email,
    pub role: Role,
    pub active: bool,
    pub has_password: bool,
}

pub(super) type UserRow = (i64, i64, String, String, bool, Option<String>);

impl Store {
    pub(super) fn user_from_row(&self, row: UserRow) -> Result<User, StoreError> {
        let (id, team, email, role, active, password_hash) = row;
        let role = role.parse::<Role>().map_err(|e| StoreError::NotFound {
            what: format!("valid role for user {email} in {}: {e}", self.backend),
        })?;
        Ok(User {
            id: UserId(id),
            team: TeamId(team),
            email: Email(email),
            role,
            active,
            has_password: password_hash.is_some(),
        })
    }

    /// The team named `name`, made if it does not exist; `true` when it was made now.
    pub async fn ensure_team(&self, name: &TeamName) -> Result<(Team, bool), StoreError> {
        let insert = "INSERT INTO teams (name, created_at) VALUES ($1, $2) \
                      ON CONFLICT (name) DO NOTHING RETURNING id";
        let made: Option<(i64,)> = on_pool!(&self.pool, |p| sqlx::query_as(insert)
            .bind(name.as_str())
            .bind(now())
            .fetch_optional(p)
            .await)
        .map_err(self.query_error(format!("create the team {name}")))?;
        let team = self
            .find_team(name)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("team {name} after creating it"),
            })?;
        Ok((team, made.is_some()))
    }

    pub async fn find_team(&self, name: &TeamName) -> Result<Option<Team>, StoreError> {
        let sql = "SELECT id, name, plan FROM teams WHERE name = $1";
        let row: Option<(i64, String, String)> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(name.as_str())
            .fetch_optional(p)
            .await)
        .map_err(self.query_error(format!("find the team {name}")))?;
        Ok(row.map(|(id, name, plan)| Team {
            id: TeamId(id),
            name,
            plan,
        }))
    }

    /// The team with id `id`.
    pub async fn team(&self, id: TeamId) -> Result<Team, StoreError> {
        let sql = "SELECT id, name, plan FROM teams WHERE id = $1";
        let row: Option<(i64, String, String)> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(id.0)
            .fetch_optional(p)
            .await)
        .map_err(self.query_error(format!("read team {}", id.0)))?;
        row.map(|(id, name, plan)| Team {
            id: TeamId(id),
            name,
            plan,
        })
        .ok_or_else(|| StoreError::NotFound {
            what: format!("team with id {}", id.0),
        })
    }

    /// Sets the team's plan; `false` when there is no such team.
    pub async fn set_plan(&self, name: &TeamName, plan: &str) -> Result<bool, StoreError> {
        let sql = "UPDATE teams SET plan = $1 WHERE name = $2";
        let done = on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(plan)
            .bind(name.as_str())
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(self.query_error(format!("set the plan of team {name}")))?;
        Ok(done > 0)
    }

    /// The team's members, by email.
    pub async fn members(&self, team: TeamId) -> Result<Vec<User>, StoreError> {
        let sql = "SELECT id, team_id, email, role, active, password_hash FROM users \
                   WHERE team_id = $1 ORDER BY email";
        let rows: Vec<UserRow> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(team.0)
            .fetch_all(p)
            .await)
        .map_err(self.query_error(format!("list the members of team {}", team.0)))?;
        rows.into_iter().map(|r| self.user_from_row(r)).collect()
    }

    /// A new active member of `team`, without a password (a sign-in link or SSO comes first).
    pub async fn create_user(
        &self,
        team: &Team,
        email: &Email,
        role: Role,
    ) -> Result<User, StoreError> {
        let sql = "INSERT INTO users (team_id, email, role, active, created_at) \
                   VALUES ($1, $2, $3, $4, $5) RETURNING id";
        let made: Result<(i64,), sqlx::Error> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(team.id.0)
            .bind(email.as_str())
            .bind(role.as_str())
            .bind(true)
            .bind(now())
            .fetch_one(p)
            .await);
        match made {
            Ok((id,)) => Ok(User {
                id: UserId(id),
                team: team.id,
                email: email.clone(),
                role,
                active: true,
                has_password: false,
            }),
            Err(e) if is_unique_violation(&e) => {
                let owner = self.team_of_email(email).await?;
                Err(StoreError::EmailTaken {
                    email: email.to_string(),
                    team: owner.unwrap_or_else(|| "?".into()),
                })
            }
            Err(e) => Err(self
                .query_error(format!("create the user {email} in team {}", team.name))(
                e,
            )),
        }
    }

    async fn team_of_email(&self, email: &Email) -> Result<Option<String>, StoreError> {
        let sql = "SELECT teams.name FROM users JOIN teams ON teams.id = users.team_id \
                   WHERE users.email = $1";
        let row: Option<(String,)> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(email.as_str())
            .fetch_optional(p)
            .await)
        .map_err(self.query_error(format!("find the team of {email}")))?;
        Ok(row.map(|(name,)| name))
    }

    pub async fn find_user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let sql =
            "SELECT id, team_id, email, role, active, password_hash FROM users WHERE email = $1";
        let row: Option<UserRow> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(email.as_str())
            .fetch_optional(p)
            .await)
        .map_err(self.query_error(format!("find the user {email}")))?;
        row.map(|r| self.user_from_row(r)).transpose()
    }

    pub async fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let sql = "SELECT id, team_id, email, role, active, password_hash FROM users WHERE id = $1";
        let row: Option<UserRow> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(id.0)
            .fetch_optional(p)
            .await)
        .map_err(self.query_error(format!("find the user with id {}", id.0)))?;
        row.map(|r| self.user_from_row(r)).transpose()
    }

    /// Sets the user's local password (argon2id, hashed off the async threads).
    pub async fn set_password(&self, user: UserId, password: &str) -> Result<(), StoreError> {
        let password = password.to_string();
        let hashed = tokio::task::spawn_blocking(move || password::hash(&password))
            .await
            .map_err(|e| StoreError::Task {
                what: "hashing a password".into(),
                reason: e.to_string(),
            })??;
        let sql = "UPDATE users SET password_hash = $1 WHERE id = $2";
        let done = on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(&hashed)
            .bind(user.0)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(self.query_error(format!("set the password of user {}", user.0)))?;
        if done == 0 {
            return Err(StoreError::NotFound {
                what: format!("user with id {}", user.0),
            });
        }
        Ok(())
    }

    /// The active user with this email whose local password is `password`; `None` otherwise
    /// (unknown email, inactive, no local password or a wrong one: not told apart).
    pub async fn check_password(
        &self,
        email: &Email,
        password: &str,
    ) -> Result<Option<User>, StoreError> {
        let sql =
            "SELECT id, team_id, email, role, active, password_hash FROM users WHERE email = $1";
        let row: Option<UserRow> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(email.as_str())
            .fetch_optional(p)
            .await)
        .map_err(self.query_error(format!("find the user {email}")))?;
        let Some(row) = row else { return Ok(None) };
        let Some(hash) = row.5.clone() else {
            return Ok(None);
        };
        let password = password.to_string();
        let matches = tokio::task::spawn_blocking(move || password::verify(&hash, &password))
            .await
            .map_err(|e| StoreError::Task {
                what: "checking a password".into(),
                reason: e.to_string(),
            })?;
        let user = self.user_from_row(row)?;
        Ok((matches && user.active).then_some(user))
    }

    /// Changes a user's role.
    pub async fn set_role(&self, user: UserId, role: Role) -> Result<(), StoreError> {
        let sql = "UPDATE users SET role = $1 WHERE id = $2";
        on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(role.as_str())
            .bind(user.0)
            .execute(p)
            .await
            .map(|_| ()))
        .map_err(self.query_error(format!("change the role of user {}", user.0)))
    }

    /// Activates or deactivates a user; a deactivated user's sessions stop working.
    pub async fn set_active(&self, user: UserId, active: bool) -> Result<(), StoreError> {
        let sql = "UPDATE users SET active = $1 WHERE id = $2";
        on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(active)
            .bind(user.0)
            .execute(p)
            .await
            .map(|_| ()))
        .map_err(self.query_error(format!("change whether user {} is active", user.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            Email::parse("  Ana@Example.COM ").unwrap().as_str(),
            "ana@example.com"
        );
        for bad in [
            "",
            "ana",
            "@example.com",
            "ana@",
            "ana@@example.com",
            "a b@example.com",
            "ana@example",
            "ana@example.",
        ] {
            let error = Email::parse(bad).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains(&format!("`{bad}` is not an email address")),
                "{error}"
            );
        }
    }

    #[test]
    fn team_names_are_trimmed_and_bounded() {
        assert_eq!(TeamName::parse(" Acme ").unwrap().as_str(), "Acme");
        assert!(TeamName::parse("   ").is_err());
        assert!(TeamName::parse(&"x".repeat(101)).is_err());
        assert!(TeamName::parse("a\nb").is_err());
    }
}
