//! Object store failures in a person's words: which request, and what to check.
//!
//! What is typed decides first: object_store's error variants (`NotFound`, `PermissionDenied`
//! for 403, `Unauthenticated` for 401) and the kind of an `HttpError` in the chain (a timeout,
//! a refused connection). What object_store keeps private is read from its message as a last
//! resort, each pattern pinned by a test below that spells the upstream text: the S3 error
//! code in the response body (`<Code>NoSuchBucket</Code>`), the request line ("Error performing
//! GET http://…"), and the status of an error that has no variant of its own (301).

use std::error::Error as _;
use std::fmt;

use object_store::client::{HttpError, HttpErrorKind};

/// What went wrong talking to an object store, as a user can act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// No answer in time.
    Timeout {
        /// The request (`GET http://host/bucket/key`), when known.
        request: Option<String>,
    },
    /// No connection could be made or kept.
    Unreachable {
        /// The request, when known.
        request: Option<String>,
        /// The innermost cause ("Connection refused").
        cause: String,
    },
    /// A connection was made, then closed or reset before the response was complete, after
    /// every retry.
    Interrupted {
        /// The request, when known.
        request: Option<String>,
        /// How far it got ("after 1000 objects"), when known.
        progress: Option<String>,
        /// How often it was retried, when known.
        retries: Option<usize>,
        /// The innermost cause.
        cause: String,
    },
    /// The bucket does not exist.
    NoSuchBucket {
        /// The request, when known.
        request: Option<String>,
    },
    /// The access key id is not known to the store.
    UnknownAccessKey {
        /// The request, when known.
        request: Option<String>,
    },
    /// The request signature does not match: a wrong secret key.
    BadSignature {
        /// The request, when known.
        request: Option<String>,
    },
    /// The session token is expired or invalid.
    ExpiredToken {
        /// The request, when known.
        request: Option<String>,
    },
    /// The bucket is in another region than the one configured.
    WrongRegion {
        /// The request, when known.
        request: Option<String>,
        /// The bucket's region, when the store said it.
        region: Option<String>,
    },
    /// 403: the credentials may not do this.
    AccessDenied {
        /// The request, when known.
        request: Option<String>,
        /// The S3 error code and message, when the store said them.
        said: Option<String>,
    },
    /// 401: no valid credentials.
    Unauthenticated {
        /// The request, when known.
        request: Option<String>,
        /// The S3 error code and message, when the store said them.
        said: Option<String>,
    },
    /// A redirect: the bucket is probably in another region.
    Redirected {
        /// The request, when known.
        request: Option<String>,
    },
    /// The object does not exist.
    NotFound {
        /// Its path in the store.
        path: String,
    },
    /// Anything else: the innermost cause, in the store's words.
    Other {
        /// What the store said.
        cause: String,
    },
}

impl Failure {
    /// Classifies `error`.
    pub fn of(error: &object_store::Error) -> Self {
        let text = chain_text(error);
        if let Some(cut) = find::<crate::resume::ListingInterrupted>(error) {
            return Self::Interrupted {
                request: request_line(&text),
                progress: Some(format!("after {} objects", cut.listed)),
                retries: Some(cut.retries),
                cause: root_cause(error),
            };
        }
        let kind = http_error_kind(error);
        let status = match error {
            object_store::Error::PermissionDenied { .. } => Some(403),
            object_store::Error::Unauthenticated { .. } => Some(401),
            object_store::Error::NotFound { .. } => Some(404),
            _ => status_code(&text),
        };
        classify(&text, kind, status).unwrap_or_else(|| match error {
            object_store::Error::NotFound { path, .. } => Self::NotFound { path: path.clone() },
            _ => Self::Other {
                cause: root_cause(error),
            },
        })
    }

