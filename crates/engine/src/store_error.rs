//! Object store failures in a person's words: which bucket or object, and what to check.
//!
//! object_store reports an S3 failure as the HTTP exchange ("Error performing GET http://… -
//! Server returned non-2xx status code: 403 Forbidden: <Error><Code>…"). The S3 error code in
//! that body and the kind of transport failure are what tell a user what to fix.

use std::error::Error as _;

use object_store::client::{HttpError, HttpErrorKind};

/// One line describing `error`: what went wrong and, where it is clear, what to check.
pub fn explain_store_error(error: &object_store::Error) -> String {
    let text = error_chain_text(error);
    let code = s3_error_code(&text);
    let at = request_line(&text)
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    if let Some(kind) = http_error_kind(error) {
        match kind {
            HttpErrorKind::Connect => {
                return format!(
                    "cannot connect to the object store{at}: {}",
                    root_cause(error)
                );
            }
            HttpErrorKind::Timeout => {
                return format!(
                    "the object store did not answer in time{at}: raise 'timeout' in storage.toml or check the network"
                );
            }
            HttpErrorKind::Interrupted | HttpErrorKind::Request => {
                return format!(
                    "the connection to the object store failed{at}: {}",
                    root_cause(error)
                );
            }
            _ => {}
        }
    }
    match code.as_deref() {
        Some("NoSuchBucket") => format!("the bucket does not exist{at}"),
        Some("InvalidAccessKeyId") => format!(
            "the access key id is not known to the object store{at}: check the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE, ~/.aws/credentials)"
        ),
        Some("SignatureDoesNotMatch") => format!(
            "the request signature does not match{at}: check the secret access key (AWS_SECRET_ACCESS_KEY, ~/.aws/credentials)"
        ),
        Some("ExpiredToken" | "TokenRefreshRequired" | "InvalidToken") => {
            format!("the session token is expired or invalid{at}: refresh the credentials")
        }
        Some("AccessDenied" | "AllAccessDisabled") => {
            format!("access denied{at}: the credentials in use may not read this")
        }
        Some(
            "PermanentRedirect"
            | "AuthorizationHeaderMalformed"
            | "IllegalLocationConstraintException",
        ) => {
            let hint = region_hint(&text)
                .map(|r| format!(": set region = \"{r}\" in storage.toml"))
                .unwrap_or_else(|| ": set its region in storage.toml or AWS_REGION".to_string());
            format!("the bucket is in another region than the one configured{at}{hint}")
        }
        _ => match error {
            object_store::Error::NotFound { path, .. } => format!("'{path}' not found{at}"),
            object_store::Error::PermissionDenied { .. } => {
                format!("access denied{at}: the credentials in use may not read this")
            }
            object_store::Error::Unauthenticated { .. } => {
                format!("not authenticated{at}: check the credentials")
            }
            _ if text.contains("redirect") => format!(
                "the object store redirected the request{at}: the bucket is probably in another region"
            ),
            _ => root_cause(error),
        },
    }
}

fn error_chain_text(error: &object_store::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push('\n');
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
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
fn s3_error_code(text: &str) -> Option<String> {
    let start = text.find("<Code>")? + "<Code>".len();
    let end = text[start..].find("</Code>")? + start;
    Some(text[start..end].trim().to_string())
}

/// `GET http://127.0.0.1:9000/bucket/key` from "Error performing GET http://127.0.0.1:9000/
/// bucket/key?… in …": the request that failed, naming endpoint, bucket and key.
fn request_line(text: &str) -> Option<String> {
    let rest = text.split("Error performing ").nth(1)?;
    let mut words = rest.split_whitespace();
    let method = words.next()?;
    let mut url = url::Url::parse(words.next()?).ok()?;
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

    #[test]
    fn finds_the_s3_code_endpoint_and_region() {
        let text = "Error performing GET http://127.0.0.1:9000/lake?list-type=2 in 3ms - Server returned non-2xx status code: 301 Moved Permanently: <Error><Code>PermanentRedirect</Code><Region>eu-west-1</Region></Error>";
        assert_eq!(s3_error_code(text).as_deref(), Some("PermanentRedirect"));
        assert_eq!(
            request_line(text).as_deref(),
            Some("GET http://127.0.0.1:9000/lake")
        );
        assert_eq!(region_hint(text).as_deref(), Some("eu-west-1"));
        assert_eq!(
            region_hint("the region 'us-east-1' is wrong; expecting 'ap-northeast-2'").as_deref(),
            Some("ap-northeast-2")
        );
    }

    #[test]
    fn plain_errors_keep_their_own_words() {
        let error = object_store::Error::NotFound {
            path: "views/dt=2024-01-01/a.parquet".into(),
            source: "gone".into(),
        };
        assert_eq!(
            explain_store_error(&error),
            "'views/dt=2024-01-01/a.parquet' not found"
        );
    }
}
