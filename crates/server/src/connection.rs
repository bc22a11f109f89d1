//! One client connection: its own engine session, its settings, its prepared statements
//! (pgwire keeps them), and how each statement is answered.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ParamValues;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::scalar::ScalarValue;
use datafusion::sql::parser::Statement;
use futures::{Sink, StreamExt};
use minerva_engine::{Engine, Planned};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{MemPortalStore, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::types::format::FormatOptions;
use tokio::sync::Semaphore;

use crate::cancel::Signal;
use crate::catalog::PgCatalog;
use crate::encode;
use crate::route::{SessionStatement, change_tag, session_statement};
use crate::sqlstate;

/// What every connection shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) pg: PgCatalog,
    /// One permit per statement running at once.
    pub(crate) queries: Arc<Semaphore>,
}

/// One connection's state.
pub(crate) struct Connection {
    engine: Engine,
    shared: Arc<Shared>,
    signal: Arc<Signal>,
    cursors: tokio::sync::Mutex<HashMap<String, Cursor>>,
}

/// A declared cursor: its query runs, and its rows wait to be fetched.
struct Cursor {
    schema: SchemaRef,
    stream: SendableRecordBatchStream,
    /// Rows of the last batch not fetched yet.
    left: Option<RecordBatch>,
}

impl Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

/// A running query's cancel mark and its turn among the statements running at once.
type Running = (u64, tokio::sync::OwnedSemaphorePermit);

fn shutting_down() -> PgWireError {
    sqlstate::error(
        sqlstate::code::ADMIN_SHUTDOWN,
        "the server is shutting down",
    )
}

fn no_cursor(name: &str) -> PgWireError {
    sqlstate::error("34000", format!("cursor \"{name}\" does not exist"))
}

/// A statement as parsed once (`Parse`) and run many times (`Bind`, `Execute`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Prepared {
    sql: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// The connection's own business.
    Session(SessionStatement),
    /// A question about the database, planned on the emulated `pg_catalog`.
    Catalog {
        plan: Box<LogicalPlan>,
        schema: SchemaRef,
        parameters: Vec<Option<DataType>>,
    },
    /// A statement that changes something and answers with a tag.
    Change { tag: String },
    /// `FETCH` from a cursor declared earlier.
    Fetch {
        name: String,
        count: Option<usize>,
        schema: SchemaRef,
    },
    /// A query for the engine, planned already when it was described.
    Query {
        schema: SchemaRef,
        parameters: Vec<Option<DataType>>,
        planned: Option<Planned>,
    },
}

impl Default for Kind {
    fn default() -> Self {
        Kind::Session(SessionStatement::Nothing { tag: String::new() })
    }
}

impl Kind {
    fn schema(&self) -> Option<SchemaRef> {
        match self {
            Kind::Catalog { schema, .. }
            | Kind::Query { schema, .. }
            | Kind::Fetch { schema, .. } => Some(Arc::clone(schema)),
            Kind::Session(SessionStatement::Show { name }) => Some(show_schema(name)),
            Kind::Session(_) | Kind::Change { .. } => None,
        }
    }

    fn parameters(&self) -> &[Option<DataType>] {
        match self {
            Kind::Catalog { parameters, .. } | Kind::Query { parameters, .. } => parameters,
            _ => &[],
        }
    }
}

fn show_schema(name: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(name, DataType::Utf8, true)]))
}

