//! `butterfly.toml`, the settings of one org repository: the provider, the org's domain, the
//! scopes requested, and how backups run. Never a secret: credentials come from the
//! environment (`provider::okta::credentials`).
//!
//! ```toml
//! provider = "okta"
//!
//! [okta]
//! domain = "acme.okta.com"
//! scopes = ["okta.groups.manage", "okta.users.manage", ...]   # default: the catalogue's list
//!
//! [backup]
//! branch = "main"            # the snapshot branch
//! share = 0.5                # of each rate-limit bucket
//! concurrency = 8            # requests in flight
//! with_user_kinds = false    # per-user kinds (user factors): one request per user
//! exclude_kinds = []
//!
//! [restore]
//! protected_apps = []        # apps (ids or OAuth client ids) a plan never changes
//!
//! [[compliance.waivers]]     # a failing rule accepted for one resource file, until a date
//! rule = "OKTA-PWD-008"
//! path = "okta/policies/PASSWORD/Default Policy.json"
//! reason = "Lockout is enforced by the upstream IdP"
//! approver = "ciso@acme.example"
//! expires = 2026-12-31
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalogue::Catalogue;

/// The file's name at the root of an org repository.
pub const FILE: &str = "butterfly.toml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    pub provider: String,
    pub okta: OktaSettings,
    #[serde(default)]
    pub backup: BackupSettings,
    #[serde(default)]
    pub restore: RestoreSettings,
    #[serde(default, skip_serializing_if = "ComplianceSettings::is_empty")]
    pub compliance: ComplianceSettings,
}

/// How compliance checks run: the waivers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplianceSettings {
    pub waivers: Vec<WaiverSettings>,
}

impl ComplianceSettings {
    fn is_empty(&self) -> bool {
        self.waivers.is_empty()
    }
}

/// One `[[compliance.waivers]]`: a rule's failure accepted for one resource file until a date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaiverSettings {
    /// The rule id (`OKTA-PWD-008`); where it is in the file, for messages.
    pub rule: toml::Spanned<String>,
    /// The resource's file in the org repository (`okta/policies/PASSWORD/Default Policy.json`).
    pub path: String,
    pub reason: String,
    pub approver: String,
    /// The last day the waiver holds (a TOML date: `expires = 2026-12-31`).
    pub expires: toml::value::Datetime,
}

impl WaiverSettings {
    /// The expiry as a date (`check` makes sure there is one and nothing else).
    pub fn expiry(&self) -> Option<chrono::NaiveDate> {
        let date = self.expires.date.filter(|_| self.expires.time.is_none())?;
        chrono::NaiveDate::from_ymd_opt(date.year.into(), date.month.into(), date.day.into())
    }
}

/// How plans and restores run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestoreSettings {
    /// Apps a plan never changes, by id or OAuth client id (besides the token's own client).
    pub protected_apps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OktaSettings {
    /// The org's host or URL (`acme.okta.com`).
    pub domain: String,
    /// Exactly the scopes requested with every token; `None`: the catalogue's list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSettings {
    /// The branch snapshots are committed to.
    pub branch: String,
    /// The share of each Okta rate-limit bucket a backup uses (Okta asks for at most 0.5).
    pub share: f64,
    /// Requests in flight at once (Okta allows 75 per org; keep well below).
    pub concurrency: usize,
    /// Back up per-user kinds (user factors) too.
    pub with_user_kinds: bool,
    /// Kinds never backed up.
    pub exclude_kinds: Vec<String>,
}

impl Default for BackupSettings {
    fn default() -> Self {
        BackupSettings {
            branch: "main".into(),
            share: 0.5,
            concurrency: 8,
            with_user_kinds: false,
            exclude_kinds: Vec::new(),
        }
    }
}

/// A `butterfly.toml` that cannot be used, naming the file and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot be read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {field}: {problem}")]
    Invalid {
        path: PathBuf,
        field: &'static str,
        problem: String,
    },
    #[error(
        "{dir}: no {FILE} here or in any folder above; run butterfly init, or pass -C <org repository>"
    )]
    NotFound { dir: PathBuf },
}

impl OrgConfig {
    /// A new org's settings.
    pub fn new(domain: &str) -> OrgConfig {
        OrgConfig {
            provider: "okta".into(),
            okta: OktaSettings {
                domain: domain.to_string(),
                scopes: None,
            },
            backup: BackupSettings::default(),
            restore: RestoreSettings::default(),
            compliance: ComplianceSettings::default(),
        }
    }

