//! A small JSON Schema (draft-04) validator for the keywords the SARIF 2.1.0 schema uses:
//! `$ref` (to `#/definitions/...`), `type`, `properties`, `additionalProperties`, `required`,
//! `enum`, `items`, `minItems`, `uniqueItems`, `minimum`, `maximum`, `oneOf`, `anyOf`.
//! `format` is an annotation (draft-04 makes it optional) and is not checked; `pattern` is
//! refused loudly rather than skipped, so a value it would apply to fails the test instead of
//! passing unchecked (Butterfly's SARIF has no field with a pattern).

use serde_json::Value;

/// Every violation of `schema` by `value`, each with its JSON pointer in `value`.
pub fn validate(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, schema, value, "", &mut errors);
    errors
}

fn resolve<'s>(root: &'s Value, reference: &str) -> &'s Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("only local $refs are supported: {reference}"));
    root.pointer(pointer)
        .unwrap_or_else(|| panic!("$ref {reference} resolves to nothing"))
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
        other => panic!("unknown type {other}"),
    }
}

fn check(root: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    for (keyword, rule) in schema {
        match keyword.as_str() {
            "$ref" => check(
                root,
                resolve(root, rule.as_str().unwrap()),
                value,
                at,
                errors,
            ),
            "type" => {
                let names: Vec<&str> = match rule {
                    Value::String(name) => vec![name.as_str()],
                    Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
                    _ => panic!("bad type {rule}"),
                };
                if !names.iter().any(|n| type_matches(n, value)) {
                    errors.push(format!("{at}: {value} is not of type {rule}"));
                }
            }
            "enum" => {
                if !rule.as_array().unwrap().contains(value) {
                    errors.push(format!("{at}: {value} is not one of {rule}"));
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for name in rule.as_array().unwrap() {
                        let name = name.as_str().unwrap();
                        if !object.contains_key(name) {
                            errors.push(format!("{at}: required property {name} is missing"));
                        }
                    }
                }
            }
            "properties" | "additionalProperties" => {
                // Both handled together below, once.
                if keyword == "additionalProperties" && schema.contains_key("properties") {
                    continue;
                }
                let Some(object) = value.as_object() else {
                    continue;
                };
                let properties = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties");
                for (name, member) in object {
                    let here = format!("{at}/{name}");
                    match properties.and_then(|p| p.get(name)) {
                        Some(sub) => check(root, sub, member, &here, errors),
                        None => match additional {
                            Some(Value::Bool(false)) => {
                                errors.push(format!("{here}: additional property not allowed"))
                            }
                            Some(sub @ Value::Object(_)) => check(root, sub, member, &here, errors),
                            _ => {}
                        },
                    }
                }
            }
            "items" => {
                if let Some(items) = value.as_array() {
                    for (i, item) in items.iter().enumerate() {
                        check(root, rule, item, &format!("{at}/{i}"), errors);
                    }
                }
            }
            "minItems" => {
                if let Some(items) = value.as_array()
                    && (items.len() as u64) < rule.as_u64().unwrap()
                {
                    errors.push(format!("{at}: fewer than {rule} items"));
                }
            }
            "uniqueItems" => {
                if rule == &Value::Bool(true)
                    && let Some(items) = value.as_array()
                {
                    for (i, item) in items.iter().enumerate() {
                        if items[..i].contains(item) {
                            errors.push(format!("{at}/{i}: a duplicate item"));
                        }
                    }
                }
            }
            "minimum" | "maximum" => {
                if let (Some(number), Some(bound)) = (value.as_f64(), rule.as_f64()) {
                    let bad = if keyword == "minimum" {
                        number < bound
                    } else {
                        number > bound
                    };
                    if bad {
                        errors.push(format!("{at}: {number} is out of its {keyword} {bound}"));
                    }
                }
            }
            "oneOf" | "anyOf" => {
                let passing = rule
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|sub| {
                        let mut inner = Vec::new();
                        check(root, sub, value, at, &mut inner);
                        inner.is_empty()
                    })
                    .count();
                let ok = if keyword == "oneOf" {
                    passing == 1
                } else {
                    passing >= 1
                };
                if !ok {
                    errors.push(format!("{at}: {passing} of the {keyword} schemas match"));
                }
            }
            "pattern" => {
                if value.is_string() {
                    errors.push(format!(
                        "{at}: has a `pattern` this validator does not check"
                    ));
                }
            }
            "$schema" | "id" | "title" | "description" | "default" | "format" | "definitions" => {}
            other => panic!("keyword {other} is not supported by this validator"),
        }
    }
}
