//! `report`: the Audit Pack PDF of one snapshot against one framework, and `report verify`,
//! which re-runs the same check from the repository and compares.
//!
//! A report is made from a commit only (the working tree could not be verified later): the
//! revision is resolved as `check` resolves it, then named by its commit id in the report's
//! data, so the data hashed (`compliance::pdf::data_sha256`, the JSON report's bytes) does not
//! depend on how the revision was spelled. `verify` reads the stamp the PDF carries (commit,
//! framework, profile, as-of time, data SHA-256), runs the check again with them, and compares
//! the data's hash, then the whole file with the PDF those data render.

use chrono::{DateTime, Utc};

use crate::catalogue::Catalogue;
use crate::compliance::pdf::{self, Pack, Stamp};
use crate::compliance::waiver::Waiver;
use crate::compliance::{Framework, Profile, Rules, Severity};
use crate::ops::check::{self, CheckError, Options};
use crate::ops::diff::Opened;

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub framework: Framework,
    pub profile: Profile,
    /// The revision; default: the latest snapshot.
    pub rev: Option<String>,
    /// `now` of the rules; default: the commit's time.
    pub as_of: Option<DateTime<Utc>>,
}

/// Why a report could not be made or checked.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error(
        "{rev} is not a commit: an Audit Pack is made from a snapshot, so that `report verify` can check it later"
    )]
    NotACommit { rev: String },
    #[error("{file}: not an Audit Pack made by butterfly: it carries no `{mark}` stamp")]
    NoStamp { file: String, mark: &'static str },
    #[error("{file}: its Audit Pack stamp is unreadable: {problem}")]
    BadStamp { file: String, problem: String },
}

/// A made report: the PDF's bytes and the stamp it carries.
pub struct Made {
    pub pdf: Vec<u8>,
    pub stamp: Stamp,
}

/// Makes the Audit Pack.
pub fn make(
    opened: &Opened,
    catalogue: &Catalogue,
    rules: &Rules,
    options: &ReportOptions,
) -> Result<Made, ReportError> {
    let check_options = Options {
        rev: options.rev.clone(),
        framework: Some(options.framework),
        profile: options.profile,
        min_severity: Severity::Low,
        fail_on: Severity::High,
        as_of: options.as_of,
        baseline: None,
    };
    let mut report = check::run(opened, catalogue, rules, &check_options)?;
    let Some(commit) = report.revision.commit.clone() else {
        return Err(ReportError::NotACommit {
            rev: report.revision.rev.clone(),
        });
    };
    // The data is about a commit, however the revision was spelled.
    report.revision.rev = commit;
    let waivers = Waiver::from_config(&opened.config.compliance);
    let pack = Pack {
        org: &opened.config.okta.domain,
        framework: options.framework,
        waivers: &waivers,
    };
    let pdf = pdf::render(&pack, &report);
    let stamp = Stamp {
        commit: report.revision.rev.clone(),
        framework: options.framework,
        profile: options.profile,
        as_of: report.now.clone(),
        data_sha256: pdf::data_sha256(&report),
    };
    Ok(Made { pdf, stamp })
}

/// What `verify` found.
#[derive(Debug)]
pub struct Verdict {
    pub stamp: Stamp,
    /// Empty when the PDF matches; else what differs, one sentence each.
    pub differences: Vec<String>,
}

/// Checks a PDF against the repository: the commit must be there, the check it records must
/// give the same data (hash), and those data must render to the same bytes.
pub fn verify(
    opened: &Opened,
    catalogue: &Catalogue,
    rules: &Rules,
    file: &str,
    pdf: &[u8],
) -> Result<Verdict, ReportError> {
    let stamp = match Stamp::find(pdf) {
        None => {
            return Err(ReportError::NoStamp {
                file: file.to_string(),
                mark: pdf::STAMP_MARK,
            });
        }
        Some(Err(problem)) => {
            return Err(ReportError::BadStamp {
                file: file.to_string(),
                problem,
            });
        }
        Some(Ok(stamp)) => stamp,
    };
    let mut differences = Vec::new();
    let as_of = DateTime::parse_from_rfc3339(&stamp.as_of)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ReportError::BadStamp {
            file: file.to_string(),
            problem: format!("as-of {}: {e}", stamp.as_of),
        })?;
    let options = ReportOptions {
        framework: stamp.framework,
        profile: stamp.profile,
        rev: Some(stamp.commit.clone()),
        as_of: Some(as_of),
    };
    let made = match make(opened, catalogue, rules, &options) {
        Ok(made) => made,
        Err(ReportError::Check(CheckError::Revision(e))) => {
            differences.push(format!(
                "the snapshot commit {} is not in this repository ({e})",
                stamp.commit
            ));
            return Ok(Verdict { stamp, differences });
        }
        Err(e) => return Err(e),
    };
    if made.stamp.data_sha256 != stamp.data_sha256 {
        differences.push(format!(
            "the report's data differ: the PDF records SHA-256 {}, the repository gives {} for commit {}, framework {}, profile {}, as of {} (the rules, or butterfly.toml's waivers, changed since the PDF was made)",
            stamp.data_sha256,
            made.stamp.data_sha256,
            stamp.commit,
            stamp.framework.as_str(),
            stamp.profile.as_str(),
            stamp.as_of
        ));
    } else if made.pdf != pdf {
        let at = made
            .pdf
            .iter()
            .zip(pdf)
            .position(|(a, b)| a != b)
            .unwrap_or(made.pdf.len().min(pdf.len()));
        differences.push(format!(
            "the file differs from the Audit Pack its data render ({} bytes expected, {} found, first difference at byte {at}): it was edited after it was made, or made by another version of butterfly",
            made.pdf.len(),
            pdf.len()
        ));
    }
    Ok(Verdict { stamp, differences })
}
