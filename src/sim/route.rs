//! Routing: every endpoint of every catalogue kind becomes a route, so the simulator serves
//! exactly the paths the catalogue (checked against Okta's spec) names.
//!
//! Pure: matching a method and path to a route does not touch the org.

use std::collections::BTreeMap;

use crate::catalogue::{Catalogue, Method};

/// What an endpoint does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    List,
    Get,
    Create,
    Replace,
    Update,
    Delete,
    Lifecycle(String),
    /// Lists the parents that hold objects of a variant (`/api/v1/iam/assignees/users`).
    ParentsFrom,
}

#[derive(Clone, Debug)]
enum Segment {
    Literal(String),
    Param(String),
    Fixed(String, String),
}

/// One route: a method and a path template of one kind's variant.
#[derive(Clone, Debug)]
pub struct Route {
    pub method: Method,
    pub kind: String,
    pub variant: usize,
    pub role: Role,
    pub bucket: String,
    pub template: String,
    segments: Vec<Segment>,
    literals: usize,
}

/// A matched route with its path parameters (percent-decoded).
#[derive(Clone, Debug)]
pub struct Matched<'r> {
    pub route: &'r Route,
    pub params: BTreeMap<String, String>,
}

/// Why no route answers a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoRoute {
    /// The path exists, with other methods (405).
    Method,
    /// No route has this path (404).
    Path,
}

/// Every route of a catalogue.
#[derive(Debug, Default)]
pub struct Routes {
    routes: Vec<Route>,
}

fn role_of(name: &str) -> Role {
    match name {
        "list" => Role::List,
        "get" => Role::Get,
        "create" => Role::Create,
        "replace" => Role::Replace,
        "update" => Role::Update,
        "delete" => Role::Delete,
        "parents_from" => Role::ParentsFrom,
        other => Role::Lifecycle(
            other
                .strip_prefix("lifecycle.")
                .unwrap_or(other)
                .to_string(),
        ),
    }
}

impl Routes {
    pub fn from_catalogue(catalogue: &Catalogue) -> Self {
        let mut routes = Vec::new();
        for kind in catalogue.kinds() {
            for (index, variant) in kind.variants.iter().enumerate() {
                let mut endpoints = variant.endpoints.all();
                if let Some(from) = &variant.parents_from {
                    endpoints.push(("parents_from".to_string(), &from.endpoint));
                }
                for (role, endpoint) in endpoints {
                    let segments: Vec<Segment> = endpoint
                        .path
                        .trim_start_matches('/')
                        .split('/')
                        .map(|part| {
                            match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                                Some(name) => match endpoint.fixed.get(name) {
                                    Some(value) => Segment::Fixed(name.to_string(), value.clone()),
                                    None => Segment::Param(name.to_string()),
                                },
                                None => Segment::Literal(part.to_string()),
                            }
                        })
                        .collect();
                    let literals = segments
                        .iter()
                        .filter(|s| !matches!(s, Segment::Param(_)))
                        .count();
                    routes.push(Route {
                        method: endpoint.method,
                        kind: kind.name.clone(),
                        variant: index,
                        role: role_of(&role),
                        bucket: endpoint.bucket.clone(),
                        template: endpoint.path.clone(),
                        segments,
                        literals,
                    });
                }
            }
        }
        Routes { routes }
    }

    fn matching<'r>(&'r self, path: &str) -> Vec<Matched<'r>> {
        let parts: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let mut found = Vec::new();
        for route in &self.routes {
            if route.segments.len() != parts.len() {
                continue;
            }
            let mut params = BTreeMap::new();
            let ok = route
                .segments
                .iter()
                .zip(&parts)
                .all(|(segment, part)| match segment {
                    Segment::Literal(text) => text == part,
                    Segment::Fixed(name, value) => {
                        params.insert(name.clone(), value.clone());
                        value == part
                    }
                    Segment::Param(name) => {
                        params.insert(name.clone(), part.clone());
                        !part.is_empty()
                    }
                });
            if ok {
                found.push(Matched { route, params });
            }
        }
        // The most specific route first: `/groups/rules` before `/groups/{groupId}`.
        found.sort_by_key(|m| std::cmp::Reverse(m.route.literals));
        found
    }

    /// The route for `method` on `path`.
    pub fn find<'r>(&'r self, method: Method, path: &str) -> Result<Matched<'r>, NoRoute> {
        let all = self.matching(path);
        let best_literals = all.first().map(|m| m.route.literals);
        let mut exists = false;
        for matched in all {
            if Some(matched.route.literals) != best_literals {
                // A less specific template only counts if nothing more specific has this method.
                if matched.route.method == method {
                    return Ok(matched);
                }
                continue;
            }
            exists = true;
            if matched.route.method == method {
                return Ok(matched);
            }
        }
        Err(if exists {
            NoRoute::Method
        } else {
            NoRoute::Path
        })
    }
}

/// Percent-encodes one path segment or query value (every byte but RFC 3986's unreserved ones).
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes of a path segment (invalid escapes are kept as they are).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && text.is_char_boundary(i + 3)
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_route_wins() {
        let routes = Routes::from_catalogue(Catalogue::okta().unwrap());
        let rules = routes.find(Method::Get, "/api/v1/groups/rules").unwrap();
        assert_eq!(
            (rules.route.kind.as_str(), &rules.route.role),
            ("group_rule", &Role::List)
        );
        let group = routes.find(Method::Get, "/api/v1/groups/00g1").unwrap();
        assert_eq!(group.route.kind, "group");
        assert_eq!(group.params["groupId"], "00g1");
        let activate = routes
            .find(Method::Post, "/api/v1/apps/0oa1/lifecycle/activate")
            .unwrap();
        assert_eq!(activate.route.role, Role::Lifecycle("activate".into()));
        let members = routes
            .find(Method::Put, "/api/v1/groups/00g1/users/00u1")
            .unwrap();
        assert_eq!(members.route.kind, "group_membership");
        let enable = routes
            .find(Method::Post, "/api/v1/features/ftr1/ENABLE")
            .unwrap();
        assert_eq!(enable.route.role, Role::Lifecycle("enable".into()));
        assert!(
            routes
                .find(Method::Post, "/api/v1/features/ftr1/SOMETHING")
                .is_err()
        );
        assert_eq!(
            routes
                .find(Method::Patch, "/api/v1/groups/00g1")
                .unwrap_err(),
            NoRoute::Method
        );
        assert_eq!(
            routes.find(Method::Get, "/api/v2/nothing").unwrap_err(),
            NoRoute::Path
        );
        let console = routes
            .find(
                Method::Get,
                "/api/v1/first-party-app-settings/admin-console",
            )
            .unwrap();
        assert_eq!(console.route.kind, "admin_console_settings");
    }

    #[test]
    fn path_segments_are_percent_decoded() {
        assert_eq!(percent_decode("a%40b.com"), "a@b.com");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
