//! The console's page: built into `assets/` from `web/` (`npm run build`, committed) and
//! embedded in the binary, so it works with no network.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

const INDEX: &str = include_str!("../assets/index.html");

/// The page's static files: `(name, content type, bytes)`. They hold no data: no token needed.
const ASSETS: [(&str, &str, &[u8]); 3] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/console.css"),
    ),
];

pub(crate) async fn index() -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Html(INDEX)).into_response()
}

pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => {
            ([(header::CONTENT_TYPE, *content_type)], *bytes).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// The page a browser gets without the right token.
pub(crate) fn refused(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Minerva</title>\
         <body style=\"font:15px system-ui;margin:3em\"><h1>Minerva console</h1><p>{message}</p>\
         <p>Open the URL <code>minerva ui</code> printed when it started: it carries the token.</p>"
    );
    (status, Html(body)).into_response()
}