impl Connection {
    pub(crate) fn new(engine: Engine, shared: Arc<Shared>, signal: Arc<Signal>) -> Self {
        Self {
            engine,
            shared,
            signal,
            cursors: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Parses `sql` into what it is; with `describe`, plans it to learn its columns and
    /// parameters (the extended protocol's `Describe` needs them before it runs; the simple
    /// protocol does not, and a query is then planned once, when it runs).
    async fn prepare(&self, sql: &str, describe: bool) -> PgWireResult<Prepared> {
        let kind = if let Some(SessionStatement::Fetch { name, count }) = session_statement(sql) {
            let cursors = self.cursors.lock().await;
            let cursor = cursors.get(&name).ok_or_else(|| no_cursor(&name))?;
            Kind::Fetch {
                name,
                count,
                schema: Arc::clone(&cursor.schema),
            }
        } else if let Some(statement) = session_statement(sql) {
            Kind::Session(statement)
        } else if let Some(question) = self.shared.pg.question(sql) {
            let state = self.shared.pg.session().state();
            let plan = state
                .statement_to_plan(Statement::Statement(Box::new(question)))
                .await
                .map_err(sqlstate::datafusion)?;
            let parameters = ordered_parameters(&plan)?;
            Kind::Catalog {
                schema: Arc::new(plan.schema().as_arrow().clone()),
                plan: Box::new(plan),
                parameters,
            }
        } else if let Some(tag) = change_tag(sql) {
            Kind::Change { tag }
        } else if !describe {
            Kind::Query {
                schema: Arc::new(Schema::empty()),
                parameters: Vec::new(),
                planned: None,
            }
        } else {
            let description = self.engine.describe(sql).await.map_err(sqlstate::engine)?;
            match description.schema {
                Some(schema) => Kind::Query {
                    schema,
                    parameters: description.parameters,
                    planned: description.planned,
                },
                None => Kind::Change {
                    tag: first_word(sql),
                },
            }
        };
        Ok(Prepared {
            sql: sql.to_string(),
            kind,
        })
    }

    /// Runs a prepared statement with `params`, its rows in `format`.
    async fn run<C>(
        &self,
        client: &mut C,
        prepared: &Prepared,
        params: Option<ParamValues>,
        format: &Format,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Send,
        C::PortalStore: PortalStore,
    {
        let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
        match &prepared.kind {
            Kind::Session(statement) => {
                let response = self.session(client, statement, format, options).await?;
                match statement {
                    SessionStatement::Declare { name, .. } => {
                        self.cursor_portal(client, name).await
                    }
                    SessionStatement::Deallocate { name: Some(name) } => {
                        client.portal_store().rm_statement(name)
                    }
                    _ => {}
                }
                Ok(response)
            }
            Kind::Change { tag } => self.change(&prepared.sql, params, tag).await,
            Kind::Fetch { name, count, .. } => self.fetch(name, *count, format, options).await,
            Kind::Catalog { .. } | Kind::Query { .. } => {
                let (schema, stream, running) = self.open(prepared, params).await?;
                self.rows(&schema, stream, format, options, running)
            }
        }
    }

    /// Starts a query (or a catalog question): its columns, its rows to come, and (for the
    /// engine's) the turn it holds until its last row.
    async fn open(
        &self,
        prepared: &Prepared,
        params: Option<ParamValues>,
    ) -> PgWireResult<(SchemaRef, SendableRecordBatchStream, Option<Running>)> {
        match &prepared.kind {
            Kind::Catalog { plan, .. } => {
                let plan = match params {
                    Some(params) => plan
                        .as_ref()
                        .clone()
                        .with_param_values(params)
                        .map_err(sqlstate::datafusion)?,
                    None => plan.as_ref().clone(),
                };
                let frame = self
                    .shared
                    .pg
                    .session()
                    .execute_logical_plan(plan)
                    .await
                    .map_err(sqlstate::datafusion)?;
                let schema = Arc::new(frame.schema().as_arrow().clone());
                let stream = frame.execute_stream().await.map_err(sqlstate::datafusion)?;
                Ok((schema, stream, None))
            }
            Kind::Query { planned, .. } => {
                let permit = Arc::clone(&self.shared.queries)
                    .acquire_owned()
                    .await
                    .map_err(|_| shutting_down())?;
                let since = self.signal.now();
                let started = async {
                    match (planned, params) {
                        (Some(planned), params) => {
                            self.engine.execute_planned(planned, params).await
                        }
                        (None, Some(params)) => {
                            self.engine.execute_with_params(&prepared.sql, params).await
                        }
                        (None, None) => self.engine.execute(&prepared.sql).await,
                    }
                };
                let output = tokio::select! {
                    output = started => output.map_err(sqlstate::engine)?,
                    () = self.signal.raised_after(since) => return Err(sqlstate::canceled()),
                };
                Ok((output.schema, output.stream, Some((since, permit))))
            }
            _ => Err(sqlstate::error(
                sqlstate::code::FEATURE_NOT_SUPPORTED,
                "a cursor is declared for a query",
            )),
        }
    }

    /// A declared cursor is also a portal of the protocol, as in Postgres: clients describe
    /// it (psycopg's named cursors) and may execute it.
    async fn cursor_portal<C>(&self, client: &C, name: &str)
    where
        C: ClientPortalStore,
        C::PortalStore: PortalStore,
    {
        let Some(schema) = self
            .cursors
            .lock()
            .await
            .get(name)
            .map(|c| Arc::clone(&c.schema))
        else {
            return;
        };
        let store = client.portal_store().as_any();
        let Some(store) = store.downcast_ref::<MemPortalStore<Prepared>>() else {
            return;
        };
        let prepared = Prepared {
            sql: format!("FETCH ALL FROM \"{name}\""),
            kind: Kind::Fetch {
                name: name.to_string(),
                count: None,
                schema,
            },
        };
        let mut portal = Portal::default();
        portal.name = name.to_string();
        portal.statement = Arc::new(StoredStatement::new(name.to_string(), prepared, vec![]));
        store.put_portal(Arc::new(portal));
    }

    /// `DECLARE name CURSOR FOR query`.
    async fn declare(&self, name: &str, query: &str) -> PgWireResult<Response> {
        let prepared = self.prepare(query, false).await?;
        let (schema, stream, _) = self.open(&prepared, None).await?;
        let cursor = Cursor {
            schema,
            stream,
            left: None,
        };
        self.cursors.lock().await.insert(name.to_string(), cursor);
        Ok(Response::Execution(Tag::new("DECLARE CURSOR")))
    }

    /// `FETCH`: up to `count` more rows of a cursor (all of them for `None`).
    async fn fetch(
        &self,
        name: &str,
        count: Option<usize>,
        format: &Format,
        options: Arc<FormatOptions>,
    ) -> PgWireResult<Response> {
        let mut cursors = self.cursors.lock().await;
        let cursor = cursors.get_mut(name).ok_or_else(|| no_cursor(name))?;
        let mut wanted = count.unwrap_or(usize::MAX);
        let mut batches = Vec::new();
        while wanted > 0 {
            let batch = match cursor.left.take() {
                Some(batch) => batch,
                None => match cursor.stream.next().await {
                    Some(batch) => batch.map_err(sqlstate::datafusion)?,
                    None => break,
                },
            };
            if batch.num_rows() > wanted {
                cursor.left = Some(batch.slice(wanted, batch.num_rows() - wanted));
                batches.push(batch.slice(0, wanted));
                wanted = 0;
            } else {
                wanted -= batch.num_rows();
                batches.push(batch);
            }
        }
        let schema = Arc::clone(&cursor.schema);
        drop(cursors);
        let stream = Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&schema),
            futures::stream::iter(batches.into_iter().map(Ok)),
        ));
        let mut response = self.rows(&schema, stream, format, options, None)?;
        if let Response::Query(query) = &mut response {
            query.set_command_tag("FETCH");
        }
        Ok(response)
    }