    /// The same, for a store failure that reached us only as text (DataFusion and the Parquet
    /// reader flatten some errors into their messages): `None` if the text shows none.
    pub fn in_text(text: &str) -> Option<Self> {
        let looks_like_store = [STORE_ERROR, S3_ERROR, PERFORMING]
            .iter()
            .any(|marker| text.contains(marker));
        if !looks_like_store {
            return None;
        }
        let kind = if text.contains(TIMED_OUT) {
            Some(HttpErrorKind::Timeout)
        } else if text.contains(SENDING) || text.contains(REFUSED) {
            Some(HttpErrorKind::Connect)
        } else {
            None
        };
        classify(text, kind, status_code(text))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |request: &Option<String>| {
            request
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        };
        let said =
            |said: &Option<String>| said.as_ref().map(|s| format!(" ({s})")).unwrap_or_default();
        match self {
            Self::Timeout { request } => write!(
                f,
                "the object store did not answer in time{}: raise 'timeout' in storage.toml or check the network",
                at(request)
            ),
            Self::Unreachable { request, cause } => {
                write!(
                    f,
                    "cannot connect to the object store{}: {cause}",
                    at(request)
                )
            }
            Self::Interrupted {
                request,
                progress,
                retries,
                cause,
            } => {
                let progress = progress
                    .as_ref()
                    .map(|p| format!(" {p}"))
                    .unwrap_or_default();
                let retries = retries
                    .map(|n| format!(" and {n} retries"))
                    .unwrap_or_default();
                write!(
                    f,
                    "the object store's response broke off{}{progress}{retries}: {cause}; check the network, or raise 'retries' in storage.toml",
                    at(request)
                )
            }
            Self::NoSuchBucket { request } => write!(f, "the bucket does not exist{}", at(request)),
            Self::UnknownAccessKey { request } => write!(
                f,
                "the access key id is not known to the object store{}: check the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE, ~/.aws/credentials)",
                at(request)
            ),
            Self::BadSignature { request } => write!(
                f,
                "the request signature does not match{}: check the secret access key (AWS_SECRET_ACCESS_KEY, ~/.aws/credentials)",
                at(request)
            ),
            Self::ExpiredToken { request } => write!(
                f,
                "the session token is expired or invalid{}: refresh the credentials",
                at(request)
            ),
            Self::WrongRegion { request, region } => {
                write!(
                    f,
                    "the bucket is in another region than the one configured{}",
                    at(request)
                )?;
                match region {
                    Some(r) => write!(f, ": set region = \"{r}\" in storage.toml"),
                    None => write!(f, ": set its region in storage.toml or AWS_REGION"),
                }
            }
            Self::AccessDenied { request, said: s } => write!(
                f,
                "access denied{}{}: check the credentials and what they may read",
                said(s),
                at(request)
            ),
            Self::Unauthenticated { request, said: s } => write!(
                f,
                "not authenticated{}{}: check the credentials",
                said(s),
                at(request)
            ),
            Self::Redirected { request } => write!(
                f,
                "the object store redirected the request{}: the bucket is probably in another region (set region in storage.toml)",
                at(request)
            ),
            Self::NotFound { path } => write!(f, "'{path}' not found"),
            Self::Other { cause } => f.write_str(cause),
        }
    }
}

// What object_store and the layers above it print, as far as it is read here. Each is pinned
// by a test that spells the upstream message.
/// object_store's `RetryError`: "Error performing GET http://… in 3ms - …".
const PERFORMING: &str = "Error performing ";
/// object_store's `RequestError::Status`: "Server returned non-2xx status code: 403 Forbidden".
const STATUS: &str = "status code: ";
/// DataFusion's `DataFusionError::ObjectStore`: "Object Store error: …".
const STORE_ERROR: &str = "Object Store error";
/// object_store's `Error::Generic { store: "S3" }`: "Generic S3 error: …".
const S3_ERROR: &str = "S3 error";
/// reqwest's timeout, flattened: "operation timed out".
const TIMED_OUT: &str = "timed out";
/// reqwest's connection failure, flattened: "error sending request for url (…)".
const SENDING: &str = "error sending request";
/// The OS's "Connection refused" (either case of the first letter).
const REFUSED: &str = "onnection refused";
/// object_store's `RequestError::BareRedirect`: "Received redirect without LOCATION, …".
const REDIRECT: &str = "redirect";

