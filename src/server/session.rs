//! The session over HTTP: the session cookie (`HttpOnly`, `SameSite=Lax`, `Secure` when the
//! server's base URL is https), the pre-sign-in CSRF cookie, and the CSRF token of a session
//! (an HMAC of the session token, so it needs no storage and dies with the session).
//!
//! Must not log a cookie or a token.

use axum::http::{HeaderMap, HeaderValue, header};
use hmac::{KeyInit, Mac};
use sha2::Sha256;

use crate::store::sessions::{SESSION_TTL_SECS, Token};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "butterfly_session";
/// The double-submit cookie of the sign-in forms.
pub const CSRF_COOKIE: &str = "butterfly_csrf";

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for a cookie the pages' scripts never read.
fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    // Tokens are base64url and names are ASCII: always a valid header value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// The session cookie for `token`.
pub fn session_cookie(token: &Token, secure: bool) -> HeaderValue {
    set_cookie(SESSION_COOKIE, token.as_str(), SESSION_TTL_SECS, secure)
}

/// Clears the session cookie.
pub fn clear_session_cookie(secure: bool) -> HeaderValue {
    set_cookie(SESSION_COOKIE, "", 0, secure)
}

/// The sign-in forms' double-submit cookie.
pub fn csrf_cookie(value: &str, secure: bool) -> HeaderValue {
    set_cookie(CSRF_COOKIE, value, 60 * 60, secure)
}

/// The CSRF token of a session.
pub fn csrf_for(session: &Token) -> String {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(session.as_str().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"butterfly/csrf");
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others_and_set_with_their_flags() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; butterfly_session=abc"),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("butterfly_csrf=xyz"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, CSRF_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&headers, "missing"), None);
        let token = Token::from_presented("tok");
        let set = session_cookie(&token, true);
        let set = set.to_str().unwrap();
        for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
            assert!(set.contains(flag), "{set}");
        }
        assert!(
            !session_cookie(&token, false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
        assert!(
            clear_session_cookie(false)
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
    }

    #[test]
    fn csrf_tokens_are_per_session_and_compared_in_constant_time() {
        let a = csrf_for(&Token::from_presented("one"));
        let b = csrf_for(&Token::from_presented("two"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(constant_time_eq(a.as_bytes(), a.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), b.as_bytes()));
        assert!(!constant_time_eq(b"a", b"ab"));
    }
}