    /// A query's rows, as they come; `running` holds its turn until the last row.
    fn rows(
        &self,
        schema: &Schema,
        stream: datafusion::execution::SendableRecordBatchStream,
        format: &Format,
        options: Arc<FormatOptions>,
        running: Option<Running>,
    ) -> PgWireResult<Response> {
        let fields = Arc::new(encode::fields(schema, format, Some(options))?);
        let since = running
            .as_ref()
            .map_or_else(|| self.signal.now(), |(since, _)| *since);
        let stop = self.signal.raised_after(since);
        let rows = encode::rows(schema, Arc::clone(&fields), stream, stop).map(move |row| {
            let _turn = &running;
            row
        });
        Ok(Response::Query(QueryResponse::new(fields, rows)))
    }

    /// Runs a statement that changes something; answers with its tag and row count.
    async fn change(
        &self,
        sql: &str,
        params: Option<ParamValues>,
        tag: &str,
    ) -> PgWireResult<Response> {
        let _turn = Arc::clone(&self.shared.queries)
            .acquire_owned()
            .await
            .map_err(|_| shutting_down())?;
        let since = self.signal.now();
        let work = async {
            let output = match params {
                Some(params) => self.engine.execute_with_params(sql, params).await,
                None => self.engine.execute(sql).await,
            }
            .map_err(sqlstate::engine)?;
            let batches: Vec<RecordBatch> = output
                .stream
                .map(|b| b.map_err(sqlstate::datafusion))
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<PgWireResult<_>>()?;
            Ok::<_, PgWireError>(batches)
        };
        let batches = tokio::select! {
            batches = work => batches?,
            () = self.signal.raised_after(since) => return Err(sqlstate::canceled()),
        };
        let rows = written_rows(&batches);
        let tag = match (tag, rows) {
            ("INSERT", rows) => Tag::new("INSERT").with_oid(0).with_rows(rows.unwrap_or(0)),
            ("SELECT", rows) => Tag::new("SELECT").with_rows(rows.unwrap_or(0)),
            (tag, _) => Tag::new(tag),
        };
        Ok(Response::Execution(tag))
    }

