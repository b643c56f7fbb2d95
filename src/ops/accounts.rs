//! Signing in and out, and a team's members, as the server's pages and API do them: local
//! sign-in with throttling of failures, one-time links, sessions, members added with a sign-in
//! link, roles changed, members deactivated. Every change goes into the audit trail.

use crate::ops::admin::BaseUrl;
use crate::ops::connections::Actor;
use crate::server::role::Role;
use crate::store::accounts::{Email, User, UserId};
use crate::store::audit::AuditEntry;
use crate::store::sessions::{SESSION_TTL_SECS, SIGN_IN_LINK_TTL_SECS, Token};
use crate::store::{Store, StoreError, now};

/// Why signing in failed; the messages never tell an unknown email from a wrong password.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("the email or the password is wrong")]
    Wrong,
    #[error(
        "too many failed sign-ins for this account or from this address: try again after {until} (UTC)"
    )]
    Throttled { until: String },
    #[error("this sign-in link has been used, has expired, or is not a link")]
    BadLink,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new session.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    pub session: Token,
}

fn time_text(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| unix.to_string())
}

fn sign_in_entry(user: &User, action: &str, detail: &str, ip: &str) -> AuditEntry {
    AuditEntry {
        user: Some(user.id),
        actor: user.email.to_string(),
        action: action.to_string(),
        target: format!("user {}", user.email),
        detail: detail.to_string(),
        ip: ip.to_string(),
    }
}

/// Signs in with email and local password, refusing while the email or the address is
/// throttled (even with the right password), counting each failure against both.
pub async fn sign_in(
    store: &Store,
    email: &str,
    password: &str,
    ip: &str,
) -> Result<SignedIn, SignInError> {
    let at = now();
    let email_key = format!("email:{}", email.trim().to_lowercase());
    let ip_key = format!("ip:{ip}");
    for key in [&email_key, &ip_key] {
        if let Some(until) = store.sign_in_locked_until(key, at).await? {
            return Err(SignInError::Throttled {
                until: time_text(until),
            });
        }
    }
    let user = match Email::parse(email) {
        Ok(email) => store.check_password(&email, password).await?,
        Err(_) => None,
    };
    let Some(user) = user else {
        store.record_sign_in_failure(&email_key, at).await?;
        store.record_sign_in_failure(&ip_key, at).await?;
        return Err(SignInError::Wrong);
    };
    store.clear_sign_in_failures(&email_key).await?;
    let session = store.create_session(user.id, at, SESSION_TTL_SECS).await?;
    store
        .audit(
            user.team,
            &sign_in_entry(&user, "sign_in", "password", ip),
            at,
        )
        .await?;
    Ok(SignedIn { user, session })
}

/// Signs in with a one-time link (it works once, before it expires).
pub async fn sign_in_with_link(
    store: &Store,
    token: &Token,
    ip: &str,
) -> Result<SignedIn, SignInError> {
    let at = now();
    let user = store
        .use_sign_in_link(token, at)
        .await?
        .ok_or(SignInError::BadLink)?;
    let session = store.create_session(user.id, at, SESSION_TTL_SECS).await?;
    store
        .audit(
            user.team,
            &sign_in_entry(&user, "sign_in", "one-time link", ip),
            at,
        )
        .await?;
    Ok(SignedIn { user, session })
}

/// Ends the session.
pub async fn sign_out(store: &Store, actor: &Actor, session: &Token) -> Result<(), StoreError> {
    let at = now();
    store.revoke_session(session, at).await?;
    store
        .audit(
            actor.user.team,
            &sign_in_entry(&actor.user, "sign_out", "", &actor.ip),
            at,
        )
        .await
}

/// Sets the actor's own password.
pub async fn set_own_password(
    store: &Store,
    actor: &Actor,
    password: &str,
) -> Result<(), StoreError> {
    if password.chars().count() < crate::store::password::MIN_LEN {
        return Err(crate::store::password::PasswordError::TooShort.into());
    }
    store.set_password(actor.user.id, password).await?;
    store
        .audit(
            actor.user.team,
            &actor.entry(
                "password.set",
                format!("user {}", actor.user.email),
                String::new(),
            ),
            now(),
        )
        .await
}

