//! Secrets at rest: AES-256-GCM under one master key per installation (DESIGN.md "Server").
//!
//! The key comes from `BUTTERFLY_MASTER_KEY` (64 hex digits, or standard base64 of 32 bytes) or
//! from `<data-dir>/master.key` (64 hex digits), which the first start creates with mode 0600
//! when the database holds no encrypted data yet. A row sealed at that first start
//! (`master_key_check`) is opened at every start: a missing or wrong key is refused, naming where
//! the key was looked for, before anything is decrypted or written.
//!
//! Must not print, log or put in an error a key or a secret: [`MasterKey`] and [`SecretBytes`]
//! redact their `Debug`, and errors name only the key's source.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};

type Nonce = aes_gcm::aead::Nonce<Aes256Gcm>;
use base64::Engine as _;

/// The environment variable holding the master key.
pub const MASTER_KEY_ENV: &str = "BUTTERFLY_MASTER_KEY";
/// The key file's name in the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

const NONCE_LEN: usize = 12;
/// What the check row seals: its plaintext only proves that the key opens it.
const CHECK_PLAINTEXT: &[u8] = b"butterfly master key check v1";
const CHECK_AAD: &[u8] = b"butterfly/master_key_check";

/// Where the master key came from, named in errors (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    Env,
    File(PathBuf),
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyOrigin::Env => write!(f, "{MASTER_KEY_ENV}"),
            KeyOrigin::File(path) => write!(f, "the key file {}", path.display()),
        }
    }
}

/// Why the master key could not be had or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "{origin} is not a master key: expected 32 bytes as 64 hex digits or as standard base64"
    )]
    Malformed { origin: KeyOrigin },
    #[error("could not read the master key file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not create the master key file {}: {source}", path.display())]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the database holds encrypted secrets but no master key was given: set {MASTER_KEY_ENV} \
         or restore the key file {} (refusing to start without it)",
        file.display()
    )]
    Missing { file: PathBuf },
    #[error(
        "the master key from {origin} is not the key this database's secrets were encrypted \
         with (refusing to start: give the right key)"
    )]
    Wrong { origin: KeyOrigin },
    #[error(
        "the database holds {count} encrypted secret(s) but no master key check row: refusing \
         to start, since a wrong key could not be told from the right one"
    )]
    CheckMissing { count: i64 },
    #[error("the system's random number generator failed")]
    Random,
}

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("could not encrypt {what}")]
    Encrypt { what: String },
    #[error("could not decrypt {what}: the data was altered or belongs to another row")]
    Decrypt { what: String },
    #[error("the system's random number generator failed")]
    Random,
}

/// The 256-bit master key.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> Result<MasterKey, KeyError> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| KeyError::Random)?;
        Ok(MasterKey(bytes))
    }

    /// 64 hex digits, or standard base64 of 32 bytes; surrounding whitespace is ignored.
    pub fn parse(text: &str, origin: KeyOrigin) -> Result<MasterKey, KeyError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            decode_hex(text)
        } else {
            base64::engine::general_purpose::STANDARD.decode(text).ok()
        };
        match bytes.and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok()) {
            Some(key) => Ok(MasterKey(key)),
            None => Err(KeyError::Malformed { origin }),
        }
    }

    /// The key as 64 lowercase hex digits (the key file's content).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `nonce || ciphertext || tag` of `plaintext`, bound to `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8], what: &str) -> Result<Vec<u8>, SealError> {
        let cipher = Aes256Gcm::new(&self.0.into());
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SealError::Encrypt {
                what: what.to_string(),
            })?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The plaintext of what [`MasterKey::seal`] made with the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8], what: &str) -> Result<SecretBytes, SealError> {
        let fail = || SealError::Decrypt {
            what: what.to_string(),
        };
        if sealed.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| fail())?;
        let cipher = Aes256Gcm::new(&self.0.into());
        cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: body, aad })
            .map(SecretBytes)
            .map_err(|_| fail())
    }

    pub(crate) fn seal_check(&self) -> Result<Vec<u8>, SealError> {
        self.seal(CHECK_PLAINTEXT, CHECK_AAD, "the master key check row")
    }

    /// Whether this key opens the check row.
    pub(crate) fn opens_check(&self, sealed: &[u8]) -> bool {
        self.open(sealed, CHECK_AAD, "the master key check row")
            .is_ok_and(|plain| plain.expose() == CHECK_PLAINTEXT)
    }
}

/// A decrypted secret; `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Where to look for the master key: the value of `BUTTERFLY_MASTER_KEY` if set, else the key
/// file in the data directory.
#[derive(Clone)]
pub struct KeySource {
    pub env: Option<String>,
    pub file: PathBuf,
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySource")
            .field("env", &self.env.as_ref().map(|_| "<redacted>"))
            .field("file", &self.file)
            .finish()
    }
}

