//! The HTTP API (see the crate's documentation for the routes).

use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Field, Schema};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query as Params, Request, State as Shared};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use futures::StreamExt;
use minerva_engine::{Engine, athena_name};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{Refusal, Token, check};
use crate::catalog;
use crate::error::StoreError;
use crate::page;
use crate::queries::Queries;
use crate::saved::{Entry, History, SavedQueries};

/// What every handler shares.
pub(crate) struct State {
    engine: Engine,
    token: Token,
    queries: Queries,
    history: Option<History>,
    saved: SavedQueries,
}

impl State {
    /// Cancels every running statement: pages waiting on one answer at once.
    pub(crate) fn stop(&self) {
        self.queries.cancel_all();
    }

    pub(crate) fn new(
        engine: Engine,
        token: Token,
        history: Option<History>,
        saved: SavedQueries,
    ) -> Self {
        Self {
            engine,
            token,
            queries: Queries::default(),
            history,
            saved,
        }
    }
}

/// The state, as handlers take it.
type Console = Arc<State>;

/// Rows a page gives when it does not say, and at most.
const PAGE_ROWS: usize = 1_000;
const MAX_PAGE_ROWS: usize = 50_000;

pub(crate) fn router(state: Console) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/assets/{name}", get(page::asset))
        .route("/api/catalog", get(catalog_tree))
        .route("/api/query", post(start))
        .route("/api/query/{id}", delete(cancel))
        .route("/api/query/{id}/rows", get(rows))
        .route("/api/query/{id}/csv", get(csv))
        .route("/api/query/{id}/parquet", get(parquet_file))
        .route("/api/functions", get(functions))
        .route("/api/history", get(history))
        .route("/api/saved", get(saved_list))
        .route("/api/saved/{name}", put(save).delete(unsave))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), guard))
        .with_state(state)
}

/// Refuses a request without the token, or from another origin, before any handler runs.
async fn guard(Shared(state): Shared<Console>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let (asset, page) = (path.starts_with("/assets/"), path == "/");
    match check(&state.token, &request) {
        Ok(()) => next.run(request).await,
        // The page's files hold no data; the page itself and the API need the token.
        Err(Refusal::Token) if asset => next.run(request).await,
        Err(refusal) if page => page::refused(refusal.status(), refusal.message()),
        Err(refusal) => error(refusal.status(), refusal.message()),
    }
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": message.to_string() }))).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such API route")
}

fn unknown(id: u64) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("no query {id}: it finished, was cancelled, or was never started"),
    )
}

async fn catalog_tree(Shared(state): Shared<Console>) -> Response {
    let tree = catalog::tree(&state.engine).await;
    Json(json!({ "databases": tree })).into_response()
}

#[derive(Deserialize)]
struct Statement {
    sql: String,
}

