//! Trino's "URL functions" (`functions/url.md`): the parts of a URL
//! (`[protocol:][//host[:port]][path][?query][#fragment]`), and `url_encode`/`url_decode`.
//! A value that is not a URL gives NULL, as in Trino.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::ScalarUDF;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use url::Url;

use super::args::{check, utf8};
use super::udf::Simple;

/// The functions of this family.
pub(super) fn functions() -> Vec<ScalarUDF> {
    let text = |name: &'static str, kernel: super::udf::Kernel| {
        Simple::new(
            name,
            &[1],
            |args| check("url", args, &[0]).map(|_| DataType::Utf8),
            kernel,
        )
        .udf()
    };
    vec![
        text("url_extract_protocol", |a, _| {
            part(a, |u| Some(u.scheme().to_string()))
        }),
        text("url_extract_host", |a, _| {
            part(a, |u| u.host_str().map(str::to_string))
        }),
        text("url_extract_path", |a, _| {
            part(a, |u| Some(u.path().to_string()))
        }),
        text("url_extract_query", |a, _| {
            part(a, |u| u.query().map(str::to_string))
        }),
        text("url_extract_fragment", |a, _| {
            part(a, |u| u.fragment().map(str::to_string))
        }),
        Simple::new(
            "url_extract_port",
            &[1],
            |args| check("url_extract_port", args, &[0]).map(|_| DataType::Int64),
            port,
        )
        .udf(),
        Simple::new(
            "url_extract_parameter",
            &[2],
            |args| check("url_extract_parameter", args, &[0, 1]).map(|_| DataType::Utf8),
            parameter,
        )
        .udf(),
        text("url_encode", |a, _| map_text(a, |s| Some(encode(s)))),
        text("url_decode", |a, _| map_text(a, decode)),
    ]
}

fn parse(text: &str) -> Option<Url> {
    Url::parse(text.trim()).ok()
}

fn map_text(args: &[ArrayRef], f: impl Fn(&str) -> Option<String>) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let out: StringArray = text.as_string::<i32>().iter().map(|s| f(s?)).collect();
    Ok(Arc::new(out))
}

fn part(args: &[ArrayRef], f: fn(&Url) -> Option<String>) -> DFResult<ArrayRef> {
    map_text(args, |s| f(&parse(s)?))
}

/// `url_extract_port(url)`: the port written in the URL (NULL when none is).
fn port(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let out: Int64Array = text
        .as_string::<i32>()
        .iter()
        .map(|s| parse(s?)?.port().map(i64::from))
        .collect();
    Ok(Arc::new(out))
}

/// `url_extract_parameter(url, name)`: "the value of the first query string parameter named
/// name", as written (not decoded); an empty string for `?name`.
fn parameter(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let (text, names) = (utf8(&args[0])?, utf8(&args[1])?);
    let (text, names) = (text.as_string::<i32>(), names.as_string::<i32>());
    let out: StringArray = (0..text.len())
        .map(|i| {
            if text.is_null(i) || names.is_null(i) {
                return None;
            }
            let url = parse(text.value(i))?;
            let name = names.value(i);
            url.query()?.split('&').find_map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (key == name).then(|| value.to_string())
            })
        })
        .collect();
    Ok(Arc::new(out))
}

/// What Java's `URLEncoder` leaves as it is: letters, digits and `. - * _`.
const KEPT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'*')
    .remove(b'_');

/// `url_encode(value)`: "Escapes value by encoding it so that it can be safely included in URL
/// query parameter names and values" — a space is `+`, other bytes `%XX` of their UTF-8.
fn encode(s: &str) -> String {
    s.split(' ')
        .map(|part| utf8_percent_encode(part, KEPT).to_string())
        .collect::<Vec<_>>()
        .join("+")
}

/// `url_decode(value)`: "Unescapes the URL encoded value"; NULL when it is not valid.
fn decode(s: &str) -> Option<String> {
    let spaced = s.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_java_url_encoding_and_back() {
        assert_eq!(encode("a b&c=d/é*"), "a+b%26c%3Dd%2F%C3%A9*");
        assert_eq!(
            decode("a+b%26c%3Dd%2F%C3%A9*").as_deref(),
            Some("a b&c=d/é*")
        );
    }
}
