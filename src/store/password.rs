//! Local sign-in passwords: argon2id with a random salt, as PHC strings
//! (`$argon2id$v=19$m=…`), for teams without SSO.
//!
//! Must not log or return a password; a hash is safe to store, never to show.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

/// Passwords shorter than this are refused.
pub const MIN_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is too short: at least {MIN_LEN} characters")]
    TooShort,
    #[error("could not hash the password: {0}")]
    Hash(String),
}

/// The argon2id PHC string of `password` (Argon2's default parameters, a fresh salt).
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LEN {
        return Err(PasswordError::TooShort);
    }
    let hashed: PasswordHash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(hashed.to_string())
}

/// Spends the time of one verification without a stored hash, so an unknown email or an
/// account without a password answers as slowly as a wrong password (no account discovery by
/// timing).
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if let Some(hash) = DUMMY.get_or_init(|| hash("butterfly-no-such-account").ok()) {
        let _ = verify(hash, password);
    }
}

/// Whether `password` matches the stored `hash`; a malformed hash matches nothing.
pub fn verify(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_with_argon2id_and_verifies_only_the_right_password() {
        let stored = hash("correct horse battery").unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("correct horse"));
        assert!(verify(&stored, "correct horse battery"));
        assert!(!verify(&stored, "correct horse batterY"));
        assert!(!verify("not a hash", "correct horse battery"));
        // A fresh salt each time.
        assert_ne!(stored, hash("correct horse battery").unwrap());
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
    }
}
