//! The `next` page of a list, in both of Okta's styles: a `Link: <url>; rel="next"` header
//! (Okta sends one header field per relation; comma-joined values are accepted too), or
//! `_links.next.href` in the body of IAM lists. The URL is followed verbatim, never built.

use reqwest::header::{HeaderMap, LINK};
use serde_json::Value;

/// The `rel="next"` target among the `Link` headers.
pub fn next_in_headers(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(next_in_value)
}

/// The `rel="next"` target of one `Link` field value (which may join several links).
fn next_in_value(value: &str) -> Option<String> {
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let close = open + rest[open..].find('>')?;
        let target = &rest[open + 1..close];
        let after = &rest[close + 1..];
        // The link's parameters run to the next link (a comma followed by '<') or the end.
        let end = after.find('<').unwrap_or(after.len());
        let params = &after[..end];
        let is_next = params.split(';').any(|param| {
            let Some((name, value)) = param.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_end_matches(',')
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.to_string());
        }
        rest = &after[end..];
    }
    None
}

/// `_links.next.href` of a body-paginated list.
pub fn next_in_body(body: &Value) -> Option<String> {
    body.pointer("/_links/next/href")
        .and_then(Value::as_str)
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn one_field_per_relation_as_okta_sends_them() {
        let mut headers = HeaderMap::new();
        headers.append(
            LINK,
            HeaderValue::from_static("<https://a.okta.com/api/v1/users?limit=2>; rel=\"self\""),
        );
        headers.append(
            LINK,
            HeaderValue::from_static(
                "<https://a.okta.com/api/v1/users?after=00u1&limit=2>; rel=\"next\"",
            ),
        );
        assert_eq!(
            next_in_headers(&headers).as_deref(),
            Some("https://a.okta.com/api/v1/users?after=00u1&limit=2")
        );
    }

    #[test]
    fn joined_values_and_odd_spacing() {
        for (value, expect) in [
            (
                "<https://x/a?b=1,2>; rel=\"self\", <https://x/next?c=3>; rel=\"next\"",
                Some("https://x/next?c=3"),
            ),
            ("<https://x/n>;rel=next", Some("https://x/n")),
            ("<https://x/n>; REL=\"prev next\"", Some("https://x/n")),
            ("<https://x/s>; rel=\"self\"", None),
            ("garbage", None),
            ("<unterminated; rel=\"next\"", None),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(LINK, HeaderValue::from_str(value).unwrap());
            assert_eq!(next_in_headers(&headers).as_deref(), expect, "{value}");
        }
        assert_eq!(next_in_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn body_links() {
        let body = serde_json::json!({"roles": [], "_links": {"next": {"href": "https://x/iam/roles?after=r1"}}});
        assert_eq!(
            next_in_body(&body).as_deref(),
            Some("https://x/iam/roles?after=r1")
        );
        assert_eq!(next_in_body(&serde_json::json!({"roles": []})), None);
    }
}
