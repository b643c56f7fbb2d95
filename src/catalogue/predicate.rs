//! `Predicate`: a small condition over one resource's JSON, used where the catalogue must
//! decide per object: which objects Okta itself created (`system`), which parents a nested
//! kind is listed under (`parent_when`).
//!
//! Must stay total and side-effect free: a missing field is never an error, only "false"
//! for `equals`/`in` and "true" for `not_in`.

use serde::Deserialize;
use serde_json::Value;

use super::field_path::FieldPath;

/// A condition as written in a kind file:
/// `{ path = "type", equals = "BUILT_IN" }`, `{ any = [...] }`, `{ all = [...] }`, `{ not = ... }`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged, deny_unknown_fields)]
pub enum RawPredicate {
    Any { any: Vec<RawPredicate> },
    All { all: Vec<RawPredicate> },
    Not { not: Box<RawPredicate> },
    Test(RawTest),
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawTest {
    pub path: String,
    #[serde(default)]
    pub equals: Option<toml::Value>,
    #[serde(default, rename = "in")]
    pub one_of: Option<Vec<toml::Value>>,
    #[serde(default)]
    pub not_in: Option<Vec<toml::Value>>,
    #[serde(default)]
    pub exists: Option<bool>,
}

/// A validated condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Predicate {
    Any(Vec<Predicate>),
    All(Vec<Predicate>),
    Not(Box<Predicate>),
    Equals(FieldPath, Value),
    In(FieldPath, Vec<Value>),
    NotIn(FieldPath, Vec<Value>),
    Exists(FieldPath, bool),
}

impl Predicate {
    /// Checks a written predicate; the error says what is wrong, the caller says where.
    pub fn from_raw(raw: &RawPredicate) -> Result<Self, String> {
        Ok(match raw {
            RawPredicate::Any { any } => Predicate::Any(
                any.iter()
                    .map(Predicate::from_raw)
                    .collect::<Result<_, _>>()?,
            ),
            RawPredicate::All { all } => Predicate::All(
                all.iter()
                    .map(Predicate::from_raw)
                    .collect::<Result<_, _>>()?,
            ),
            RawPredicate::Not { not } => Predicate::Not(Box::new(Predicate::from_raw(not)?)),
            RawPredicate::Test(test) => {
                let path = FieldPath::parse(&test.path).map_err(|e| e.to_string())?;
                if !path.is_single() {
                    return Err(format!(
                        "predicate path `{path}` must name one field (no `[*]`)"
                    ));
                }
                let operators = [
                    test.equals.is_some(),
                    test.one_of.is_some(),
                    test.not_in.is_some(),
                    test.exists.is_some(),
                ];
                if operators.iter().filter(|set| **set).count() != 1 {
                    return Err(format!(
                        "the test on `{path}` needs exactly one of `equals`, `in`, `not_in`, `exists`"
                    ));
                }
                let json = |v: &toml::Value| serde_json::to_value(v).map_err(|e| e.to_string());
                let list =
                    |vs: &Vec<toml::Value>| vs.iter().map(json).collect::<Result<Vec<_>, _>>();
                if let Some(value) = &test.equals {
                    Predicate::Equals(path, json(value)?)
                } else if let Some(values) = &test.one_of {
                    Predicate::In(path, list(values)?)
                } else if let Some(values) = &test.not_in {
                    Predicate::NotIn(path, list(values)?)
                } else {
                    Predicate::Exists(path, test.exists.unwrap_or(true))
                }
            }
        })
    }

    /// Evaluates the condition on one resource.
    pub fn matches(&self, resource: &Value) -> bool {
        match self {
            Predicate::Any(all) => all.iter().any(|p| p.matches(resource)),
            Predicate::All(all) => all.iter().all(|p| p.matches(resource)),
            Predicate::Not(inner) => !inner.matches(resource),
            Predicate::Equals(path, value) => path.get(resource) == Some(value),
            Predicate::In(path, values) => path.get(resource).is_some_and(|v| values.contains(v)),
            Predicate::NotIn(path, values) => {
                !path.get(resource).is_some_and(|v| values.contains(v))
            }
            Predicate::Exists(path, wanted) => {
                path.get(resource).is_some_and(|v| !v.is_null()) == *wanted
            }
        }
    }

    /// Every field path the predicate reads, for the spec check.
    pub fn paths(&self) -> Vec<&FieldPath> {
        match self {
            Predicate::Any(all) | Predicate::All(all) => {
                all.iter().flat_map(Predicate::paths).collect()
            }
            Predicate::Not(inner) => inner.paths(),
            Predicate::Equals(path, _)
            | Predicate::In(path, _)
            | Predicate::NotIn(path, _)
            | Predicate::Exists(path, _) => vec![path],
        }
    }
}

impl std::fmt::Display for Predicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let join = |f: &mut std::fmt::Formatter<'_>, all: &[Predicate], op: &str| {
            f.write_str("(")?;
            for (i, p) in all.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{p}")?;
            }
            f.write_str(")")
        };
        let list = |values: &[Value]| {
            values
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Predicate::Any(all) => join(f, all, "or"),
            Predicate::All(all) => join(f, all, "and"),
            Predicate::Not(inner) => write!(f, "not {inner}"),
            Predicate::Equals(path, value) => write!(f, "{path} == {value}"),
            Predicate::In(path, values) => write!(f, "{path} in [{}]", list(values)),
            Predicate::NotIn(path, values) => write!(f, "{path} not in [{}]", list(values)),
            Predicate::Exists(path, true) => write!(f, "has({path})"),
            Predicate::Exists(path, false) => write!(f, "!has({path})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Predicate {
        #[derive(Deserialize)]
        struct Wrap {
            p: RawPredicate,
        }
        let wrap: Wrap = toml::from_str(&format!("p = {text}")).unwrap();
        Predicate::from_raw(&wrap.p).unwrap()
    }

    #[test]
    fn evaluates_each_operator() {
        let everyone = json!({"type": "BUILT_IN", "profile": {"name": "Everyone"}, "system": true});
        assert!(parse(r#"{ path = "type", equals = "BUILT_IN" }"#).matches(&everyone));
        assert!(parse(r#"{ path = "system", equals = true }"#).matches(&everyone));
        assert!(parse(r#"{ path = "profile.name", in = ["Everyone", "x"] }"#).matches(&everyone));
        assert!(!parse(r#"{ path = "profile.name", not_in = ["Everyone"] }"#).matches(&everyone));
        assert!(parse(r#"{ path = "missing", not_in = ["Everyone"] }"#).matches(&everyone));
        assert!(parse(r#"{ path = "missing", exists = false }"#).matches(&everyone));
        assert!(
            parse(
                r#"{ any = [{ path = "a", equals = 1 }, { path = "type", equals = "BUILT_IN" }] }"#
            )
            .matches(&everyone)
        );
        assert!(!parse(r#"{ not = { path = "system", equals = true } }"#).matches(&everyone));
    }

    #[test]
    fn refuses_two_operators_in_one_test() {
        #[derive(Deserialize)]
        struct Wrap {
            p: RawPredicate,
        }
        let wrap: Wrap =
            toml::from_str(r#"p = { path = "a", equals = 1, exists = true }"#).unwrap();
        assert!(Predicate::from_raw(&wrap.p).is_err());
    }
}
