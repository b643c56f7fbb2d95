//! The installation operator's use cases (`butterfly admin`): a team member made from the
//! command line, with a one-time sign-in link, before any web page exists to invite them.
//!
//! Must not print: the CLI renders; the link's token is handed back once and never stored.

use crate::server::role::Role;
use crate::store::accounts::{Email, Team, TeamName, User};
use crate::store::sessions::SIGN_IN_LINK_TTL_SECS;
use crate::store::{Store, StoreError};

/// The default `--base-url`, where `butterfly serve` listens by default.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";

/// What `create_user` is asked to make.
pub struct NewUser {
    pub team: TeamName,
    pub email: Email,
    pub role: Role,
    /// A local password (argon2id); `None` leaves sign-in to the link (and later SSO).
    pub password: Option<String>,
    /// The server's public URL, for the sign-in link.
    pub base_url: BaseUrl,
}

/// The server's public base URL: `http(s)://host[:port][/path]`, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a base URL: expected http://host[:port] or https://host[:port]")]
pub struct BadBaseUrl(pub String);

impl BaseUrl {
    pub fn parse(text: &str) -> Result<BaseUrl, BadBaseUrl> {
        let trimmed = text.trim().trim_end_matches('/');
        let rest = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"));
        match rest {
            Some(rest)
                if !rest.is_empty()
                    && !rest.starts_with('/')
                    && !rest.contains(['?', '#', ' ', '@']) =>
            {
                Ok(BaseUrl(trimmed.to_string()))
            }
            _ => Err(BadBaseUrl(text.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What `create_user` made.
#[derive(Debug)]
pub struct CreatedUser {
    pub team: Team,
    pub team_created: bool,
    pub user: User,
    /// `BASE_URL/login/once/<token>`: shown once, works once, for `SIGN_IN_LINK_TTL_SECS`.
    pub sign_in_link: String,
    pub link_expires_at: i64,
}

/// Makes the team if needed, the user in it, its password if given, and a one-time sign-in link.
pub async fn create_user(store: &Store, new: NewUser, now: i64) -> Result<CreatedUser, StoreError> {
    // Checked before anything is written, so a short password leaves no half-made user.
    if let Some(password) = &new.password
        && password.chars().count() < crate::store::password::MIN_LEN
    {
        return Err(crate::store::password::PasswordError::TooShort.into());
    }
    let (team, team_created) = store.ensure_team(&new.team).await?;
    let mut user = store.create_user(&team, &new.email, new.role).await?;
    if let Some(password) = &new.password {
        store.set_password(user.id, password).await?;
        user.has_password = true;
    }
    let token = store
        .create_sign_in_link(user.id, now, SIGN_IN_LINK_TTL_SECS)
        .await?;
    tracing::info!(team = %team.name, email = %user.email, role = %user.role, "created a user");
    Ok(CreatedUser {
        team,
        team_created,
        user,
        sign_in_link: format!("{}/login/once/{}", new.base_url.as_str(), token.as_str()),
        link_expires_at: now + SIGN_IN_LINK_TTL_SECS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_http_or_https_without_trailing_slash() {
        assert_eq!(
            BaseUrl::parse("http://127.0.0.1:8080/").unwrap().as_str(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            BaseUrl::parse("https://backup.example.com/butterfly")
                .unwrap()
                .as_str(),
            "https://backup.example.com/butterfly"
        );
        for bad in [
            "",
            "127.0.0.1:8080",
            "ftp://x",
            "https://",
            "https:///x",
            "https://x?y=1",
            "https://u@x",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
    }
}

/// The plans an operator may give a team (seed 003), with what each allows.
pub const PLANS: [&str; 3] = ["free", "standard", "business"];

/// Why a plan could not be set.
#[derive(Debug, thiserror::Error)]
pub enum SetPlanError {
    #[error("`{0}` is not a plan: expected free, standard or business")]
    UnknownPlan(String),
    #[error("there is no team named {0}")]
    NoTeam(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sets a team's plan (the installation operator's decision, not the team's).
pub async fn set_plan(store: &Store, team: &TeamName, plan: &str) -> Result<(), SetPlanError> {
    let plan = plan.trim().to_lowercase();
    if !PLANS.contains(&plan.as_str()) {
        return Err(SetPlanError::UnknownPlan(plan));
    }
    if !store.set_plan(team, &plan).await? {
        return Err(SetPlanError::NoTeam(team.to_string()));
    }
    Ok(())
}
