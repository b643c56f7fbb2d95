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
    assert!(
        text.contains("D okta/group-rules/Engineering - auto.json"),
        "{text}"
    );
    assert!(
        text.contains(
            "M okta/policies/OKTA_SIGN_ON/Contractors/rules/Contractors – remember device.json"
        ),
        "{text}"
    );
    assert!(text.contains("-      \"requireFactor\": true,"), "{text}");
    assert!(text.contains("+      \"requireFactor\": false,"), "{text}");
    assert!(text.contains("policy.rule.update"), "{text}");
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
