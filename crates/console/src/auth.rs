//! Who may use the console: whoever holds the token it printed, from its own origin.

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use rand::Rng;

/// A random secret, 32 hex digits: a local user who cannot read the console's output cannot
/// run queries through it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// A new token from the operating system's random source.
    pub fn random() -> Self {
        let bytes: [u8; 16] = rand::rng().random();
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `given` is the token, compared in constant time.
    fn matches(&self, given: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), given.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No token, or a wrong one.
    Token,
    /// Sent by a page of another origin.
    Origin,
}

impl Refusal {
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Refusal::Token => StatusCode::UNAUTHORIZED,
            Refusal::Origin => StatusCode::FORBIDDEN,
        }
    }

    pub(crate) fn message(self) -> &'static str {
        match self {
            Refusal::Token => {
                "this console needs the token it printed when it started (Authorization: Bearer TOKEN, or ?token=TOKEN)"
            }
            Refusal::Origin => "requests from another origin are refused",
        }
    }
}

/// Checks `request`: the token, and that a browser sent it from the console's own origin.
pub(crate) fn check(token: &Token, request: &Request) -> Result<(), Refusal> {
    let headers = request.headers();
    if !same_origin(headers) {
        return Err(Refusal::Origin);
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let query = request
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("token=")));
    match bearer.or(query) {
        Some(given) if token.matches(given) => Ok(()),
        _ => Err(Refusal::Token),
    }
}

/// A request without an `Origin` (scripts, same-origin GETs) or whose origin is the host it was
/// sent to; browsers also say `Sec-Fetch-Site: cross-site` for another site's requests.
fn same_origin(headers: &HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://").map(|(_, rest)| rest));
    matches!((origin, host), (Some(o), Some(h)) if o == h)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn request(uri: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn the_token_and_the_origin_decide() {
        let token = Token::random();
        assert_eq!(token.as_str().len(), 32);
        assert_ne!(Token::random(), token);
        let bearer = format!("Bearer {}", token.as_str());
        let host = ("host", "127.0.0.1:8080");
        assert_eq!(
            check(
                &token,
                &request("/api/catalog", &[host, ("authorization", &bearer)])
            ),
            Ok(())
        );
        let query = format!("/api/catalog?token={}", token.as_str());
        assert_eq!(check(&token, &request(&query, &[host])), Ok(()));
        assert_eq!(
            check(&token, &request("/api/catalog", &[host])),
            Err(Refusal::Token)
        );
        assert_eq!(
            check(&token, &request("/api/catalog?token=0000", &[host])),
            Err(Refusal::Token)
        );
        let own = ("origin", "http://127.0.0.1:8080");
        assert_eq!(check(&token, &request(&query, &[host, own])), Ok(()));
        let other = ("origin", "http://evil.example");
        assert_eq!(
            check(&token, &request(&query, &[host, other])),
            Err(Refusal::Origin)
        );
        let cross = ("sec-fetch-site", "cross-site");
        assert_eq!(
            check(&token, &request(&query, &[host, cross])),
            Err(Refusal::Origin)
        );
        assert_eq!(format!("{token:?}"), "Token(…)");
    }
}