fn classify(text: &str, kind: Option<HttpErrorKind>, status: Option<u16>) -> Option<Failure> {
    let request = request_line(text);
    match kind {
        Some(HttpErrorKind::Timeout) => return Some(Failure::Timeout { request }),
        Some(HttpErrorKind::Connect) => {
            return Some(Failure::Unreachable {
                request,
                cause: last_words(text),
            });
        }
        // Connected, then the connection closed or was reset mid-request or mid-response.
        Some(HttpErrorKind::Request | HttpErrorKind::Interrupted) => {
            return Some(Failure::Interrupted {
                request,
                progress: None,
                retries: None,
                cause: last_words(text),
            });
        }
        _ => {}
    }
    let code = tag(text, "Code");
    let said = match (&code, tag(text, "Message")) {
        (Some(code), Some(message)) => Some(format!("{code}: {message}")),
        (Some(code), None) => Some(code.clone()),
        _ => None,
    };
    Some(match code.as_deref() {
        Some("NoSuchBucket") => Failure::NoSuchBucket { request },
        Some("InvalidAccessKeyId" | "NotSignedUp") => Failure::UnknownAccessKey { request },
        Some("SignatureDoesNotMatch") => Failure::BadSignature { request },
        Some("ExpiredToken" | "TokenRefreshRequired" | "InvalidToken") => {
            Failure::ExpiredToken { request }
        }
        Some(
            "PermanentRedirect"
            | "AuthorizationHeaderMalformed"
            | "IllegalLocationConstraintException",
        ) => Failure::WrongRegion {
            request,
            region: region_hint(text),
        },
        _ if status == Some(403) => Failure::AccessDenied { request, said },
        _ if status == Some(401) => Failure::Unauthenticated { request, said },
        _ if status == Some(301) || text.contains(REDIRECT) => Failure::Redirected { request },
        _ => return None,
    })
}

/// The last part of a message: the innermost cause ("Connection refused").
fn last_words(text: &str) -> String {
    let last = text.lines().last().unwrap_or(text);
    last.rsplit(": ").next().unwrap_or(last).trim().to_string()
}

/// `403` from "Server returned non-2xx status code: 403 Forbidden".
fn status_code(text: &str) -> Option<u16> {
    let rest = text.split(STATUS).nth(1)?;
    rest.get(..3)?.parse().ok()
}

fn chain_text(error: &object_store::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push('\n');
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The first error of type `T` in `error`'s chain.
fn find<T: std::error::Error + 'static>(error: &object_store::Error) -> Option<&T> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(found) = current.downcast_ref::<T>() {
            return Some(found);
        }
        cause = current.source();
    }
    None
}

fn http_error_kind(error: &object_store::Error) -> Option<HttpErrorKind> {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(http) = cause.downcast_ref::<HttpError>() {
            return Some(http.kind());
        }
        source = cause.source();
    }
    None
}

/// The innermost cause, which names the actual failure ("Connection refused").
fn root_cause(error: &object_store::Error) -> String {
    let mut last: &dyn std::error::Error = error;
    while let Some(cause) = last.source() {
        last = cause;
    }
    last.to_string()
}

/// `NoSuchBucket` from `<Code>NoSuchBucket</Code>` in an S3 error body.
fn tag(text: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{name}>"))? + start;
    Some(text[start..end].trim().to_string())
}

/// `GET http://127.0.0.1:9000/bucket/key` from "Error performing GET http://127.0.0.1:9000/
/// bucket/key?… in …": the request that failed, naming endpoint, bucket and key.
fn request_line(text: &str) -> Option<String> {
    let rest = text.split(PERFORMING).nth(1)?;
    let mut words = rest.split_whitespace();
    let method = words.next()?;
    let mut url = url::Url::parse(words.next()?).ok()?;
    // "Error performing list request: …" names no request.
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.set_query(None);
    Some(format!("{method} {url}"))
}

