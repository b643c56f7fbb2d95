//! Keyed fingerprints of secrets: a canonical file never holds a secret Okta returned, only
//! `$fingerprint:hmac-sha256:<hex>` under the org's key (`BUTTERFLY_FINGERPRINT_KEY`), so two
//! backups show whether a secret changed without revealing it. Without the key a secret is
//! written as `$fingerprint:unkeyed`, which compares as unknown, never as changed.
//!
//! Must not log or display key material: `FingerprintKey`'s `Debug` is redacted.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// The prefix of every fingerprinted value.
pub const PREFIX: &str = "$fingerprint:";
/// The value written for a secret when no key is configured.
pub const UNKEYED: &str = "$fingerprint:unkeyed";

/// A per-org HMAC key (32 bytes or more).
#[derive(Clone)]
pub struct FingerprintKey(Vec<u8>);

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FingerprintKey(<redacted>)")
    }
}

/// Why a fingerprint key was refused; never echoes the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintKeyError {
    #[error("the fingerprint key must be hexadecimal (got a character that is not 0-9 or a-f)")]
    NotHex,
    #[error("the fingerprint key must be at least 32 bytes (64 hex characters); it has {0} bytes")]
    TooShort(usize),
    #[error("the system's random number generator failed; no key was made")]
    NoRandom,
}

impl FingerprintKey {
    /// Parses a key written as hex, as `butterfly key` exports it.
    pub fn from_hex(text: &str) -> Result<Self, FingerprintKeyError> {
        let text = text.trim();
        if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FingerprintKeyError::NotHex);
        }
        let bytes: Vec<u8> = (0..text.len())
            .step_by(2)
            .map(|i| {
                u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| FingerprintKeyError::NotHex)
            })
            .collect::<Result<_, _>>()?;
        if bytes.len() < 32 {
            return Err(FingerprintKeyError::TooShort(bytes.len()));
        }
        Ok(FingerprintKey(bytes))
    }

    /// A new random 32-byte key.
    pub fn generate() -> Result<Self, FingerprintKeyError> {
        let mut bytes = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| FingerprintKeyError::NoRandom)?;
        Ok(FingerprintKey(bytes))
    }

    /// The key as hex, as `butterfly key export` prints it (the only way to see it).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The fingerprint of `secret` found at `field` of an object of `kind`. The kind and field
    /// are part of the MAC input, so equal secrets in different places do not show as equal.
    pub fn fingerprint(&self, kind: &str, field: &str, secret: &Value) -> String {
        let plaintext = match secret {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC accepts a key of any length");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(field.as_bytes());
        mac.update(&[0]);
        mac.update(plaintext.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut hex = String::with_capacity(PREFIX.len() + 12 + digest.len() * 2);
        hex.push_str(PREFIX);
        hex.push_str("hmac-sha256:");
        for byte in digest.iter() {
            hex.push_str(&format!("{byte:02x}"));
        }
        hex
    }
}

/// True for a value that is already a fingerprint (canonicalising twice changes nothing).
pub fn is_fingerprint(value: &Value) -> bool {
    value.as_str().is_some_and(|s| s.starts_with(PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn fingerprints_are_stable_keyed_and_bound_to_their_field() {
        let key = FingerprintKey::from_hex(KEY).unwrap();
        let a = key.fingerprint(
            "app",
            "credentials.oauthClient.client_secret",
            &json!("s3cret"),
        );
        assert_eq!(
            a,
            key.fingerprint(
                "app",
                "credentials.oauthClient.client_secret",
                &json!("s3cret")
            )
        );
        assert!(a.starts_with("$fingerprint:hmac-sha256:"));
        assert_eq!(a.len(), "$fingerprint:hmac-sha256:".len() + 64);
        assert!(!a.contains("s3cret"));
        assert_ne!(
            a,
            key.fingerprint(
                "app",
                "credentials.oauthClient.client_secret",
                &json!("other")
            )
        );
        assert_ne!(
            a,
            key.fingerprint("identity_provider", "x", &json!("s3cret"))
        );
        let other_key = FingerprintKey::from_hex(&KEY.replace("00", "ff")).unwrap();
        assert_ne!(
            a,
            other_key.fingerprint(
                "app",
                "credentials.oauthClient.client_secret",
                &json!("s3cret")
            )
        );
    }

    #[test]
    fn bad_keys_are_refused_without_echoing_them() {
        assert_eq!(
            FingerprintKey::from_hex("zz").unwrap_err(),
            FingerprintKeyError::NotHex
        );
        assert_eq!(
            FingerprintKey::from_hex("abcd").unwrap_err(),
            FingerprintKeyError::TooShort(2)
        );
        let key = FingerprintKey::from_hex(KEY).unwrap();
        assert_eq!(format!("{key:?}"), "FingerprintKey(<redacted>)");
    }
}
