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

use crate::catalogue::{Catalogue, FilePart, Kind, Variant};

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

/// One segment of a kind's expanded file pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PatternSegment {
    Literal(String),
    /// A segment holding at least one natural-key value.
    Key,
}

/// A kind's file pattern as segments, ancestors expanded, and how many of them are the
/// parent's stem.
fn pattern(catalogue: &Catalogue, variant: &Variant) -> (Vec<PatternSegment>, usize) {
    let mut segments = Vec::new();
    let mut parent_len = 0;
    if !variant.file.has_parent() {
        segments.push(PatternSegment::Literal(ROOT.to_string()));
    }
    let mut current: Option<(String, bool)> = None; // (literal text so far, holds a key)
    for part in &variant.file.parts {
        match part {
            FilePart::Parent => {
                if let Some(parent) = variant.parent.as_deref().and_then(|p| catalogue.kind(p)) {
                    let (parent_segments, _) = pattern(catalogue, parent.primary());
                    parent_len = parent_segments.len();
                    segments.extend(parent_segments);
                }
            }
            FilePart::Literal(text) => {
                let mut pieces = text.split('/').peekable();
                while let Some(piece) = pieces.next() {
                    let entry = current.get_or_insert_with(|| (String::new(), false));
                    entry.0.push_str(piece);
                    if pieces.peek().is_some() {
                        let (text, key) = current.take().unwrap_or_default();
                        if key {
                            segments.push(PatternSegment::Key);
                        } else if !text.is_empty() {
                            segments.push(PatternSegment::Literal(text));
                        }
                    }
                }
            }
            FilePart::Field(_) => {
                current.get_or_insert_with(|| (String::new(), false)).1 = true;
            }
        }
    }
    if let Some((text, key)) = current {
        if key {
            segments.push(PatternSegment::Key);
        } else if !text.is_empty() {
            segments.push(PatternSegment::Literal(text));
        }
    }
    (segments, parent_len)
}

/// Which kind a file of an org repository holds, found by matching its path against every
/// kind's pattern (the match with the most literal segments wins).
#[derive(Debug, Clone)]
pub struct Resolved<'c> {
    pub kind: &'c Kind,
    pub variant: usize,
    /// The parent object's stem, for nested kinds.
    pub parent: Option<String>,
}

/// Resolves `okta/…/name.json` to its kind; `None` when no kind's pattern matches.
pub fn resolve<'c>(catalogue: &'c Catalogue, path: &str) -> Option<Resolved<'c>> {
    let stem = path.strip_suffix(".json")?;
    let parts: Vec<&str> = stem.split('/').collect();
    let mut best: Option<(usize, Resolved<'c>)> = None;
    for kind in catalogue.kinds() {
        for (index, variant) in kind.variants.iter().enumerate() {
            let (segments, parent_len) = pattern(catalogue, variant);
            if segments.len() != parts.len() {
                continue;
            }
            let mut literals = 0;
            let matches = segments
                .iter()
                .zip(&parts)
                .all(|(segment, part)| match segment {
                    PatternSegment::Literal(text) => {
                        literals += 1;
                        text == part
                    }
                    PatternSegment::Key => !part.is_empty(),
                });
            if matches && best.as_ref().is_none_or(|(score, _)| literals > *score) {
                let parent = (parent_len > 0).then(|| parts[..parent_len].join("/"));
                best = Some((
                    literals,
                    Resolved {
                        kind,
                        variant: index,
                        parent,
                    },
                ));
            }
        }
    }
    best.map(|(_, resolved)| resolved)
}

/// Every literal segment of every kind's file pattern (`okta`, `groups`, `members`, `rules`).
/// [`resolve`] compares a path's segments only with these (any other non-empty segment is a
/// natural key), so two paths that agree wherever either has one of them are of one kind:
/// callers resolving many paths can resolve each such shape once.
pub fn literal_segments(catalogue: &Catalogue) -> std::collections::HashSet<String> {
    let mut out = std::collections::HashSet::new();
    for kind in catalogue.kinds() {
        for variant in &kind.variants {
            for segment in pattern(catalogue, variant).0 {
                if let PatternSegment::Literal(text) = segment {
                    out.insert(text);
                }
            }
        }
    }
    out
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

    #[test]
    fn paths_resolve_to_their_kind_and_parent() {
        let catalogue = Catalogue::okta().unwrap();
        for (path, kind, parent) in [
            ("okta/groups/Engineering.json", "group", None),
            (
                "okta/groups/Engineering/members.json",
                "group_membership",
                Some("okta/groups/Engineering"),
            ),
            (
                "okta/group-rules/Engineering - auto.json",
                "group_rule",
                None,
            ),
            (
                "okta/apps/Jira~0oa1/users.json",
                "app_user_assignment",
                Some("okta/apps/Jira~0oa1"),
            ),
            (
                "okta/policies/OKTA_SIGN_ON/Default Policy/rules/Default Rule.json",
                "policy_rule",
                Some("okta/policies/OKTA_SIGN_ON/Default Policy"),
            ),
            ("okta/org/settings.json", "org_settings", None),
            ("okta/org/threat-insight.json", "threat_insight", None),
            (
                "okta/user-types/user/schema.json",
                "user_schema",
                Some("okta/user-types/user"),
            ),
            (
                "okta/users/a@x/admin-roles.json",
                "admin_role_assignment",
                Some("okta/users/a@x"),
            ),
            (
                "okta/brands/B/email-templates/UserActivation/customizations/en.json",
                "email_template_customization",
                Some("okta/brands/B/email-templates/UserActivation"),
            ),
        ] {
            let resolved = resolve(catalogue, path).unwrap_or_else(|| panic!("{path} resolves"));
            assert_eq!(resolved.kind.name, kind, "{path}");
            assert_eq!(resolved.parent.as_deref(), parent, "{path}");
        }
        assert!(resolve(catalogue, "okta/nothing/here/at/all.json").is_none());
        assert!(resolve(catalogue, "README.md").is_none());
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
