//! How the simulated org keeps an object's body: its compact JSON text (the form
//! `serde_json::Value`'s `Display` writes: keys sorted, no spaces), parsed when read. A parsed
//! body is a tree of maps that takes about seven times the room of its text (a 1 KB user about
//! 7 KB), and a large generated org holds hundreds of thousands of bodies.
//!
//! Owns only the representation: what a body holds (canonical form) is `sim::org`'s business.

use std::fmt;
use std::sync::Arc;

use std::collections::BTreeMap;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// An object body as compact JSON text; cloning shares the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Body(Arc<str>);

impl Body {
    /// The text of `value`.
    pub fn new(value: &Value) -> Body {
        // Writing a `Value` cannot fail (its keys are strings); `Display` writes the same text,
        // through the slower formatting machinery.
        let text = serde_json::to_string(value).unwrap_or_else(|_| value.to_string());
        Body(Arc::from(text))
    }

    /// The text `value` serialises to, which must be a JSON object whose members come in the
    /// order `Value` writes them (sorted by name), so the text is the one [`Body::new`] would
    /// write (generated bodies, written without building a `Value`).
    pub fn written<T: serde::Serialize>(value: &T) -> Body {
        match serde_json::to_string(value) {
            Ok(text) => Body(Arc::from(text)),
            Err(error) => {
                tracing::error!(%error, "a generated body cannot be written; storing null");
                Body(Arc::from("null"))
            }
        }
    }

    /// The body as a JSON value.
    pub fn parse(&self) -> Value {
        // The text was written from a `Value`, so it parses back unless it nests deeper than
        // serde_json's reading limit (128), which no body read from a file or request can.
        serde_json::from_str(&self.0).unwrap_or_else(|error| {
            tracing::error!(%error, "a stored body does not parse back; answering null");
            Value::Null
        })
    }

    /// The compact JSON text.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// The top-level member `name` of an object body, without building the rest of it (lists
    /// test the status of every user they page through).
    pub fn member(&self, name: &str) -> Option<Value> {
        let mut selection = Selection::default();
        selection.add(&[name]);
        match self.select(&selection) {
            Value::Object(mut members) => members.remove(name),
            _ => None,
        }
    }

    /// The body with only the members `selection` names (rule evaluation reads a few profile
    /// attributes of every user). A body that is not an object selects nothing (null), and
    /// neither does a member that is not an object when members are selected inside it.
    pub fn select(&self, selection: &Selection) -> Value {
        let mut reader = serde_json::Deserializer::from_str(&self.0);
        match Pick(selection).deserialize(&mut reader) {
            Ok(Some(value)) => value,
            Ok(None) => Value::Null,
            Err(error) => {
                tracing::error!(%error, "a stored body does not parse back; answering null");
                Value::Null
            }
        }
    }
}

/// Which members of a body to read: some members whole, of others only some of their members.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    whole: bool,
    members: BTreeMap<String, Selection>,
}

impl Selection {
    /// Selects the member at `path` (`["profile", "department"]`) whole.
    pub fn add(&mut self, path: &[&str]) {
        match path.split_first() {
            None => self.whole = true,
            Some((first, rest)) => self
                .members
                .entry((*first).to_string())
                .or_default()
                .add(rest),
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads the selected members of a JSON object, skipping the others; `None` for anything
/// that is not an object.
struct Pick<'s>(&'s Selection);

impl<'de> DeserializeSeed<'de> for Pick<'_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Pick<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut picked = Map::new();
        // Every member is read (the reader insists on a whole object); only ours are built.
        while let Some(selected) = map.next_key_seed(KeyIn(self.0))? {
            let Some((name, inner)) = selected else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let value = if inner.whole {
                Some(map.next_value::<Value>()?)
            } else {
                map.next_value_seed(Pick(inner))?
            };
            if let Some(value) = value {
                picked.insert(name.clone(), value);
            }
        }
        Ok(Some(Value::Object(picked)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// The selected member a key names, if any (compared in place: no key is copied).
struct KeyIn<'s>(&'s Selection);

impl<'de, 's> DeserializeSeed<'de> for KeyIn<'s> {
    type Value = Option<(&'s String, &'s Selection)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, 's> Visitor<'de> for KeyIn<'s> {
    type Value = Option<(&'s String, &'s Selection)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.members.get_key_value(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_body_reads_back_what_was_stored_and_its_text_is_compact_and_sorted() {
        let value = json!({"status": "ACTIVE", "id": "00u1", "profile": {"b": [1, 2.5, null], "a": "é\"\\/"}});
        let body = Body::new(&value);
        assert_eq!(body.parse(), value);
        assert_eq!(
            body.text(),
            r#"{"id":"00u1","profile":{"a":"é\"\\/","b":[1,2.5,null]},"status":"ACTIVE"}"#
        );
        assert_eq!(Body::new(&body.parse()), body, "the text is a fixed point");
    }

    #[test]
    fn one_member_is_read_without_the_rest() {
        let body = Body::new(&json!({
            "a\"b": 1, "profile": {"status": "nested"}, "status": "SUSPENDED", "z": [{"status": 2}]
        }));
        assert_eq!(body.member("status"), Some(json!("SUSPENDED")));
        assert_eq!(body.member("profile"), Some(json!({"status": "nested"})));
        assert_eq!(body.member("a\"b"), Some(json!(1)));
        assert_eq!(body.member("missing"), None);
        assert_eq!(Body::new(&json!(["status"])).member("status"), None);
        assert_eq!(Body::new(&json!("status")).member("status"), None);
    }

    #[test]
    fn a_selection_reads_only_the_members_it_names() {
        let body = Body::new(&json!({
            "id": "00u1", "status": "ACTIVE",
            "profile": {"department": "Sales", "title": "AE", "tags": ["a"], "x": null},
            "credentials": "not an object",
        }));
        let mut selection = Selection::default();
        for path in [
            &["status"][..],
            &["profile", "department"],
            &["profile", "tags"],
            &["profile", "missing"],
            &["credentials", "provider"],
        ] {
            selection.add(path);
        }
        assert_eq!(
            body.select(&selection),
            json!({"status": "ACTIVE", "profile": {"department": "Sales", "tags": ["a"]}})
        );
        selection.add(&["profile"]);
        assert_eq!(body.select(&selection)["profile"], body.parse()["profile"]);
        assert_eq!(Body::new(&json!([1, 2])).select(&selection), Value::Null);
        assert_eq!(
            Body::new(&json!({})).select(&Selection::default()),
            json!({})
        );
    }
}
