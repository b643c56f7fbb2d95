//! The file layout of an org repository (DESIGN.md): where each object's canonical file lives.
//! Paths come from the kind's file template and the object's natural key; every value is
//! escaped into one path component that is valid and stable on Linux, macOS and Windows; when
//! two objects would get the same path (also when they differ only in letter case, as on
//! case-insensitive file systems), every one of them gets `~<id>` appended.
//!
//! Pure: it names files, it never touches the disk.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::catalogue::{FilePart, Kind, Variant};

/// The folder of an org repository holding Okta's objects.
pub const ROOT: &str = "okta";

/// The longest escaped name kept whole, in bytes; longer names are cut and get a hash suffix,
/// leaving room in a 255-byte file name for `~<id>` and `.json`.
const MAX_NAME: usize = 180;

/// An object that cannot be named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error(
        "{kind} {id}: its natural key `{field}` is missing or not a string or number, so its file cannot be named"
    )]
    MissingKey {
        kind: String,
        id: String,
        field: String,
    },
    #[error("{kind} {id}: nested under a parent, but no parent path was given")]
    NoParent { kind: String, id: String },
}

/// Escapes one name into a single path component: `%XX` for bytes that are unsafe on some
/// system (`< > : " / \ | ? * % ~`, control characters), a leading `.`, a trailing `.` or
/// space, and the first letter of Windows device names (`CON`, `NUL`, `COM1`, ...). Names
/// longer than 180 bytes are cut and end in `~~` and 12 hex digits of their SHA-256.
pub fn escape_component(name: &str) -> String {
    if name.is_empty() {
        return "%00".to_string();
    }
    let mut out = String::with_capacity(name.len());
    let last = name.chars().count() - 1;
    for (i, c) in name.chars().enumerate() {
        let unsafe_char = matches!(
            c,
            '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*' | '%' | '~'
        ) || c.is_control()
            || (i == 0 && c == '.')
            || (i == last && (c == '.' || c == ' '))
            || (i == 0 && is_device_name(name));
        if unsafe_char {
            let mut buffer = [0u8; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                let _ = write!(out, "%{byte:02X}");
            }
        } else {
            out.push(c);
        }
    }
    if out.len() > MAX_NAME {
        let mut cut = MAX_NAME - 16;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        // Do not split a %XX escape.
        if let Some(percent) = out[..cut].rfind('%')
            && cut - percent < 3
        {
            cut = percent;
        }
        let digest = Sha256::digest(name.as_bytes());
        let mut shortened = out[..cut].to_string();
        shortened.push_str("~~");
        for byte in digest.iter().take(6) {
            let _ = write!(shortened, "{byte:02x}");
        }
        return shortened;
    }
    out
}

fn is_device_name(name: &str) -> bool {
    let stem = name
        .split('.')
        .next()
        .unwrap_or(name)
        .trim_end()
        .to_ascii_uppercase();
    matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit())
}

/// The value of a natural-key field as text, if it is a string or a number.
fn key_text(object: &Value, path: &crate::catalogue::FieldPath) -> Option<String> {
    match path.get(object)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The path of an object's file without `.json` and without the collision suffix, relative to
/// the repository (`okta/groups/Engineering`). `parent` is the parent object's stem for
/// nested kinds.
pub fn stem(
    kind: &Kind,
    variant: &Variant,
    object: &Value,
    parent: Option<&str>,
) -> Result<String, LayoutError> {
    let id = kind
        .id
        .as_ref()
        .and_then(|id| key_text(object, id))
        .unwrap_or_else(|| "(no id)".to_string());
    let mut out = String::new();
    if !variant.file.has_parent() {
        out.push_str(ROOT);
        out.push('/');
    }
    for part in &variant.file.parts {
        match part {
            FilePart::Literal(text) => out.push_str(text),
            FilePart::Parent => match parent {
                Some(parent) => out.push_str(parent),
                None => {
                    return Err(LayoutError::NoParent {
                        kind: kind.name.clone(),
                        id,
                    });
                }
            },
            FilePart::Field(path) => {
                let Some(text) = key_text(object, path) else {
                    return Err(LayoutError::MissingKey {
                        kind: kind.name.clone(),
                        id,
                        field: path.to_string(),
                    });
                };
                out.push_str(&escape_component(&text));
            }
        }
    }
    Ok(out)
}

/// Makes stems unique: every member of a set of stems that are equal ignoring letter case gets
/// `~<id>` (escaped) appended, so adding a second "Jira" app renames the first, never swaps
/// them silently. Returns the final stems in the input order.
pub fn disambiguate(stems: &[(String, String)]) -> Vec<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (stem, _) in stems {
        *counts.entry(stem.to_lowercase()).or_default() += 1;
    }
    stems
        .iter()
        .map(|(stem, id)| {
            if counts[&stem.to_lowercase()] > 1 {
                format!("{stem}~{}", escape_component(id))
            } else {
                stem.clone()
            }
        })
        .collect()
}

