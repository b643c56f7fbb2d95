//! `butterfly report` (the Audit Pack PDF) and `butterfly report verify` as a user runs them,
//! on an org repository backed up from the simulator's `small` fixture with a waiver in
//! `butterfly.toml`: the PDF's text (read back with poppler's `pdftotext`) has the cover, a
//! summary per control, findings with their file, field, value and remediation, the waiver with
//! its approver, and a SHA-256 that is the JSON report's; the same tree and time give the same
//! bytes; `verify` accepts the file and refuses an edited one or one the repository no longer
//! gives.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::support::cli::{Env, Run, backup, basic, butterfly, init};
use crate::support::sim::Sim;

/// The time every report here is made at, so runs compare.
const AS_OF: &str = "2026-06-01T00:00:00Z";

struct Org {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

const WAIVER: &str = "\n[[compliance.waivers]]\nrule = \"OKTA-APP-002\"\npath = \"okta/apps/IT Help Center.json\"\nreason = \"Help desk requests are approved by a manager\"\napprover = \"ciso@small.example\"\nexpires = 2099-12-31\n";

fn org() -> &'static Org {
    static ONCE: OnceLock<Org> = OnceLock::new();
    ONCE.get_or_init(|| {
        let sim = Sim::start_unlimited("small");
        let (tmp, dir) = init(&sim);
        let first = backup(&dir, &[], &basic(&sim));
        assert_eq!(first.code, 0, "{}", first.text());
        let config = dir.join("butterfly.toml");
        let base = std::fs::read_to_string(&config).unwrap();
        std::fs::write(&config, format!("{base}{WAIVER}")).unwrap();
        Org { _tmp: tmp, dir }
    })
}

fn run(dir: &Path, args: &[&str]) -> Run {
    butterfly(dir, args, &Env::new())
}