/// A member added by the actor, with the link that signs them in the first time.
#[derive(Debug)]
pub struct AddedMember {
    pub user: User,
    pub sign_in_link: String,
}

/// Why a member change was refused.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("email: {0}")]
    Email(String),
    #[error("no member {0} in this team")]
    NotFound(i64),
    #[error("you cannot {0} yourself: ask another super_admin")]
    Yourself(&'static str),
    #[error("the team would have no active super_admin left")]
    LastSuperAdmin,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Adds a member to the actor's team with a one-time sign-in link.
pub async fn add_member(
    store: &Store,
    actor: &Actor,
    email: &str,
    role: Role,
    base_url: &BaseUrl,
) -> Result<AddedMember, MemberError> {
    let email = Email::parse(email).map_err(|e| MemberError::Email(e.to_string()))?;
    let team = store.team(actor.user.team).await?;
    let user = store.create_user(&team, &email, role).await?;
    let at = now();
    let token = store
        .create_sign_in_link(user.id, at, SIGN_IN_LINK_TTL_SECS)
        .await?;
    store
        .audit(
            team.id,
            &actor.entry(
                "member.add",
                format!("user {}", user.email),
                format!("role {role}"),
            ),
            at,
        )
        .await?;
    Ok(AddedMember {
        sign_in_link: format!("{}/login/once/{}", base_url.as_str(), token.as_str()),
        user,
    })
}

/// The actor's team's member `id`.
async fn team_member(store: &Store, actor: &Actor, id: UserId) -> Result<User, MemberError> {
    store
        .find_user(id)
        .await?
        .filter(|u| u.team == actor.user.team)
        .ok_or(MemberError::NotFound(id.0))
}

/// Whether another active super_admin than `except` remains in the team.
async fn other_super_admin(
    store: &Store,
    actor: &Actor,
    except: UserId,
) -> Result<bool, MemberError> {
    Ok(store
        .members(actor.user.team)
        .await?
        .iter()
        .any(|m| m.id != except && m.active && m.role == Role::SuperAdmin))
}

/// Changes a member's role (not one's own, and never leaving the team without a super_admin).
pub async fn set_role(
    store: &Store,
    actor: &Actor,
    id: UserId,
    role: Role,
) -> Result<User, MemberError> {
    let member = team_member(store, actor, id).await?;
    if member.id == actor.user.id {
        return Err(MemberError::Yourself("change the role of"));
    }
    if member.role == Role::SuperAdmin
        && role != Role::SuperAdmin
        && !other_super_admin(store, actor, member.id).await?
    {
        return Err(MemberError::LastSuperAdmin);
    }
    store.set_role(member.id, role).await?;
    store
        .audit(
            actor.user.team,
            &actor.entry(
                "member.role",
                format!("user {}", member.email),
                format!("{} → {role}", member.role),
            ),
            now(),
        )
        .await?;
    Ok(User { role, ..member })
}

/// Deactivates (its sessions stop) or reactivates a member.
pub async fn set_active(
    store: &Store,
    actor: &Actor,
    id: UserId,
    active: bool,
) -> Result<User, MemberError> {
    let member = team_member(store, actor, id).await?;
    if member.id == actor.user.id {
        return Err(MemberError::Yourself("deactivate"));
    }
    if !active
        && member.role == Role::SuperAdmin
        && !other_super_admin(store, actor, member.id).await?
    {
        return Err(MemberError::LastSuperAdmin);
    }
    let at = now();
    store.set_active(member.id, active).await?;
    if !active {
        store.revoke_sessions_of(member.id, at).await?;
    }
    store
        .audit(
            actor.user.team,
            &actor.entry(
                if active {
                    "member.reactivate"
                } else {
                    "member.deactivate"
                },
                format!("user {}", member.email),
                String::new(),
            ),
            at,
        )
        .await?;
    Ok(User { active, ..member })
}