    /// Answers the connection's own statements.
    async fn session<C: ClientInfo>(
        &self,
        client: &mut C,
        statement: &SessionStatement,
        format: &Format,
        options: Arc<FormatOptions>,
    ) -> PgWireResult<Response> {
        Ok(match statement {
            SessionStatement::Begin => Response::TransactionStart(Tag::new("BEGIN")),
            SessionStatement::Commit => Response::TransactionEnd(Tag::new("COMMIT")),
            SessionStatement::Rollback => Response::TransactionEnd(Tag::new("ROLLBACK")),
            SessionStatement::Nothing { tag } => Response::Execution(Tag::new(tag)),
            SessionStatement::Deallocate { .. } => Response::Execution(Tag::new("DEALLOCATE")),
            SessionStatement::Declare { name, query } => self.declare(name, query).await?,
            SessionStatement::Fetch { name, count } => {
                self.fetch(name, *count, format, options).await?
            }
            SessionStatement::Close { name } => {
                let mut cursors = self.cursors.lock().await;
                match name {
                    Some(name) => {
                        cursors.remove(name).ok_or_else(|| no_cursor(name))?;
                    }
                    None => cursors.clear(),
                }
                Response::Execution(Tag::new("CLOSE CURSOR"))
            }
            SessionStatement::Set { name, value } => {
                if name == "statement_timeout" {
                    self.engine.set_timeout(parse_timeout(value)?);
                }
                client.metadata_mut().insert(name.clone(), value.clone());
                Response::Execution(Tag::new("SET"))
            }
            SessionStatement::Show { name } => {
                let value = self.show(client, name)?;
                let schema = show_schema(name);
                let batch = RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![Arc::new(StringArray::from(vec![value]))],
                )
                .map_err(|e| sqlstate::datafusion(e.into()))?;
                let stream = Box::pin(RecordBatchStreamAdapter::new(
                    Arc::clone(&schema),
                    futures::stream::iter([Ok(batch)]),
                ));
                self.rows(&schema, stream, format, options, None)?
            }
        })
    }

    /// The value of a Postgres setting, as `SHOW` answers it.
    fn show<C: ClientInfo>(&self, client: &C, name: &str) -> PgWireResult<String> {
        let set = client
            .metadata()
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone());
        if let Some(value) = set {
            return Ok(value);
        }
        match name {
            "transaction_read_only" | "default_transaction_read_only" => {
                Ok(if self.engine.is_read_only() {
                    "on"
                } else {
                    "off"
                }
                .to_string())
            }
            "search_path" => Ok(self.shared.pg.default_schema().to_string()),
            "statement_timeout" => Ok(self
                .engine
                .timeout()
                .map_or_else(|| "0".to_string(), |t| format!("{}ms", t.as_millis()))),
            name => crate::catalog::setting(name)
                .map(str::to_string)
                .ok_or_else(|| {
                    sqlstate::error(
                        sqlstate::code::UNDEFINED_OBJECT,
                        format!("unrecognized configuration parameter \"{name}\""),
                    )
                }),
        }
    }
}

/// `statement_timeout`'s value: milliseconds, or a number with a unit (`5s`, `1min`); 0 is
/// no timeout.
fn parse_timeout(value: &str) -> PgWireResult<Option<Duration>> {
    let value = value.trim().trim_matches('\'');
    let invalid = || {
        sqlstate::error(
            sqlstate::code::INVALID_PARAMETER,
            format!("invalid value for parameter \"statement_timeout\": \"{value}\""),
        )
    };
    let after = match value.parse::<u64>() {
        Ok(ms) => Duration::from_millis(ms),
        Err(_) => {
            let spaced = value
                .find(|c: char| !c.is_ascii_digit())
                .map(|at| format!("{} {}", &value[..at], &value[at..]))
                .ok_or_else(invalid)?;
            humantime::parse_duration(&spaced.replace(' ', "")).map_err(|_| invalid())?
        }
    };
    Ok((!after.is_zero()).then_some(after))
}

