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
    let kind = http_error_kind(error);
    explain(&text, kind).unwrap_or_else(|| match error {
        object_store::Error::NotFound { path, .. } => format!("'{path}' not found"),
        _ => root_cause(error),
    })
}

/// The same, for a store failure that reached us only as text (DataFusion and the Parquet
/// reader flatten some errors into their messages): `None` if the text shows none.
pub fn explain_store_text(text: &str) -> Option<String> {
    let looks_like_store = ["Object Store error", "S3 error", "Error performing "]
        .iter()
        .any(|marker| text.contains(marker));
    if !looks_like_store {
        return None;
    }
    let kind = if text.contains("timed out") {
        Some(HttpErrorKind::Timeout)
    } else if text.contains("error sending request") || text.contains("onnection refused") {
        Some(HttpErrorKind::Connect)
    } else {
        None
    };
    explain(text, kind)
}

fn explain(text: &str, kind: Option<HttpErrorKind>) -> Option<String> {
    let at = request_line(text)
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    match kind {
        Some(HttpErrorKind::Timeout) => {
            return Some(format!(
                "the object store did not answer in time{at}: raise 'timeout' in storage.toml or check the network"
            ));
        }
        Some(HttpErrorKind::Connect | HttpErrorKind::Request | HttpErrorKind::Interrupted) => {
            return Some(format!(
                "cannot connect to the object store{at}: {}",
                last_words(text)
            ));
        }
        _ => {}
    }
    let code = tag(text, "Code");
    let said = match (&code, tag(text, "Message")) {
        (Some(code), Some(message)) => format!(" ({code}: {message})"),
        (Some(code), None) => format!(" ({code})"),
        _ => String::new(),
    };
    let status = status_code(text);
    Some(match code.as_deref() {
        Some("NoSuchBucket") => format!("the bucket does not exist{at}"),
        Some("InvalidAccessKeyId" | "NotSignedUp") => format!(
            "the access key id is not known to the object store{at}: check the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE, ~/.aws/credentials)"
        ),
        Some("SignatureDoesNotMatch") => format!(
            "the request signature does not match{at}: check the secret access key (AWS_SECRET_ACCESS_KEY, ~/.aws/credentials)"
        ),
        Some("ExpiredToken" | "TokenRefreshRequired" | "InvalidToken") => {
            format!("the session token is expired or invalid{at}: refresh the credentials")
        }
        Some(
            "PermanentRedirect"
            | "AuthorizationHeaderMalformed"
            | "IllegalLocationConstraintException",
        ) => {
            let hint = region_hint(text)
                .map(|r| format!(": set region = \"{r}\" in storage.toml"))
                .unwrap_or_else(|| ": set its region in storage.toml or AWS_REGION".to_string());
            format!("the bucket is in another region than the one configured{at}{hint}")
        }
        _ if status == Some(403) => {
            format!("access denied{said}{at}: check the credentials and what they may read")
        }
        _ if status == Some(401) => format!("not authenticated{said}{at}: check the credentials"),
        _ if status == Some(301) || text.contains("redirect") => format!(
            "the object store redirected the request{at}: the bucket is probably in another region (set region in storage.toml)"
        ),
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
    let rest = text.split("status code: ").nth(1)?;
    rest.get(..3)?.parse().ok()
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
fn tag(text: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{name}>"))? + start;
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
        assert_eq!(tag(text, "Code").as_deref(), Some("PermanentRedirect"));
        assert_eq!(status_code(text), Some(301));
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
