//! One-time sign-in links and server-side sessions. A token is 256 random bits shown once
//! (base64url); the database keeps only its SHA-256, so a copy of the database signs no one in.
//! A sign-in link works once, before it expires; a session works until it expires, is revoked
//! or its user is deactivated.
//!
//! Must not log or put in an error a token.

use std::fmt;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::accounts::{User, UserId, UserRow};
use super::{Store, StoreError, on_pool};

/// How long a sign-in link printed by `butterfly admin create-user` works.
pub const SIGN_IN_LINK_TTL_SECS: i64 = 24 * 60 * 60;
/// How long a session lasts without signing in again.
pub const SESSION_TTL_SECS: i64 = 12 * 60 * 60;

/// A bearer token as the user holds it; `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    pub fn generate() -> Result<Token, StoreError> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| StoreError::Random)?;
        Ok(Token(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        ))
    }

    /// A token as received (from a URL or a cookie).
    pub fn from_presented(text: &str) -> Token {
        Token(text.trim().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the database stores: the SHA-256 of the token, as lowercase hex.
    pub fn digest(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The user of a live session: columns in `accounts::UserRow`'s order.
const SESSION_USER: &str = "SELECT users.id, users.team_id, users.email, users.role, users.active, \
     users.password_hash FROM sessions JOIN users ON users.id = sessions.user_id \
     WHERE sessions.token_hash = $1 AND sessions.revoked_at IS NULL AND sessions.expires_at > $2";

impl Store {
    /// A new token for `user`, stored hashed by `sql` (token hash, user, created, expires).
    async fn insert_token(
        &self,
        sql: &'static str,
        what: &str,
        user: UserId,
        now: i64,
        ttl_secs: i64,
    ) -> Result<Token, StoreError> {
        let token = Token::generate()?;
        on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(token.digest())
            .bind(user.0)
            .bind(now)
            .bind(now + ttl_secs)
            .execute(p)
            .await
            .map(|_| ()))
        .map_err(self.query_error(format!("create {what} for user {}", user.0)))?;
        Ok(token)
    }

    /// A new one-time sign-in link token for `user`, valid for `ttl_secs` from `now`.
    pub async fn create_sign_in_link(
        &self,
        user: UserId,
        now: i64,
        ttl_secs: i64,
    ) -> Result<Token, StoreError> {
        let sql = "INSERT INTO sign_in_links (token_hash, user_id, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4)";
        self.insert_token(sql, "a sign-in link", user, now, ttl_secs)
            .await
    }

    /// Uses a sign-in link: its active user the first time, before it expires; `None` after.
    pub async fn use_sign_in_link(
        &self,
        token: &Token,
        now: i64,
    ) -> Result<Option<User>, StoreError> {
        let sql = "UPDATE sign_in_links SET used_at = $1 \
                   WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id";
        let row: Option<(i64,)> = on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .bind(now)
            .bind(token.digest())
            .fetch_optional(p)
            .await)
        .map_err(self.query_error("use a sign-in link"))?;
        let Some((user,)) = row else { return Ok(None) };
        Ok(self.find_user(UserId(user)).await?.filter(|u| u.active))
    }

    /// A new session for `user`, valid for `ttl_secs` from `now`.
    pub async fn create_session(
        &self,
        user: UserId,
        now: i64,
        ttl_secs: i64,
    ) -> Result<Token, StoreError> {
        let sql = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4)";
        self.insert_token(sql, "a session", user, now, ttl_secs)
            .await
    }

    /// The user of a live session: not expired, not revoked, user active.
    pub async fn session_user(&self, token: &Token, now: i64) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = on_pool!(&self.pool, |p| sqlx::query_as(SESSION_USER)
            .bind(token.digest())
            .bind(now)
            .fetch_optional(p)
            .await)
        .map_err(self.query_error("look up a session"))?;
        let user = row.map(|r| self.user_from_row(r)).transpose()?;
        Ok(user.filter(|u| u.active))
    }

    /// Ends a session (sign-out); `false` when there was no live session with this token.
    pub async fn revoke_session(&self, token: &Token, now: i64) -> Result<bool, StoreError> {
        let sql =
            "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL";
        let changed = on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(now)
            .bind(token.digest())
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(self.query_error("revoke a session"))?;
        Ok(changed > 0)
    }

    /// Ends every session of a user (role change, deactivation, password change).
    pub async fn revoke_sessions_of(&self, user: UserId, now: i64) -> Result<u64, StoreError> {
        let sql = "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL";
        on_pool!(&self.pool, |p| sqlx::query(sql)
            .bind(now)
            .bind(user.0)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .map_err(self.query_error(format!("revoke the sessions of user {}", user.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_base64url_and_stored_as_sha256_hex() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 43);
        assert!(
            a.as_str()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        let digest = a.digest();
        assert_eq!(digest.len(), 64);
        assert!(!digest.contains(a.as_str()));
        assert_eq!(
            Token::from_presented(&format!(" {} ", a.as_str())).digest(),
            digest
        );
        assert_eq!(format!("{a:?}"), "Token(<redacted>)");
        // The known SHA-256 of "abc".
        assert_eq!(
            Token("abc".into()).digest(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