/// The rows a write reports (its one integer value), if it reports one.
fn written_rows(batches: &[RecordBatch]) -> Option<usize> {
    let batch = batches.first()?;
    if batch.num_columns() != 1 || batch.num_rows() != 1 {
        return None;
    }
    let value = ScalarValue::try_from_array(batch.column(0), 0).ok()?;
    match value.cast_to(&DataType::UInt64).ok()? {
        ScalarValue::UInt64(Some(n)) => usize::try_from(n).ok(),
        _ => None,
    }
}

fn first_word(sql: &str) -> String {
    sql.split_whitespace()
        .next()
        .unwrap_or("")
        .trim_end_matches(';')
        .to_uppercase()
}

/// A plan's parameter types, `$1` first.
fn ordered_parameters(plan: &LogicalPlan) -> PgWireResult<Vec<Option<DataType>>> {
    let mut types: Vec<_> = plan
        .get_parameter_types()
        .map_err(sqlstate::datafusion)?
        .into_iter()
        .collect();
    types.sort_by_key(|(name, _)| name.trim_start_matches('$').parse::<usize>().unwrap_or(0));
    Ok(types.into_iter().map(|(_, t)| t).collect())
}

/// The client's parameter values, each as the type the query expects.
fn parameters(portal: &Portal<Prepared>) -> PgWireResult<Option<ParamValues>> {
    let expected = portal.statement.statement.kind.parameters();
    if portal.parameter_len() == 0 {
        return Ok(None);
    }
    let hints: Vec<Option<&DataType>> = (0..portal.parameter_len())
        .map(|i| expected.get(i).and_then(Option::as_ref))
        .collect();
    let values = arrow_pg::datatypes::df::deserialize_parameters(portal, &hints)?;
    let ParamValues::List(values) = values else {
        return Ok(Some(values));
    };
    let values = values
        .into_iter()
        .enumerate()
        .map(
            |(i, value)| match expected.get(i).and_then(Option::as_ref) {
                Some(target)
                    if value.value().data_type() != *target && !value.value().is_null() =>
                {
                    value
                        .value()
                        .cast_to(target)
                        .map(|v| v.into())
                        .map_err(|e| {
                            sqlstate::error(
                                sqlstate::code::INVALID_PARAMETER,
                                format!("parameter ${}: {e}", i + 1),
                            )
                        })
                }
                Some(target) if value.value().is_null() => ScalarValue::try_from(target)
                    .map(|v| v.into())
                    .map_err(sqlstate::datafusion),
                _ => Ok(value),
            },
        )
        .collect::<PgWireResult<Vec<_>>>()?;
    Ok(Some(ParamValues::List(values)))
}

/// pgwire's view of a connection: the parser for `Parse`, the handlers for queries.
#[derive(Debug, Clone)]
pub(crate) struct Handler(pub(crate) Arc<Connection>);

#[async_trait]
impl QueryParser for Handler {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        self.0.prepare(sql, true).await.map(Some)
    }

    fn get_parameter_types(&self, prepared: &Prepared) -> PgWireResult<Vec<Type>> {
        prepared
            .kind
            .parameters()
            .iter()
            .map(|t| match t {
                Some(t) => arrow_pg::datatypes::into_pg_type(t),
                None => Ok(Type::TEXT),
            })
            .collect()
    }

    fn get_result_schema(
        &self,
        prepared: &Prepared,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        match prepared.kind.schema() {
            Some(schema) => encode::fields(&schema, format.unwrap_or(&Format::UnifiedText), None),
            None => Ok(Vec::new()),
        }
    }
}

#[async_trait]
impl SimpleQueryHandler for Handler {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut responses = Vec::new();
        for sql in minerva_sql::split_statements(query).all() {
            let answer = match self.0.prepare(&sql, false).await {
                Ok(prepared) => {
                    self.0
                        .run(client, &prepared, None, &Format::UnifiedText)
                        .await
                }
                Err(error) => Err(error),
            };
            match answer {
                Ok(response) => responses.push(response),
                // Postgres stops at the first failing statement of a simple query.
                Err(PgWireError::UserError(info)) => {
                    responses.push(Response::Error(info));
                    break;
                }
                Err(other) => return Err(other),
            }
        }
        if responses.is_empty() {
            responses.push(Response::EmptyQuery);
        }
        Ok(responses)
    }
}

#[async_trait]
impl ExtendedQueryHandler for Handler {
    type Statement = Prepared;
    type QueryParser = Handler;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        Arc::new(self.clone())
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let params = parameters(portal)?;
        let prepared = &portal.statement.statement;
        self.0
            .run(client, prepared, params, &portal.result_column_format)
            .await
    }
}