impl KeySource {
    /// The environment's key if set, else `<data_dir>/master.key`.
    pub fn new(data_dir: &Path, env: Option<String>) -> KeySource {
        KeySource {
            env: env.filter(|v| !v.trim().is_empty()),
            file: data_dir.join(MASTER_KEY_FILE),
        }
    }

    /// The given key, or `None` when neither the variable nor the file exists.
    pub fn load(&self) -> Result<Option<(MasterKey, KeyOrigin)>, KeyError> {
        if let Some(text) = &self.env {
            return MasterKey::parse(text, KeyOrigin::Env).map(|k| Some((k, KeyOrigin::Env)));
        }
        match std::fs::read_to_string(&self.file) {
            Ok(text) => {
                let origin = KeyOrigin::File(self.file.clone());
                warn_if_readable_by_others(&self.file);
                MasterKey::parse(&text, origin.clone()).map(|k| Some((k, origin)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(KeyError::Read {
                path: self.file.clone(),
                source,
            }),
        }
    }

    /// A new key written to the key file, created with mode 0600 (never over an existing file:
    /// if another process made one meanwhile, that one is read).
    pub fn create(&self) -> Result<(MasterKey, KeyOrigin), KeyError> {
        let key = MasterKey::generate()?;
        let origin = KeyOrigin::File(self.file.clone());
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&self.file) {
            Ok(mut file) => {
                let text = format!("{}\n", key.to_hex());
                file.write_all(text.as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|source| KeyError::Create {
                        path: self.file.clone(),
                        source,
                    })?;
                tracing::info!(file = %self.file.display(), "created a new master key file");
                Ok((key, origin))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match self.load()? {
                Some(found) => Ok(found),
                None => Err(KeyError::Create {
                    path: self.file.clone(),
                    source: e,
                }),
            },
            Err(source) => Err(KeyError::Create {
                path: self.file.clone(),
                source,
            }),
        }
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(file = %path.display(), "the master key file is readable by others than its owner: chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::generate().unwrap()
    }

    #[test]
    fn seal_then_open_round_trips_and_aad_binds_the_row() {
        let key = key();
        let sealed = key.seal(b"client-secret", b"team 1/okta", "x").unwrap();
        assert!(!sealed.windows(13).any(|w| w == b"client-secret"));
        assert_eq!(
            key.open(&sealed, b"team 1/okta", "x").unwrap().expose(),
            b"client-secret"
        );
        let moved = key.open(&sealed, b"team 2/okta", "the secret okta of team 2");
        assert!(
            moved
                .unwrap_err()
                .to_string()
                .contains("could not decrypt the secret okta of team 2")
        );
        // Two seals of the same plaintext differ (fresh nonces).
        assert_ne!(
            sealed,
            key.seal(b"client-secret", b"team 1/okta", "x").unwrap()
        );
    }

    #[test]
    fn another_key_or_altered_data_does_not_open() {
        let (a, b) = (key(), key());
        let mut sealed = a.seal_check().unwrap();
        assert!(a.opens_check(&sealed));
        assert!(!b.opens_check(&sealed));
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(!a.opens_check(&sealed));
        assert!(!a.opens_check(&[1, 2, 3]));
    }

    #[test]
    fn parses_hex_and_base64_and_names_only_the_origin_when_malformed() {
        let key = key();
        let hex = key.to_hex();
        let parsed = MasterKey::parse(&format!(" {hex}\n"), KeyOrigin::Env).unwrap();
        assert_eq!(parsed.0, key.0);
        let b64 = base64::engine::general_purpose::STANDARD.encode(key.0);
        assert_eq!(MasterKey::parse(&b64, KeyOrigin::Env).unwrap().0, key.0);
        let short = &hex[..62];
        let error = MasterKey::parse(short, KeyOrigin::Env).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("BUTTERFLY_MASTER_KEY is not a master key"),
            "{message}"
        );
        assert!(!message.contains(short));
        assert_eq!(format!("{key:?}"), "MasterKey(<redacted>)");
        let secret = SecretBytes(b"hunter2".to_vec());
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[test]
    fn key_file_is_created_with_mode_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let source = KeySource::new(dir.path(), None);
        assert!(source.load().unwrap().is_none());
        let (created, origin) = source.create().unwrap();
        assert_eq!(origin, KeyOrigin::File(dir.path().join("master.key")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&source.file)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (loaded, _) = source.load().unwrap().unwrap();
        assert_eq!(loaded.0, created.0);
        // A second create reads the existing file rather than replacing it.
        assert_eq!(source.create().unwrap().0.0, created.0);
        // The environment wins over the file.
        let other = MasterKey::generate().unwrap();
        let env = KeySource::new(dir.path(), Some(other.to_hex()));
        let (from_env, origin) = env.load().unwrap().unwrap();
        assert_eq!((from_env.0, origin), (other.0, KeyOrigin::Env));
    }
}
