//! `butterfly demo`, README's first command: a backup, two risky changes, a backup, and what
//! changed, with no Okta org.

use std::process::Command;

#[test]
fn the_demo_shows_the_two_changes_and_who_made_them() {
    let dir = std::env::temp_dir().join(format!("bt-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(env!("CARGO_BIN_EXE_butterfly"))
        .args(["demo", "--dir"])
        .arg(&dir)
        .env_remove("BUTTERFLY_FINGERPRINT_KEY")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The semantic diff: the removed rule with the group it fed, the loosened sign-on rule
    // field by field, and who did both.
    for expected in [
        "removed group_rule \"Engineering - auto\" (0pr1smgrengauto00000)",
        "file okta/group-rules/Engineering - auto.json",
        "[group 00g1smgdept000000000 (Engineering)]",
        "changed policy_rule \"Contractors – remember device\"",
        "~ /actions/signon/requireFactor: true → false",
        "~ /actions/signon/session/maxSessionIdleMinutes: 480 → 1440",
        "admin@simulator.example (User) policy.rule.update",
        "admin@simulator.example (User) group_rule.lifecycle.delete",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }
    assert!(!text.contains(".butterfly/index.json"), "{text}");
    // init, and two snapshots.
    let log = Command::new("git")
        .args(["-C"])
        .arg(&dir)
        .args(["rev-list", "--count", "main"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&log.stdout).trim(), "3");
    // A second demo into the same folder is refused.
    let again = Command::new(env!("CARGO_BIN_EXE_butterfly"))
        .args(["demo", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(3));
    let _ = std::fs::remove_dir_all(&dir);
}
