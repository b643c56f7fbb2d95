//! The pure half of `apply`: which endpoint an action calls, its URL with the plan's
//! parameters, and `${id:PATH}` placeholders replaced by the ids the plan's creates got.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Action, Op};
use crate::catalogue::{Endpoint, Kind};
use crate::provider::okta::walk::encode;

/// An action that cannot be turned into a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("{kind}: Okta's API has no {op} endpoint for this kind")]
    NoEndpoint { kind: String, op: &'static str },
    #[error("{path}: the endpoint {endpoint} needs `{param}`, which the plan does not give")]
    MissingParam {
        path: String,
        endpoint: String,
        param: String,
    },
    #[error(
        "{path}: `{placeholder}` stands for an object this plan creates, but that create has not run"
    )]
    Unresolved { path: String, placeholder: String },
}

/// The endpoint `action` calls.
pub fn endpoint<'k>(kind: &'k Kind, action: &Action) -> Result<&'k Endpoint, RequestError> {
    let endpoints = &kind
        .variants
        .get(action.variant)
        .unwrap_or_else(|| kind.primary())
        .endpoints;
    let (found, op) = match action.op {
        Op::Create | Op::AddMember => (endpoints.create.as_ref(), "create"),
        Op::Update => (
            endpoints.replace.as_ref().or(endpoints.update.as_ref()),
            "update",
        ),
        Op::Delete | Op::RemoveMember => (endpoints.delete.as_ref(), "delete"),
        Op::Activate => (endpoints.lifecycle.get("activate"), "activate"),
        Op::Deactivate => (endpoints.lifecycle.get("deactivate"), "deactivate"),
    };
    found.ok_or_else(|| RequestError::NoEndpoint {
        kind: kind.name.clone(),
        op,
    })
}

/// Replaces `${id:PATH}` by the id the create of PATH got, and `${field:PATH#FIELD}` by that
/// field of its answer (kept under the key `field:PATH#FIELD`). Other text, `${…}` of an Okta
/// expression included, is left as it is. `None` when a placeholder has no value yet.
pub fn resolve(text: &str, created: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["${id:", "${field:"]
            .iter()
            .filter_map(|p| rest.find(p).map(|at| (at, *p)))
            .min();
        let Some((start, prefix)) = next else { break };
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        let inner = &after[..end];
        let value = match prefix {
            "${id:" => created.get(&inner[3..])?,
            _ => created.get(inner)?,
        };
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The fields of a create's answer that later steps need (`FIELD` of each
/// `${field:PATH#FIELD}` the plan holds for `path`), keyed `field:PATH#FIELD`.
pub fn answer_fields(
    plan_texts: &[String],
    path: &str,
    answer: &Value,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let prefix = format!("${{field:{path}#");
    for text in plan_texts {
        let mut rest = text.as_str();
        while let Some(start) = rest.find(&prefix) {
            let after = &rest[start + prefix.len()..];
            let Some(end) = after.find('}') else { break };
            let field = &after[..end];
            let (name, last) = match field.strip_suffix("|last_segment") {
                Some(name) => (name, true),
                None => (field, false),
            };
            if let Some(value) = crate::catalogue::FieldPath::parse(name)
                .ok()
                .and_then(|p| p.get(answer).and_then(crate::diff::text))
            {
                let value = if last {
                    value.rsplit('/').next().unwrap_or(&value).to_string()
                } else {
                    value
                };
                out.insert(format!("field:{path}#{field}"), value);
            }
            rest = &after[end + 1..];
        }
    }
    out
}

/// Every placeholder of a body resolved (an unresolved one names itself).
pub fn resolve_body(
    value: &Value,
    created: &BTreeMap<String, String>,
    path: &str,
) -> Result<Value, RequestError> {
    Ok(match value {
        Value::String(s) if s.contains("${id:") || s.contains("${field:") => {
            Value::String(resolve(s, created).ok_or_else(|| RequestError::Unresolved {
                path: path.to_string(),
                placeholder: s.clone(),
            })?)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| resolve_body(v, created, path))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), resolve_body(v, created, path)?)))
                .collect::<Result<_, RequestError>>()?,
        ),
        other => other.clone(),
    })
}

