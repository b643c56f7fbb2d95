//! `Endpoint`: one HTTP operation of a kind (`GET /api/v1/groups/rules/{groupRuleId}`), with
//! the query it always carries, its rate-limit bucket and, for lists, how they paginate.
//!
//! Must not send anything: it describes requests, `provider::okta` makes them.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// HTTP methods Okta's management API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn parse(text: &str) -> Option<Method> {
        Some(match text {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a list endpoint returns more than one page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pagination {
    /// A JSON array, next page in a `Link: <…>; rel="next"` header.
    Link,
    /// A JSON object holding the array under `items`, next page in the body's `_links.next.href`.
    Body,
    /// One response holds everything (a `next` link is still followed if one appears).
    None,
}

impl Pagination {
    pub fn as_str(self) -> &'static str {
        match self {
            Pagination::Link => "Link header",
            Pagination::Body => "body _links.next",
            Pagination::None => "unpaged",
        }
    }
}

/// An endpoint as written: `"GET /path"` or a table with `op` and options.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum RawEndpoint {
    Short(String),
    Full(RawEndpointTable),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEndpointTable {
    pub op: String,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    #[serde(default)]
    pub bucket: Option<String>,
    #[serde(default)]
    pub paginate: Option<Pagination>,
    #[serde(default)]
    pub items: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub each: Option<RawEach>,
    /// Constant values for path placeholders (`{appName}` = `admin-console`).
    #[serde(default)]
    pub fixed: BTreeMap<String, String>,
    /// The list returns partial objects: each must be read again with `get`.
    #[serde(default)]
    pub partial: bool,
}

/// A list that must be called once per value of a query parameter (policies by `type`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawEach {
    pub param: String,
    pub values: Vec<String>,
}

/// A validated endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub method: Method,
    /// The path as Okta's spec writes it, with `{param}` placeholders.
    pub path: String,
    /// Query parameters always sent (`activate=false`).
    pub query: BTreeMap<String, String>,
    /// The rate-limit bucket this request counts against.
    pub bucket: String,
    /// Path placeholders with a constant value, whatever the object.
    pub fixed: BTreeMap<String, String>,
}

/// A validated list endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEndpoint {
    pub endpoint: Endpoint,
    pub pagination: Pagination,
    /// The member holding the array when the response is an object.
    pub items: Option<String>,
    /// The page size to ask for (Okta's maximum for this list).
    pub limit: Option<u32>,
    pub each: Option<RawEach>,
    /// The list returns partial objects: each is read again with the kind's `get`.
    pub partial: bool,
}

impl Endpoint {
    /// The `{param}` names in the path that take a value from the object, in order
    /// (placeholders with a `fixed` value excluded).
    pub fn path_params(&self) -> Vec<&str> {
        path_params(&self.path)
            .into_iter()
            .filter(|p| !self.fixed.contains_key(*p))
            .collect()
    }

    /// The path with `fixed` placeholders filled in.
    pub fn display_path(&self) -> String {
        let mut path = self.path.clone();
        for (name, value) in &self.fixed {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        path
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.display_path())?;
        let mut first = true;
        for (name, value) in &self.query {
            write!(f, "{}{name}={value}", if first { "?" } else { "&" })?;
            first = false;
        }
        Ok(())
    }
}

/// The `{param}` names of a path template.
pub fn path_params(path: &str) -> Vec<&str> {
    let mut params = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        params.push(&rest[open + 1..open + close]);
        rest = &rest[open + close + 1..];
    }
    params
}

/// Parses `"METHOD /path"`; the error says what is wrong.
pub fn parse_op(op: &str) -> Result<(Method, String), String> {
    let Some((method, path)) = op.split_once(' ') else {
        return Err(format!("`{op}` must read `METHOD /path`"));
    };
    let method = Method::parse(method)
        .ok_or_else(|| format!("`{method}` is not one of GET, POST, PUT, PATCH, DELETE"))?;
    if !path.starts_with('/') || path.contains(' ') || path.contains('?') {
        return Err(format!(
            "`{path}` must be an absolute path without spaces or a query (use `query = {{ … }}`)"
        ));
    }
    let mut depth = 0i32;
    for c in path.chars() {
        depth += match c {
            '{' => 1,
            '}' => -1,
            _ => 0,
        };
        if !(0..=1).contains(&depth) {
            return Err(format!("`{path}` has unbalanced `{{…}}` placeholders"));
        }
    }
    if depth != 0 || path_params(path).iter().any(|p| p.is_empty()) {
        return Err(format!(
            "`{path}` has an unclosed or empty `{{}}` placeholder"
        ));
    }
    Ok((method, path.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_method_and_path() {
        let (method, path) =
            parse_op("POST /api/v1/groups/rules/{groupRuleId}/lifecycle/activate").unwrap();
        assert_eq!(method, Method::Post);
        assert_eq!(path_params(&path), vec!["groupRuleId"]);
        assert_eq!(
            path_params("/api/v1/apps/{appId}/groups/{groupId}"),
            vec!["appId", "groupId"]
        );
    }

    #[test]
    fn rejects_bad_ops() {
        for op in [
            "GET",
            "FETCH /api/v1/users",
            "GET api/v1/users",
            "GET /api/v1/users?limit=1",
            "GET /api/v1/users/{id",
            "GET /api/v1/users/{}",
        ] {
            assert!(parse_op(op).is_err(), "{op} should be refused");
        }
    }
}
