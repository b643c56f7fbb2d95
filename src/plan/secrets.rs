//! `--secrets FILE`: where a restore gets the secrets a snapshot holds only as fingerprints.
//! The file maps a desired file and a JSON pointer to a source read at apply time, never
//! copied into the plan:
//!
//! ```toml
//! "okta/identity-providers/Northwind.json#/protocol/credentials/client/client_secret" = "env:NORTHWIND_SECRET"
//! "okta/apps/Payroll.json#/credentials/oauthClient/client_secret" = "file:/run/secrets/payroll"
//! ```
//!
//! The plan puts `${secret:env:VAR}` or `${secret:file:PATH}` at the pointer of the request
//! body; `apply` replaces it with the variable's value or the file's content (a trailing
//! newline dropped) just before sending.

use std::collections::BTreeMap;

use serde_json::Value;

/// The placeholder of a secret in a plan's request body.
pub fn placeholder(source: &str) -> String {
    format!("${{secret:{source}}}")
}

/// The source of a body value that is a secret's placeholder (`env:VAR`, `file:PATH`).
pub fn source_of(text: &str) -> Option<&str> {
    text.strip_prefix("${secret:")?.strip_suffix('}')
}

/// `PATH#POINTER` → source, checked: every key names a file and a pointer, every source is
/// `env:VAR` or `file:PATH`. Errors name the file and the key.
pub fn parse(text: &str, file: &str) -> Result<BTreeMap<String, String>, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
    let mut out = BTreeMap::new();
    for (key, value) in table {
        let Some((path, pointer)) = key.split_once('#') else {
            return Err(format!(
                "{file}: `{key}`: a key is FILE#POINTER (okta/…/name.json#/field/path)"
            ));
        };
        if !path.ends_with(".json") || !pointer.starts_with('/') {
            return Err(format!(
                "{file}: `{key}`: a key is FILE#POINTER (okta/…/name.json#/field/path)"
            ));
        }
        let Some(source) = value.as_str() else {
            return Err(format!(
                "{file}: `{key}`: the value is a string, env:VAR or file:PATH"
            ));
        };
        let valid = match source.split_once(':') {
            Some(("env", name)) => !name.is_empty(),
            Some(("file", name)) => !name.is_empty(),
            _ => false,
        };
        if !valid {
            return Err(format!(
                "{file}: `{key}`: `{source}` is neither env:VAR nor file:PATH"
            ));
        }
        out.insert(key, source.to_string());
    }
    Ok(out)
}

/// Sets `value` at `pointer` in `body`, making the objects on the way.
pub fn set(body: &mut Value, pointer: &str, value: Value) {
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let mut target = body;
    for (i, token) in tokens.iter().enumerate() {
        let Value::Object(map) = target else { return };
        if i + 1 == tokens.len() {
            map.insert(token.clone(), value);
            return;
        }
        target = map
            .entry(token.clone())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_secrets_file_maps_file_and_pointer_to_env_or_file() {
        let text = r#""okta/idps/N.json#/protocol/credentials/client/client_secret" = "env:N_SECRET"
"okta/apps/P.json#/credentials/oauthClient/client_secret" = "file:/run/p""#;
        let map = parse(text, "secrets.toml").unwrap();
        assert_eq!(
            map["okta/idps/N.json#/protocol/credentials/client/client_secret"],
            "env:N_SECRET"
        );
        assert_eq!(
            parse(r#""okta/a.json" = "env:X""#, "s.toml").unwrap_err(),
            "s.toml: `okta/a.json`: a key is FILE#POINTER (okta/…/name.json#/field/path)"
        );
        assert!(
            parse(r#""okta/a.json#/x" = "vault:X""#, "s.toml")
                .unwrap_err()
                .contains("neither env:VAR nor file:PATH")
        );
        assert_eq!(source_of(&placeholder("env:N")), Some("env:N"));
        let mut body = json!({"protocol": {"type": "OIDC"}});
        set(
            &mut body,
            "/protocol/credentials/client/client_secret",
            json!("s"),
        );
        assert_eq!(
            body,
            json!({"protocol": {"type": "OIDC", "credentials": {"client": {"client_secret": "s"}}}})
        );
    }
}