/// A stem's file path: `<stem>.json`.
pub fn file_path(stem: &str) -> String {
    format!("{stem}.json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn escapes_what_some_file_system_refuses() {
        for (name, escaped) in [
            ("Engineering", "Engineering"),
            ("Sales / EMEA", "Sales %2F EMEA"),
            ("..", "%2E%2E"),
            (".hidden", "%2Ehidden"),
            ("a:b", "a%3Ab"),
            ("100%", "100%25"),
            ("trailing.", "trailing%2E"),
            ("trailing ", "trailing%20"),
            ("CON", "%43ON"),
            ("com1.txt", "%63om1.txt"),
            ("Console", "Console"),
            ("tab\there", "tab%09here"),
            ("ünïcødé 日本", "ünïcødé 日本"),
            ("~id", "%7Eid"),
            ("", "%00"),
        ] {
            assert_eq!(escape_component(name), escaped, "{name:?}");
        }
    }

    #[test]
    fn long_names_are_cut_with_a_stable_hash() {
        let long = "x".repeat(400);
        let escaped = escape_component(&long);
        assert!(escaped.len() <= MAX_NAME, "{}", escaped.len());
        assert!(escaped.contains("~~"));
        assert_eq!(escaped, escape_component(&long));
        assert_ne!(escaped, escape_component(&"x".repeat(401)));
        let percent = "/".repeat(200);
        let escaped = escape_component(&percent);
        let before_hash = escaped.split("~~").next().unwrap();
        assert!(
            before_hash.len().is_multiple_of(3),
            "no %XX is split: {escaped}"
        );
    }

    #[test]
    fn collisions_get_the_id_on_every_member_also_across_case() {
        let stems = vec![
            ("okta/apps/Jira".to_string(), "0oa1".to_string()),
            ("okta/apps/jira".to_string(), "0oa2".to_string()),
            ("okta/apps/Slack".to_string(), "0oa3".to_string()),
        ];
        assert_eq!(
            disambiguate(&stems),
            vec![
                "okta/apps/Jira~0oa1",
                "okta/apps/jira~0oa2",
                "okta/apps/Slack"
            ]
        );
    }

    #[test]
    fn stems_follow_the_kinds_template() {
        let catalogue = Catalogue::okta().unwrap();
        let policy = catalogue.kind("policy").unwrap();
        let object = json!({"id": "00p1", "type": "OKTA_SIGN_ON", "name": "Default Policy"});
        let policy_stem = stem(policy, policy.primary(), &object, None).unwrap();
        assert_eq!(policy_stem, "okta/policies/OKTA_SIGN_ON/Default Policy");
        let rule = catalogue.kind("policy_rule").unwrap();
        let rule_stem = stem(
            rule,
            rule.primary(),
            &json!({"id": "0pr1", "name": "A/B"}),
            Some(&policy_stem),
        )
        .unwrap();
        assert_eq!(
            rule_stem,
            "okta/policies/OKTA_SIGN_ON/Default Policy/rules/A%2FB"
        );
        let error = stem(
            policy,
            policy.primary(),
            &json!({"id": "00p2", "type": "PASSWORD"}),
            None,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "policy 00p2: its natural key `name` is missing or not a string or number, so its file cannot be named"
        );
    }

    proptest! {
        #[test]
        fn escaped_names_are_single_safe_components(name in "\\PC{0,300}") {
            let escaped = escape_component(&name);
            prop_assert!(!escaped.is_empty());
            prop_assert!(escaped.len() <= MAX_NAME);
            prop_assert!(!escaped.contains('/') && !escaped.contains('\\'));
            prop_assert!(!escaped.chars().any(|c| c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*')));
            prop_assert!(!escaped.starts_with('.') && !escaped.ends_with('.') && !escaped.ends_with(' '));
            prop_assert!(!is_device_name(&escaped));
        }

        #[test]
        fn distinct_short_names_stay_distinct(a in "\\PC{0,40}", b in "\\PC{0,40}") {
            prop_assume!(a != b);
            prop_assert_ne!(escape_component(&a), escape_component(&b));
        }
    }
}