/// The path and query of `action`'s request (`/api/v1/groups/00g…/users/00u…`).
pub fn url(
    endpoint: &Endpoint,
    action: &Action,
    created: &BTreeMap<String, String>,
) -> Result<String, RequestError> {
    let mut out = String::new();
    let mut rest = endpoint.path.as_str();
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + end];
        let value = endpoint
            .fixed
            .get(name)
            .or_else(|| action.params.get(name))
            .ok_or_else(|| RequestError::MissingParam {
                path: action.path.clone(),
                endpoint: endpoint.path.clone(),
                param: name.to_string(),
            })?;
        let value = resolve(value, created).ok_or_else(|| RequestError::Unresolved {
            path: action.path.clone(),
            placeholder: value.clone(),
        })?;
        out.push_str(&encode(&value));
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    if !endpoint.query.is_empty() {
        let query: Vec<String> = endpoint
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        out.push('?');
        out.push_str(&query.join("&"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    fn action(op: Op, kind: &str, params: &[(&str, &str)]) -> Action {
        Action {
            op,
            kind: kind.into(),
            path: "okta/group-rules/R.json".into(),
            name: "R".into(),
            id: None,
            parent: None,
            member: None,
            body: None,
            changes: Vec::new(),
            note: None,
            variant: 0,
            recreate: false,
            was: None,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn urls_fill_parameters_and_placeholders_and_keep_the_query() {
        let catalogue = Catalogue::okta().unwrap();
        let rule = catalogue.kind("group_rule").unwrap();
        let created: BTreeMap<String, String> =
            [("okta/group-rules/R.json".to_string(), "0prNEW".to_string())].into();
        let activate = action(
            Op::Activate,
            "group_rule",
            &[("groupRuleId", "${id:okta/group-rules/R.json}")],
        );
        let endpoint = endpoint(rule, &activate).unwrap();
        assert_eq!(
            url(endpoint, &activate, &created).unwrap(),
            "/api/v1/groups/rules/0prNEW/lifecycle/activate"
        );
        let user = catalogue.kind("user").unwrap();
        let create = action(Op::Create, "user", &[]);
        assert_eq!(
            url(endpoint_of(user, &create), &create, &created).unwrap(),
            "/api/v1/users?activate=false"
        );
        let missing = action(Op::Activate, "group_rule", &[]);
        assert!(matches!(
            url(endpoint, &missing, &created),
            Err(RequestError::MissingParam { .. })
        ));
        let unresolved = action(
            Op::Activate,
            "group_rule",
            &[("groupRuleId", "${id:okta/x.json}")],
        );
        assert!(matches!(
            url(endpoint, &unresolved, &created),
            Err(RequestError::Unresolved { .. })
        ));
    }

    fn endpoint_of<'k>(kind: &'k Kind, action: &Action) -> &'k Endpoint {
        endpoint(kind, action).unwrap()
    }

    #[test]
    fn a_field_of_a_created_parent_is_read_from_its_answer() {
        let texts =
            vec!["${field:okta/user-types/C.json#_links.schema.href|last_segment}".to_string()];
        let answer = serde_json::json!({"id": "otyNEW", "_links": {"schema": {"href": "https://x/api/v1/meta/schemas/user/oscNEW"}}});
        let fields = answer_fields(&texts, "okta/user-types/C.json", &answer);
        assert_eq!(
            fields
                .get("field:okta/user-types/C.json#_links.schema.href|last_segment")
                .map(String::as_str),
            Some("oscNEW")
        );
        assert_eq!(resolve(&texts[0], &fields).as_deref(), Some("oscNEW"));
        // An Okta expression's own `${...}` is not a placeholder.
        assert_eq!(
            resolve("${user.login}", &fields).as_deref(),
            Some("${user.login}")
        );
    }

    #[test]
    fn bodies_get_the_created_ids() {
        let created: BTreeMap<String, String> =
            [("okta/groups/S.json".to_string(), "00gNEW".to_string())].into();
        let body = serde_json::json!({"actions": {"assignUserToGroups": {"groupIds": ["${id:okta/groups/S.json}", "00gOLD"]}},
            "expr": "isMemberOfAnyGroup(\"${id:okta/groups/S.json}\")"});
        let resolved = resolve_body(&body, &created, "p").unwrap();
        assert_eq!(
            resolved,
            serde_json::json!({"actions": {"assignUserToGroups": {"groupIds": ["00gNEW", "00gOLD"]}},
                "expr": "isMemberOfAnyGroup(\"00gNEW\")"})
        );
    }
}