/// The bucket's region, when the error says it (`<Region>eu-west-1</Region>`, or "expecting
/// 'eu-west-1'" in AuthorizationHeaderMalformed).
fn region_hint(text: &str) -> Option<String> {
    for (open, close) in [("<Region>", "</Region>"), ("expecting '", "'")] {
        if let Some(start) = text.find(open).map(|i| i + open.len())
            && let Some(len) = text[start..].find(close)
        {
            return Some(text[start..start + len].to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// object_store 0.13's `RetryError` and `RequestError::Status`, as they print a 301 with
    /// S3's XML body (`client/retry.rs`).
    const MOVED: &str = "Error performing GET http://127.0.0.1:9000/lake?list-type=2 in 3ms - Server returned non-2xx status code: 301 Moved Permanently: <Error><Code>PermanentRedirect</Code><Region>eu-west-1</Region></Error>";

    #[test]
    fn finds_the_s3_code_endpoint_and_region() {
        assert_eq!(tag(MOVED, "Code").as_deref(), Some("PermanentRedirect"));
        assert_eq!(status_code(MOVED), Some(301));
        assert_eq!(
            request_line(MOVED).as_deref(),
            Some("GET http://127.0.0.1:9000/lake")
        );
        assert_eq!(region_hint(MOVED).as_deref(), Some("eu-west-1"));
        // S3's AuthorizationHeaderMalformed message names the bucket's region.
        assert_eq!(
            region_hint("the region 'us-east-1' is wrong; expecting 'ap-northeast-2'").as_deref(),
            Some("ap-northeast-2")
        );
        assert_eq!(
            Failure::in_text(MOVED),
            Some(Failure::WrongRegion {
                request: Some("GET http://127.0.0.1:9000/lake".into()),
                region: Some("eu-west-1".into()),
            })
        );
    }

    #[test]
    fn typed_variants_decide_the_status() {
        // object_store maps 403 to `PermissionDenied`; the body then says why.
        let denied = object_store::Error::PermissionDenied {
            path: "views/a.parquet".into(),
            source: "Error performing GET http://127.0.0.1:9000/lake/views/a.parquet in 2ms - Server returned non-2xx status code: 403 Forbidden: <Error><Code>AccessDenied</Code><Message>no</Message></Error>".into(),
        };
        assert_eq!(
            Failure::of(&denied).to_string(),
            "access denied (AccessDenied: no) (GET http://127.0.0.1:9000/lake/views/a.parquet): check the credentials and what they may read"
        );
        let bad_key = object_store::Error::PermissionDenied {
            path: String::new(),
            source: "<Error><Code>InvalidAccessKeyId</Code></Error>".into(),
        };
        assert!(matches!(
            Failure::of(&bad_key),
            Failure::UnknownAccessKey { .. }
        ));
        let unauthenticated = object_store::Error::Unauthenticated {
            path: String::new(),
            source: "no body".into(),
        };
        assert!(matches!(
            Failure::of(&unauthenticated),
            Failure::Unauthenticated { said: None, .. }
        ));
    }

    #[test]
    fn flattened_transport_failures_are_recognized_by_their_words() {
        // reqwest's words for a refused connection and a timeout, inside DataFusion's and
        // object_store's wrappers.
        let refused = "Object Store error: Generic S3 error: Error performing GET http://127.0.0.1:1/lake/a in 1ms - error sending request for url (http://127.0.0.1:1/lake/a): client error (Connect): tcp connect error: Connection refused";
        assert_eq!(
            Failure::in_text(refused),
            Some(Failure::Unreachable {
                request: Some("GET http://127.0.0.1:1/lake/a".into()),
                cause: "Connection refused".into(),
            })
        );
        let timeout = "Object Store error: Generic S3 error: Error performing GET http://10.0.0.1/lake/a in 5s - operation timed out";
        assert!(matches!(
            Failure::in_text(timeout),
            Some(Failure::Timeout { .. })
        ));
        assert_eq!(Failure::in_text("Parquet error: EOF"), None);
        // object_store's `RequestError::BareRedirect`: a redirect without a Location header.
        let bare = "Object Store error: Generic S3 error: Error performing GET http://127.0.0.1:9000/lake in 2ms - Received redirect without LOCATION, this normally indicates an incorrectly configured region";
        assert!(matches!(
            Failure::in_text(bare),
            Some(Failure::Redirected { .. })
        ));
    }

    #[test]
    fn plain_errors_keep_their_own_words() {
        let error = object_store::Error::NotFound {
            path: "views/dt=2024-01-01/a.parquet".into(),
            source: "gone".into(),
        };
        assert_eq!(
            Failure::of(&error).to_string(),
            "'views/dt=2024-01-01/a.parquet' not found"
        );
        let other = object_store::Error::Generic {
            store: "S3",
            source: "the innermost words".into(),
        };
        assert_eq!(Failure::of(&other).to_string(), "the innermost words");
    }

    #[test]
    fn a_missing_bucket_is_said_so() {
        // s3s and AWS answer 404 with NoSuchBucket; object_store makes that `NotFound`.
        let error = object_store::Error::NotFound {
            path: "views".into(),
            source: "Error performing GET http://127.0.0.1:9000/nope?list-type=2 in 1ms - Server returned non-2xx status code: 404 Not Found: <Error><Code>NoSuchBucket</Code></Error>".into(),
        };
        assert_eq!(
            Failure::of(&error).to_string(),
            "the bucket does not exist (GET http://127.0.0.1:9000/nope)"
        );
    }
}
