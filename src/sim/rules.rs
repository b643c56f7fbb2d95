//! Okta's rules on writes, enforced from each kind's `[constraints]` in the catalogue: what
//! may be deleted, updated or deactivated, how many objects a parent may hold, and how Okta
//! renumbers priorities.
//!
//! Must not know HTTP beyond the `OktaError` it returns.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::error::OktaError;
use super::org::{Object, ObjectRef, Org};
use crate::catalogue::{Catalogue, Embedding, Kind};

/// Objects (kind, id) whose references point at `target`.
pub fn referrers(catalogue: &Catalogue, org: &Org, kind: &Kind, target: &Object) -> Vec<ObjectRef> {
    let mut found = Vec::new();
    let target_body = target.body();
    for other in catalogue.kinds() {
        for reference in other.references.iter().filter(|r| r.kind == kind.name) {
            let wanted = match &reference.target {
                Some(field) => field
                    .get(&target_body)
                    .and_then(Value::as_str)
                    .map(str::to_string),
                None => Some(target.id.to_string()),
            };
            let Some(wanted) = wanted else { continue };
            // JSON text escapes only quotes, backslashes and control characters: a body whose
            // text lacks any other value does not hold it, and need not be parsed (a user is
            // looked for among hundreds of thousands of memberships).
            let literal = !wanted.contains(|c: char| c == '"' || c == '\\' || c.is_control());
            for object in org.all(&other.name) {
                if literal && !object.body_text().contains(wanted.as_str()) {
                    continue;
                }
                let body = object.body();
                let hit = reference.path.select(&body).iter().any(|value| {
                    let Some(text) = value.as_str() else {
                        return false;
                    };
                    match reference.embedding {
                        Embedding::Whole => text == wanted,
                        Embedding::Expression => text.contains(&format!("\"{wanted}\"")),
                        Embedding::Url => text.split(['/', ':']).any(|part| part == wanted),
                    }
                });
                if hit {
                    found.push((object.kind.clone(), object.id.clone()));
                }
            }
        }
    }
    found
}

/// Refuses a delete that Okta refuses.
pub fn check_delete(
    catalogue: &Catalogue,
    org: &Org,
    kind: &Kind,
    object: &Object,
) -> Result<(), OktaError> {
    if let Some(requires) = &kind.constraints.delete_requires
        && !requires.matches(&object.body())
    {
        if kind.name == "app" {
            return Err(OktaError::new(
                StatusCode::FORBIDDEN,
                "E0000056",
                "Delete application forbidden.",
            )
            .with_cause("An app must be deactivated before it is deleted"));
        }
        return Err(OktaError::validation(format!(
            "{} {}: can be deleted only when {requires}",
            kind.title, object.id
        )));
    }
    if kind.constraints.unused_to_delete {
        let users = referrers(catalogue, org, kind, object);
        if let Some((other, id)) = users.first() {
            return Err(OktaError::new(
                StatusCode::CONFLICT,
                "E0000195",
                "API validation conflict",
            )
            .with_cause(format!(
                "{} {} is in use by {other} {id}",
                kind.title, object.id
            )));
        }
    }
    Ok(())
}

/// Refuses an update Okta refuses: a status that forbids edits, a changed immutable field.
pub fn check_update(kind: &Kind, existing: &Object, updated: &Value) -> Result<(), OktaError> {
    let before_body = existing.body();
    if let Some(requires) = &kind.constraints.update_requires
        && !requires.matches(&before_body)
    {
        return Err(OktaError::validation(format!(
            "{} {}: can be updated only when {requires}",
            kind.title, existing.id
        )));
    }
    for path in &kind.constraints.immutable {
        let before = path.get(&before_body);
        let after = path.get(updated);
        if after.is_some() && before != after {
            return Err(OktaError::validation(format!(
                "{path}: cannot be changed after creation"
            )));
        }
    }
    Ok(())
}

/// Refuses a create beyond the kind's number per parent.
pub fn check_create(kind: &Kind, org: &Org, parent: Option<&ObjectRef>) -> Result<(), OktaError> {
    if let (Some(max), Some(parent)) = (kind.constraints.max_per_parent, parent)
        && org.list(&kind.name, Some(parent)).len() >= max as usize
    {
        return Err(OktaError::validation(format!(
            "{}: at most {max} per {} {}",
            kind.title, parent.0, parent.1
        )));
    }
    Ok(())
}

/// Refuses to deactivate an object a policy uses (E0000148 for authenticators).
pub fn check_deactivate(
    catalogue: &Catalogue,
    org: &Org,
    kind: &Kind,
    object: &Object,
) -> Result<(), OktaError> {
    if kind.constraints.unused_to_deactivate
        && let Some((other, id)) = referrers(catalogue, org, kind, object).first()
    {
        return Err(OktaError::new(
            StatusCode::FORBIDDEN,
            "E0000148",
            format!(
                "Cannot deactivate {} because it is in use by a policy",
                kind.title
            ),
        )
        .with_cause(format!("used by {other} {id}")));
    }
    Ok(())
}

/// Renumbers the priorities of `changed`'s siblings (same kind, parent and `type`) as Okta
/// does: `changed` takes the priority it asked for (clamped), the others keep their order,
/// priorities run 1..n, and Okta's own (system) objects stay last (keeping a number already
/// past every customer object's, such as a catch-all rule's 99).
pub fn renumber(kind: &Kind, org: &mut Org, parent: Option<&ObjectRef>, changed: &str) {
    if !kind.constraints.priority {
        return;
    }
    let Some(me) = org.get_at(&kind.name, parent, changed).cloned() else {
        return;
    };
    // Each sibling with its body, parsed once.
    let me_body = me.body();
    let mut siblings: Vec<(Object, Value)> = org
        .list(&kind.name, me.parent.as_ref())
        .into_iter()
        .filter(|o| o.id != me.id)
        .map(|o| (o.clone(), o.body()))
        .filter(|(_, body)| body.get("type") == me_body.get("type"))
        .collect();
    let priority_of = |body: &Value| {
        body.get("priority")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX)
    };
    siblings.sort_by_key(|(_, body)| (kind.is_system(body), priority_of(body)));
    let customer = siblings
        .iter()
        .filter(|(_, body)| !kind.is_system(body))
        .count();
    let wanted = priority_of(&me_body);
    let position = if kind.is_system(&me_body) {
        siblings.len()
    } else {
        (wanted.saturating_sub(1) as usize).min(customer)
    };
    siblings.insert(position, (me, me_body));
    let customers = siblings
        .iter()
        .filter(|(_, body)| !kind.is_system(body))
        .count() as u64;
    for (index, (sibling, body)) in siblings.into_iter().enumerate() {
        // Okta's own rule that is already after every customer one keeps its number (a
        // catch-all rule stays at 99, as Okta's examples show it).
        if kind.is_system(&body) && priority_of(&body) != u64::MAX && priority_of(&body) > customers
        {
            continue;
        }
        if let Value::Object(mut map) = body
            && let Some(object) = org.stored_mut(&sibling)
        {
            map.insert("priority".into(), json!(index + 1));
            object.set_body(&Value::Object(map));
        }
    }
}