/// `report --framework soc2 --as-of AS_OF --out <tmp>/NAME`: the PDF's path.
fn make(dir: &Path, out: &Path, extra: &[&str]) -> Run {
    let out = out.to_string_lossy().to_string();
    let mut args = vec![
        "report",
        "--framework",
        "soc2",
        "--as-of",
        AS_OF,
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    run(dir, &args)
}

/// The PDF's text by `pdftotext -layout`; `None` (a loud skip, or a failure under
/// `BUTTERFLY_REQUIRE_ALL`) when poppler-utils is not installed.
fn pdftotext(pdf: &Path) -> Option<String> {
    match Command::new("pdftotext")
        .arg("-layout")
        .arg(pdf)
        .arg("-")
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "pdftotext {}: {}",
                pdf.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Err(e) => {
            let message = format!(
                "SKIPPED: pdftotext (Debian's poppler-utils) cannot run ({e}); .ci/run installs it"
            );
            if std::env::var_os("BUTTERFLY_REQUIRE_ALL").is_some_and(|v| v != "0" && !v.is_empty())
            {
                panic!("{message} (BUTTERFLY_REQUIRE_ALL is set, so a skip is a failure)");
            }
            eprintln!("{message}");
            None
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Text with runs of spaces folded (pdftotext -layout pads columns).
fn folded(text: &str) -> String {
    text.split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_audit_pack_has_cover_controls_findings_waivers_and_the_data_hash() {
    let org = org();
    let tmp = tempfile::tempdir().unwrap();
    let pdf = tmp.path().join("audit.pdf");
    let made = make(&org.dir, &pdf, &[]);
    assert_eq!(made.code, 0, "{}", made.text());
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));

    // The hash is the SHA-256 of `check --format json` for the same commit, framework,
    // profile and time.
    let commit = crate::support::cli::git(&org.dir, &["rev-parse", "main"])
        .trim()
        .to_string();
    let json = run(
        &org.dir,
        &[
            "check",
            "--format",
            "json",
            "--framework",
            "soc2",
            "--as-of",
            AS_OF,
            "--ref",
            &commit,
        ],
    );
    assert_eq!(json.code, 2, "{}", json.text());
    let sha = sha256_hex(json.stdout.as_bytes());
    assert!(
        made.stdout.contains(&format!("report data SHA-256 {sha}")),
        "{}",
        made.stdout
    );

    let Some(text) = pdftotext(&pdf) else {
        return;
    };
    let flat = folded(&text);
    // Cover.
    for needle in [
        "Butterfly Audit Pack",
        "SOC 2 (Trust Services Criteria)",
        "Snapshot commit:",
        &commit,
        "Evaluated as of:",
        AS_OF,
        "Profile:",
        "baseline",
        "Report data SHA-256:",
        &sha,
        &format!("butterfly-audit-pack/1 commit={commit} framework=soc2 profile=baseline"),
    ] {
        assert!(flat.contains(needle), "no {needle:?} in:\n{text}");
    }
    let domain = std::fs::read_to_string(org.dir.join("butterfly.toml")).unwrap();
    let domain = domain
        .lines()
        .find_map(|l| l.strip_prefix("domain = "))
        .unwrap()
        .trim_matches('"')
        .to_string();
    assert!(
        flat.contains(&format!("Org: {domain}")) || flat.contains(&domain),
        "{text}"
    );
    // A summary per control.
    assert!(flat.contains("Summary per control (soc2)"), "{text}");
    let cc61 = flat.split("CC6.1: ").nth(1).expect("a CC6.1 summary line");
    assert!(
        cc61.starts_with("pass ")
            && cc61.contains(", fail ")
            && cc61.contains(", waived ")
            && cc61.contains(", not evaluated "),
        "{}",
        &cc61[..cc61.len().min(200)]
    );
    // A finding: its file, field, value and remediation.
    assert!(flat.contains("OKTA-PWD-008 (high, fail)"), "{text}");
    assert!(
        flat.contains("[FAIL] okta/policies/PASSWORD/Default Policy.json"),
        "{text}"
    );
    assert!(
        flat.contains("settings.password.lockout.maxAttempts = 0"),
        "{text}"
    );
    assert!(
        flat.contains("Remediation: Security > Authenticators > Password"),
        "{text}"
    );
    // The waiver, on its finding and in the list, with its approver.
    assert!(
        flat.contains("[waived] okta/apps/IT Help Center.json"),
        "{text}"
    );
    assert!(
        flat.contains("Waiver approved by ciso@small.example"),
        "{text}"
    );
    assert!(
        flat.contains("OKTA-APP-002 at okta/apps/IT Help Center.json"),
        "{text}"
    );
    assert!(
        flat.contains("Approved by ciso@small.example, expires 2099-12-31 (in force)"),
        "{text}"
    );
    // Characters Helvetica cannot show are replaced, not mojibake: the `研究開発チーム` group
    // appears nowhere as raw UTF-8 bytes.
    assert!(!text.contains('Ã'), "mojibake in:\n{text}");
    // Long findings lists span pages: cover, controls, findings (several), waivers.
    let pages = text.matches('\u{c}').count();
    assert!(pages >= 5, "{pages} pages");
    assert!(flat.contains(&format!("page 1 of {pages}")), "{text}");
}

#[test]
fn the_same_tree_and_time_give_the_same_bytes() {
    let org = org();
    let tmp = tempfile::tempdir().unwrap();
    let (first, second) = (tmp.path().join("1.pdf"), tmp.path().join("2.pdf"));
    assert_eq!(make(&org.dir, &first, &[]).code, 0);
    assert_eq!(make(&org.dir, &second, &["--ref", "main"]).code, 0);
    let (a, b) = (
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap(),
    );
    assert!(
        a == b,
        "two runs differ ({} and {} bytes)",
        a.len(),
        b.len()
    );
    // Another time is another report.
    let later = tmp.path().join("later.pdf");
    let out = later.to_string_lossy().to_string();
    let run = run(
        &org.dir,
        &[
            "report",
            "--framework",
            "soc2",
            "--as-of",
            "2026-07-01",
            "--out",
            &out,
        ],
    );
    assert_eq!(run.code, 0, "{}", run.text());
    assert_ne!(std::fs::read(&later).unwrap(), a);
}

#[test]
fn verify_accepts_the_pdf_and_refuses_an_edited_one_or_changed_data() {
    let org = org();
    let tmp = tempfile::tempdir().unwrap();
    let pdf = tmp.path().join("audit.pdf");
    assert_eq!(make(&org.dir, &pdf, &["--profile", "stig"]).code, 0);
    let path = pdf.to_string_lossy().to_string();

    let ok = run(&org.dir, &["report", "verify", &path]);
    assert_eq!(ok.code, 0, "{}", ok.text());
    assert!(
        ok.stdout.contains("matches the repository"),
        "{}",
        ok.stdout
    );
    assert!(
        ok.stdout.contains("framework soc2, profile stig"),
        "{}",
        ok.stdout
    );
    // -C after the subcommand names the repository.
    let elsewhere = tempfile::tempdir().unwrap();
    let with_c = Command::new(env!("CARGO_BIN_EXE_butterfly"))
        .current_dir(elsewhere.path())
        .args(["report", "verify", &path, "-C"])
        .arg(&org.dir)
        .output()
        .unwrap();
    let with_c = Run::from(with_c);
    assert_eq!(with_c.code, 0, "{}", with_c.text());

    // A byte edited in the file (the content, not the stamp): refused, saying so.
    let mut bytes = std::fs::read(&pdf).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x01;
    let edited = tmp.path().join("edited.pdf");
    std::fs::write(&edited, &bytes).unwrap();
    let refused = run(&org.dir, &["report", "verify", &edited.to_string_lossy()]);
    assert_eq!(refused.code, 2, "{}", refused.text());
    assert!(
        refused.stdout.contains("does NOT match"),
        "{}",
        refused.stdout
    );
    assert!(
        refused.stdout.contains("edited after it was made"),
        "{}",
        refused.stdout
    );

    // The repository no longer gives the same data: a waiver withdrawn from butterfly.toml.
    let copy = tempfile::tempdir().unwrap();
    let moved = copy.path().join("org");
    let status = Command::new("cp")
        .arg("-R")
        .arg(&org.dir)
        .arg(&moved)
        .status()
        .unwrap();
    assert!(status.success());
    let config = moved.join("butterfly.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace(WAIVER, "")).unwrap();
    let changed = run(&moved, &["report", "verify", &path]);
    assert_eq!(changed.code, 2, "{}", changed.text());
    assert!(
        changed.stdout.contains("the report's data differ"),
        "{}",
        changed.stdout
    );

    // A repository without that commit.
    let other = Sim::start_unlimited("tiny");
    let (_tmp, fresh) = init(&other);
    assert_eq!(backup(&fresh, &[], &basic(&other)).code, 0);
    let missing = run(&fresh, &["report", "verify", &path]);
    assert_eq!(missing.code, 2, "{}", missing.text());
    assert!(
        missing.stdout.contains("is not in this repository"),
        "{}",
        missing.stdout
    );

    // A file that is no Audit Pack is a usage error.
    let plain = tmp.path().join("plain.pdf");
    std::fs::write(&plain, b"%PDF-1.3\nnothing here\n").unwrap();
    let not_ours = run(&org.dir, &["report", "verify", &plain.to_string_lossy()]);
    assert_eq!(not_ours.code, 3, "{}", not_ours.text());
    assert!(
        not_ours.stderr.contains("not an Audit Pack"),
        "{}",
        not_ours.stderr
    );
}

#[test]
fn usage_errors_exit_3() {
    let org = org();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x.pdf").to_string_lossy().to_string();
    for args in [
        vec!["report", "--out", out.as_str()],
        vec!["report", "--framework", "soc2"],
        vec!["report", "--framework", "nope", "--out", out.as_str()],
        vec![
            "report",
            "--framework",
            "soc2",
            "--ref",
            "WORKTREE",
            "--out",
            out.as_str(),
        ],
        vec![
            "report",
            "--framework",
            "soc2",
            "--as-of",
            "soon",
            "--out",
            out.as_str(),
        ],
    ] {
        let run = run(&org.dir, &args);
        assert_eq!(run.code, 3, "{args:?}: {}", run.text());
        assert!(!run.stderr.is_empty(), "{args:?}");
    }
    assert!(!Path::new(&out).exists());
}