async fn start(Shared(state): Shared<Console>, Json(statement): Json<Statement>) -> Response {
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let started = state.engine.execute(&statement.sql).await;
    if let Some(history) = &state.history {
        let entry = Entry {
            at,
            sql: statement.sql.clone(),
            error: started.as_ref().err().map(ToString::to_string),
        };
        // The statement runs whether or not its history could be written.
        let _ = history.add(&entry);
    }
    match started {
        Ok(output) => {
            let columns: Vec<Value> = (output.schema.fields().iter())
                .map(|f| json!({ "name": f.name(), "type": athena_name(f.data_type()) }))
                .collect();
            let id = state.queries.start(output);
            Json(json!({ "id": id, "columns": columns })).into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

#[derive(Deserialize)]
struct PageParams {
    max: Option<usize>,
}

async fn rows(
    Shared(state): Shared<Console>,
    Path(id): Path<u64>,
    Params(params): Params<PageParams>,
) -> Response {
    let Some(query) = state.queries.get(id) else {
        return unknown(id);
    };
    let max = params.max.unwrap_or(PAGE_ROWS).clamp(1, MAX_PAGE_ROWS);
    let page = match query.page(max).await {
        Ok(page) => page,
        Err(e) => {
            state.queries.forget(id);
            return error(StatusCode::BAD_REQUEST, e);
        }
    };
    let rows = match json_rows(&page.batches) {
        Ok(rows) => rows,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let status = page.done.then(|| query.stats.summary().to_string());
    if page.done {
        state.queries.forget(id);
    }
    Json(json!({ "rows": rows, "done": page.done, "status": status })).into_response()
}

/// Each row as an array of its values, as Arrow's JSON writer writes them (columns renamed by
/// position first: a result may repeat a name).
fn json_rows(batches: &[RecordBatch]) -> Result<Vec<Value>, arrow::error::ArrowError> {
    let mut out = Vec::new();
    for batch in batches {
        if batch.num_rows() == 0 {
            continue;
        }
        let fields: Vec<Field> = (batch.schema().fields().iter().enumerate())
            .map(|(i, f)| f.as_ref().clone().with_name(format!("c{i}")))
            .collect();
        let renamed =
            RecordBatch::try_new(Arc::new(Schema::new(fields)), batch.columns().to_vec())?;
        let mut buffer = Vec::new();
        let mut writer = arrow::json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow::json::writer::JsonArray>(&mut buffer);
        writer.write(&renamed)?;
        writer.finish()?;
        drop(writer);
        let objects: Vec<serde_json::Map<String, Value>> = serde_json::from_slice(&buffer)
            .map_err(|e| arrow::error::ArrowError::JsonError(e.to_string()))?;
        let width = batch.num_columns();
        out.extend(objects.into_iter().map(|mut object| {
            Value::Array(
                (0..width)
                    .map(|i| object.remove(&format!("c{i}")).unwrap_or(Value::Null))
                    .collect(),
            )
        }));
    }
    Ok(out)
}

async fn cancel(Shared(state): Shared<Console>, Path(id): Path<u64>) -> Response {
    match state.queries.forget(id) {
        Some(query) => {
            query.cancel();
            Json(json!({ "cancelled": id })).into_response()
        }
        None => unknown(id),
    }
}

/// The rows not yet pulled, as CSV with a header, streamed: the query is forgotten (a page
/// can no longer pull from it) and runs as the download reads.
async fn csv(Shared(state): Shared<Console>, Path(id): Path<u64>) -> Response {
    let Some(query) = state.queries.forget(id) else {
        return unknown(id);
    };
    let mut first = true;
    let chunks = query.rest().await.map(move |batch| {
        let batch = batch.map_err(std::io::Error::other)?;
        let mut buffer = Vec::new();
        let mut writer = arrow::csv::WriterBuilder::new()
            .with_header(first)
            .build(&mut buffer);
        writer.write(&batch).map_err(std::io::Error::other)?;
        drop(writer);
        first = false;
        Ok::<_, std::io::Error>(Bytes::from(buffer))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"query-{id}.csv\""),
        )
        .body(Body::from_stream(chunks))
        .unwrap_or_else(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e))
}

#[derive(Deserialize)]
struct HistoryParams {
    limit: Option<usize>,
}

/// The statements run, latest first (none when the console keeps no history).
async fn history(
    Shared(state): Shared<Console>,
    Params(params): Params<HistoryParams>,
) -> Response {
    let Some(history) = &state.history else {
        return Json(json!({ "entries": [] })).into_response();
    };
    match history.read() {
        Ok(mut entries) => {
            entries.reverse();
            entries.truncate(params.limit.unwrap_or(100));
            Json(json!({ "entries": entries })).into_response()
        }
        Err(e) => store_error(e),
    }
}

fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::Name { .. } => error(StatusCode::BAD_REQUEST, e),
        StoreError::Io { .. } => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn saved_list(Shared(state): Shared<Console>) -> Response {
    match state.saved.list() {
        Ok(queries) => Json(json!({ "queries": queries })).into_response(),
        Err(e) => store_error(e),
    }
}

async fn save(
    Shared(state): Shared<Console>,
    Path(name): Path<String>,
    Json(statement): Json<Statement>,
) -> Response {
    match state.saved.save(&name, &statement.sql) {
        Ok(file) => {
            Json(json!({ "saved": name, "file": file.display().to_string() })).into_response()
        }
        Err(e) => store_error(e),
    }
}

async fn unsave(Shared(state): Shared<Console>, Path(name): Path<String>) -> Response {
    match state.saved.delete(&name) {
        Ok(true) => Json(json!({ "deleted": name })).into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no saved query '{name}'")),
        Err(e) => store_error(e),
    }
}

/// The names of the session's functions (DataFusion's and Trino's), sorted: what the editor
/// completes.
async fn functions(Shared(state): Shared<Console>) -> Response {
    let sql = "SELECT DISTINCT routine_name FROM information_schema.routines ORDER BY 1";
    match state.engine.query(sql).await {
        Ok(batches) => {
            let names: Vec<String> = batches
                .iter()
                .flat_map(|b| {
                    let column = b.column(0).as_string::<i32>();
                    column
                        .iter()
                        .flatten()
                        .map(str::to_string)
                        .collect::<Vec<_>>()
                })
                .collect();
            Json(json!({ "functions": names })).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// Bytes a Parquet download buffers before it closes a row group and sends it.
const ROW_GROUP_BYTES: usize = 16 << 20;

/// A `Write` whose bytes the response takes as they come.
#[derive(Clone, Default)]
struct Spool(Arc<std::sync::Mutex<Vec<u8>>>);

impl Spool {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().expect("spool poisoned"))
    }
}

impl std::io::Write for Spool {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("spool poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The rows not yet pulled as one zstd Parquet file, streamed a row group at a time (at most
/// [`ROW_GROUP_BYTES`] held); the query is forgotten, as for CSV.
async fn parquet_file(Shared(state): Shared<Console>, Path(id): Path<u64>) -> Response {
    let Some(query) = state.queries.forget(id) else {
        return unknown(id);
    };
    let spool = Spool::default();
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .build();
    let writer = match parquet::arrow::ArrowWriter::try_new(
        spool.clone(),
        Arc::clone(&query.schema),
        Some(properties),
    ) {
        Ok(writer) => writer,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let rows = query.rest().await;
    let chunks = futures::stream::unfold(
        (rows, Some(writer), spool),
        |(mut rows, writer, spool)| async move {
            let mut writer = writer?;
            let io = |e: parquet::errors::ParquetError| std::io::Error::other(e);
            loop {
                match rows.next().await {
                    Some(Ok(batch)) => {
                        let wrote = writer.write(&batch).and_then(|()| {
                            if writer.in_progress_size() > ROW_GROUP_BYTES {
                                writer.flush()
                            } else {
                                Ok(())
                            }
                        });
                        if let Err(e) = wrote {
                            return Some((Err(io(e)), (rows, None, spool)));
                        }
                        let bytes = spool.take();
                        if !bytes.is_empty() {
                            return Some((Ok(Bytes::from(bytes)), (rows, Some(writer), spool)));
                        }
                    }
                    Some(Err(e)) => {
                        return Some((Err(std::io::Error::other(e)), (rows, None, spool)));
                    }
                    None => {
                        let closed = writer.close().map(|_| Bytes::from(spool.take()));
                        return Some((closed.map_err(io), (rows, None, spool)));
                    }
                }
            }
        },
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "application/vnd.apache.parquet")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"query-{id}.parquet\""),
        )
        .body(Body::from_stream(chunks))
        .unwrap_or_else(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e))
}