    /// The org repository holding `dir`: the nearest folder upwards with a `butterfly.toml`.
    pub fn find_root(dir: &Path) -> Result<PathBuf, ConfigError> {
        let start = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let mut current = Some(start.as_path());
        while let Some(folder) = current {
            if folder.join(FILE).is_file() {
                return Ok(folder.to_path_buf());
            }
            current = folder.parent();
        }
        Err(ConfigError::NotFound {
            dir: dir.to_path_buf(),
        })
    }

    /// Reads and checks `<root>/butterfly.toml`.
    pub fn load(root: &Path, catalogue: &Catalogue) -> Result<OrgConfig, ConfigError> {
        let path = root.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Self::parse(&text, &path, catalogue)
    }

    /// Parses and checks the text of a `butterfly.toml` read from `path`.
    pub fn parse(text: &str, path: &Path, catalogue: &Catalogue) -> Result<OrgConfig, ConfigError> {
        let config: OrgConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: parse_message(text, &e),
        })?;
        config.check(text, path, catalogue)?;
        Ok(config)
    }

    fn check(&self, text: &str, path: &Path, catalogue: &Catalogue) -> Result<(), ConfigError> {
        let invalid = |field: &'static str, problem: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            field,
            problem,
        };
        if self.provider != "okta" {
            return Err(invalid(
                "provider",
                format!("{:?} is not supported; only \"okta\" is", self.provider),
            ));
        }
        crate::provider::okta::OrgUrl::parse(&self.okta.domain)
            .map_err(|e| invalid("okta.domain", e.to_string()))?;
        if let Some(scopes) = &self.okta.scopes {
            if scopes.is_empty() {
                return Err(invalid(
                    "okta.scopes",
                    "is empty; Okta refuses a token request without scopes (remove the line for the default list)".into(),
                ));
            }
            if let Some(bad) = scopes.iter().find(|s| !s.starts_with("okta.")) {
                return Err(invalid(
                    "okta.scopes",
                    format!("{bad:?} is not an Okta API scope (they start with okta.)"),
                ));
            }
        }
        if !(self.backup.share > 0.0 && self.backup.share <= 1.0) {
            return Err(invalid(
                "backup.share",
                format!(
                    "{} is not a share between 0 (excluded) and 1",
                    self.backup.share
                ),
            ));
        }
        if !(1..=75).contains(&self.backup.concurrency) {
            return Err(invalid(
                "backup.concurrency",
                format!(
                    "{} is not between 1 and 75 (Okta's limit per org)",
                    self.backup.concurrency
                ),
            ));
        }
        if self.backup.branch.trim().is_empty() || self.backup.branch.contains(char::is_whitespace)
        {
            return Err(invalid(
                "backup.branch",
                format!("{:?} is not a branch name", self.backup.branch),
            ));
        }
        if let Some(unknown) = self
            .backup
            .exclude_kinds
            .iter()
            .find(|k| catalogue.kind(k).is_none())
        {
            return Err(invalid(
                "backup.exclude_kinds",
                format!("{unknown:?} is not a kind (butterfly catalogue lists them)"),
            ));
        }
        self.check_waivers(text, path)
    }

    fn check_waivers(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        if self.compliance.waivers.is_empty() {
            return Ok(());
        }
        let rules = crate::compliance::okta_rules().map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            field: "compliance.waivers",
            problem: format!("the rules cannot be loaded to check the waivers: {e}"),
        })?;
        for waiver in &self.compliance.waivers {
            let line = line_of(text, waiver.rule.span().start);
            let invalid = |problem: String| ConfigError::Invalid {
                path: path.to_path_buf(),
                field: "compliance.waivers",
                problem: format!("line {line}: {problem}"),
            };
            let id = waiver.rule.get_ref();
            if rules.get(id).is_none() {
                return Err(invalid(format!(
                    "rule {id:?} is not a rule (butterfly rules list names them)"
                )));
            }
            if waiver.path.trim().is_empty() {
                return Err(invalid(format!("the waiver of {id} names no path")));
            }
            if waiver.reason.trim().is_empty() || waiver.approver.trim().is_empty() {
                return Err(invalid(format!(
                    "the waiver of {id} needs a reason and an approver"
                )));
            }
            if waiver.expiry().is_none() {
                return Err(invalid(format!(
                    "the waiver of {id} expires {}: not a date (write expires = 2026-12-31)",
                    waiver.expires
                )));
            }
        }
        Ok(())
    }

    /// The scopes every token request asks for.
    pub fn scopes(&self, catalogue: &Catalogue) -> Vec<String> {
        self.okta
            .scopes
            .clone()
            .unwrap_or_else(|| catalogue.requested_scopes())
    }

    /// The file's text as `butterfly init` writes it, with the scopes spelled out so they can
    /// be edited.
    pub fn to_text(&self, catalogue: &Catalogue) -> String {
        let scopes = self.scopes(catalogue);
        let mut text = String::new();
        text.push_str("# Butterfly's settings for this org repository. Never put a secret here:\n");
        text.push_str("# credentials come from OKTA_CLIENT_ID + OKTA_CLIENT_SECRET or OKTA_PRIVATE_KEY, or OKTA_API_TOKEN.\n");
        text.push_str("provider = \"okta\"\n\n[okta]\n");
        text.push_str(&format!("domain = {}\n", toml_string(&self.okta.domain)));
        text.push_str("# Requested with every token: exactly these must be granted to the app (Okta API Scopes).\n");
        text.push_str("scopes = [\n");
        for scope in &scopes {
            text.push_str(&format!("  {},\n", toml_string(scope)));
        }
        text.push_str("]\n\n[backup]\n");
        text.push_str("# The branch snapshots are committed to.\n");
        text.push_str(&format!("branch = {}\n", toml_string(&self.backup.branch)));
        text.push_str("# The share of each Okta rate-limit bucket a backup uses (Okta asks integrations for at most 0.5).\n");
        text.push_str(&format!("share = {}\n", self.backup.share));
        text.push_str("# Requests in flight at once (Okta allows 75 per org).\n");
        text.push_str(&format!("concurrency = {}\n", self.backup.concurrency));
        text.push_str("# Per-user kinds (user factors): one request per user, and their profiles hold phone numbers.\n");
        text.push_str(&format!(
            "with_user_kinds = {}\n",
            self.backup.with_user_kinds
        ));
        text.push_str("exclude_kinds = []\n\n[restore]\n");
        text.push_str("# Apps (ids or OAuth client ids) a plan never changes, besides Butterfly's own client.\n");
        text.push_str("protected_apps = []\n\n");
        text.push_str("# Compliance waivers: a rule's failure accepted for one resource file until a date (inclusive).\n");
        text.push_str("# [[compliance.waivers]]\n");
        text.push_str("# rule = \"OKTA-PWD-008\"\n");
        text.push_str("# path = \"okta/policies/PASSWORD/Default Policy.json\"\n");
        text.push_str("# reason = \"Lockout is enforced upstream\"\n");
        text.push_str("# approver = \"ciso@example.com\"\n");
        text.push_str("# expires = 2026-12-31\n");
        text
    }
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..text.len().min(offset)].matches('\n').count() + 1
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// toml's message, which names the line and column, on one line.
fn parse_message(text: &str, error: &toml::de::Error) -> String {
    let mut message = error.message().to_string();
    if let Some(span) = error.span() {
        let before = &text[..text.len().min(span.start)];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        message = format!("line {line}, column {column}: {message}");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<OrgConfig, ConfigError> {
        OrgConfig::parse(
            text,
            Path::new("/repo/butterfly.toml"),
            Catalogue::okta().unwrap(),
        )
    }

    #[test]
    fn what_init_writes_reads_back() {
        let catalogue = Catalogue::okta().unwrap();
        let config = OrgConfig::new("acme.okta.com");
        let read = parse(&config.to_text(catalogue)).unwrap();
        assert_eq!(read.okta.domain, "acme.okta.com");
        assert_eq!(read.scopes(catalogue), catalogue.requested_scopes());
        assert_eq!(read.backup, BackupSettings::default());
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let config = parse("provider = \"okta\"\n[okta]\ndomain = \"acme.okta.com\"\n").unwrap();
        assert_eq!(config.backup.branch, "main");
        assert_eq!(config.okta.scopes, None);
    }

    #[test]
    fn mistakes_name_the_file_the_line_and_the_field() {
        for (text, expect) in [
            (
                "provider = \"okta\"\n[okta]\ndomain = 3\n",
                "/repo/butterfly.toml: line 3, column 10",
            ),
            (
                "provider = \"okta\"\n[okta]\ndomain = \"a.okta.com\"\ncolour = 1\n",
                "unknown field `colour`",
            ),
            (
                "provider = \"auth0\"\n[okta]\ndomain = \"a.okta.com\"\n",
                "provider: \"auth0\" is not supported",
            ),
            (
                "provider = \"okta\"\n[okta]\ndomain = \"http://a.okta.com\"\n",
                "okta.domain",
            ),
            (
                "provider = \"okta\"\n[okta]\ndomain = \"a.okta.com\"\nscopes = []\n",
                "okta.scopes: is empty",
            ),
            (
                "provider = \"okta\"\n[okta]\ndomain = \"a.okta.com\"\n[backup]\nshare = 1.5\n",
                "backup.share",
            ),
            (
                "provider = \"okta\"\n[okta]\ndomain = \"a.okta.com\"\n[backup]\nconcurrency = 100\n",
                "backup.concurrency",
            ),
            (
                "provider = \"okta\"\n[okta]\ndomain = \"a.okta.com\"\n[backup]\nexclude_kinds = [\"gruop\"]\n",
                "\"gruop\" is not a kind",
            ),
        ] {
            let error = parse(text).unwrap_err().to_string();
            assert!(error.contains(expect), "{text}\n=> {error}");
            assert!(error.starts_with("/repo/butterfly.toml"), "{error}");
        }
    }

    const BASE: &str = "provider = \"okta\"\n[okta]\ndomain = \"a.okta.com\"\n";

    #[test]
    fn waivers_are_read_with_their_dates() {
        let text = format!(
            "{BASE}\n[[compliance.waivers]]\nrule = \"OKTA-PWD-008\"\npath = \"okta/policies/PASSWORD/Default Policy.json\"\nreason = \"upstream IdP locks\"\napprover = \"ciso@acme.example\"\nexpires = 2026-12-31\n"
        );
        let config = parse(&text).unwrap();
        let waiver = &config.compliance.waivers[0];
        assert_eq!(waiver.rule.get_ref(), "OKTA-PWD-008");
        assert_eq!(
            waiver.expiry(),
            chrono::NaiveDate::from_ymd_opt(2026, 12, 31)
        );
        // Without waivers the section is optional, and init's file has none.
        assert!(parse(BASE).unwrap().compliance.waivers.is_empty());
    }

    #[test]
    fn a_waiver_of_an_unknown_rule_names_its_line() {
        let text = format!(
            "{BASE}\n[[compliance.waivers]]\nrule = \"OKTA-PWD-999\"\npath = \"okta/x.json\"\nreason = \"r\"\napprover = \"a\"\nexpires = 2026-12-31\n"
        );
        let error = parse(&text).unwrap_err().to_string();
        assert_eq!(
            error,
            "/repo/butterfly.toml: compliance.waivers: line 6: rule \"OKTA-PWD-999\" is not a rule (butterfly rules list names them)"
        );
        let text = format!(
            "{BASE}[[compliance.waivers]]\nrule = \"OKTA-PWD-008\"\npath = \"okta/x.json\"\nreason = \"r\"\napprover = \"a\"\nexpires = 2026-12-31T10:00:00Z\n"
        );
        let error = parse(&text).unwrap_err().to_string();
        assert!(
            error.contains(
                "line 5: the waiver of OKTA-PWD-008 expires 2026-12-31T10:00:00Z: not a date"
            ),
            "{error}"
        );
        let text = format!(
            "{BASE}[[compliance.waivers]]\nrule = \"OKTA-PWD-008\"\npath = \"okta/x.json\"\napprover = \"a\"\nexpires = 2026-12-31\n"
        );
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains("missing field `reason`"), "{error}");
    }

    #[test]
    fn the_root_is_found_upwards() {
        let dir = std::env::temp_dir().join(format!("bt-config-{}", std::process::id()));
        let deep = dir.join("okta/groups");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(dir.join(FILE), "").unwrap();
        assert_eq!(
            OrgConfig::find_root(&deep).unwrap(),
            dir.canonicalize().unwrap()
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(
            OrgConfig::find_root(Path::new("/")),
            Err(ConfigError::NotFound { .. })
        ));
    }
}
