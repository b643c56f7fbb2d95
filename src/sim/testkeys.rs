//! The simulator client's built-in TEST key pair (`fixtures/keys/`, embedded): the public JWKS
//! registered for a `private_key_jwt` client started without `--jwks`, and the RSA private key
//! handed to clients as a file.
//!
//! Must not: be used by any production code path. These keys are public in the repository and
//! protect nothing (fixtures/keys/README.md).

use std::io::Write as _;
use std::path::PathBuf;

use super::jose::{JwksError, KeySet};

/// The public JWKS of the built-in keys.
const JWKS: &str = include_str!("../../fixtures/keys/jwks.json");

/// The built-in RSA private key (PKCS#8 PEM) clients sign client assertions with.
pub const RSA_PRIVATE_PEM: &str = include_str!("../../fixtures/keys/rsa-private.pem");

/// The `kid` of the built-in RSA key in `JWKS`.
pub const RSA_KEY_ID: &str = "MBpZxrk4D8R_joT-DrcWWGupzS3-6E5U0LL7pqGD898";

/// The built-in keys as a registered JWKS.
pub fn key_set() -> Result<KeySet, JwksError> {
    KeySet::parse(JWKS, "fixtures/keys/jwks.json (built in)")
}

/// A path to the built-in RSA private key that stays valid for an installed binary: the
/// embedded PEM written to `<temp dir>/butterfly-sim-<port>-test-key.pem` with mode 0600, or,
/// if that cannot be written, the committed file in the source tree.
pub fn private_key_path(port: u16) -> PathBuf {
    let path = std::env::temp_dir().join(format!("butterfly-sim-{port}-test-key.pem"));
    match write_private(&path) {
        Ok(()) => path,
        Err(error) => {
            let fallback = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures")
                .join("keys")
                .join("rsa-private.pem");
            tracing::warn!(
                path = %path.display(),
                %error,
                fallback = %fallback.display(),
                "cannot write the built-in test key; pointing clients at the source tree's copy"
            );
            fallback
        }
    }
}

fn write_private(path: &std::path::Path) -> std::io::Result<()> {
    // A file left by an earlier run on the same port may belong to someone else: start afresh.
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(RSA_PRIVATE_PEM.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::jose::Jws;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    fn signed(pem: &str, alg: Algorithm) -> String {
        let key = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
            _ => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        };
        jsonwebtoken::encode(&Header::new(alg), &serde_json::json!({"a": 1}), &key).unwrap()
    }

    #[test]
    fn the_committed_jwks_holds_the_public_halves_of_the_private_keys() {
        let keys = key_set().unwrap();
        let rsa = keys.by_kid(RSA_KEY_ID).unwrap();
        assert_eq!(rsa.thumbprint, RSA_KEY_ID, "kid is the RFC 7638 thumbprint");
        let token = signed(RSA_PRIVATE_PEM, Algorithm::RS256);
        assert!(
            Jws::parse(&token)
                .unwrap()
                .verify(&rsa.key, Algorithm::RS256)
        );

        let ec_pem = include_str!("../../fixtures/keys/ec-private.pem");
        let token = signed(ec_pem, Algorithm::ES256);
        let jws = Jws::parse(&token).unwrap();
        let ec: Vec<_> = keys
            .iter()
            .filter(|k| jws.verify(&k.key, Algorithm::ES256))
            .collect();
        assert_eq!(ec.len(), 1);
        assert_eq!(ec[0].kid.as_deref(), Some(ec[0].thumbprint.as_str()));

        let other = include_str!("../../fixtures/keys/unregistered-rsa-private.pem");
        let token = signed(other, Algorithm::RS256);
        let jws = Jws::parse(&token).unwrap();
        assert!(keys.iter().all(|k| !jws.verify(&k.key, Algorithm::RS256)));
    }

    #[cfg(unix)]
    #[test]
    fn the_private_key_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let path = private_key_path(0);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), RSA_PRIVATE_PEM);
        std::fs::remove_file(path).unwrap();
    }
}
