//! The session: the [`Engine`], its builder, and how a statement runs (catalog statement, DDL,
//! or a DataFusion query on a per-query copy of the session state); the object stores as
//! DataFusion asks for them (`stores`), and the physical rule that makes joins yield
//! (`cooperative`).

mod cooperative;
mod planner;
pub(crate) mod recursion;
mod stores;
mod watchdog;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ParamValues;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::SessionState;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::{Optimizer, OptimizerRule};
use datafusion::physical_plan::stream::{RecordBatchReceiverStream, RecordBatchStreamAdapter};
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use futures::{StreamExt, TryStreamExt};
use minerva_catalog::Catalog;
use minerva_sql::{parse_command, parse_ddl, parse_maintenance, parse_view, strip_with_data};
use object_store::ObjectStore;
use url::Url;

use crate::dense::{
    AggregateThroughUnion, DenseAggregation, JoinAsLookup, MinervaQueryPlanner,
    aggregate_below_join,
};
use crate::error::{EngineError, Result};
use crate::report::QueryStats;
use crate::report::words::plural;
use crate::scan::snapshot::Snapshot;
use crate::scan::{MinervaCatalog, Tables};
use crate::statements::{Values, batch, run_command, run_ddl, run_view};
use crate::write::{Write, Writer};
use cooperative::YieldingJoins;
use minerva_store::{DiskCache, ListingCache, ScanLimit, Stores};

pub use crate::options::MinervaOptions;
use crate::scan::footers::DiskFooters;
use recursion::BoundedRecursion;
pub use stores::CountingStores;
use stores::SessionStores;

use crate::scan::CATALOG_NAME;

/// A statement's answer: its columns, its rows as a stream of batches, and what it read.
pub struct QueryOutput {
    /// The columns.
    pub schema: SchemaRef,
    /// The rows; dropping the stream cancels the query.
    pub stream: SendableRecordBatchStream,
    /// What the statement read and produced; final once the stream has ended.
    pub stats: Arc<QueryStats>,
}

impl QueryOutput {
    /// An answer that read nothing from any store: computed rows, a command's result.
    pub fn new(schema: SchemaRef, stream: SendableRecordBatchStream) -> Self {
        let stats = Arc::new(QueryStats::new(None));
        let counted = Arc::clone(&stats);
        let stream = stream.inspect(move |batch| {
            if let Ok(batch) = batch {
                counted.add_rows(batch.num_rows());
            }
        });
        let stream = Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&schema), stream));
        Self {
            schema,
            stream,
            stats,
        }
    }
}

impl std::fmt::Debug for QueryOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryOutput")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Engine`]: the catalog, plus any object stores to use instead of the defaults.
#[derive(Debug)]
pub struct EngineBuilder {
    catalog: Catalog,
    stores: Vec<(Url, Arc<dyn ObjectStore>)>,
    target_partitions: Option<usize>,
    aws_profile: Option<String>,
    max_scan: Option<u64>,
    timeout: Option<Duration>,
    dense_aggregation: bool,
    dense_partials: bool,
    memory_limit: Option<usize>,
    disk_cache: Option<PathBuf>,
    extension: Option<Arc<dyn Extension>>,
}

/// What another crate adds to the engine's sessions: a distributed planner and what each query
/// must do after it ran (gather what other machines read). The engine knows nothing of how.
#[async_trait::async_trait]
pub trait Extension: Send + Sync + std::fmt::Debug {
    /// Changes the session as it is built, after Minerva's own planner and rules (so that a
    /// planner added here wraps Minerva's).
    fn session(&self, builder: SessionStateBuilder) -> SessionStateBuilder;

    /// Called with the physical plan of a query once its rows are all out (or it stopped), before
    /// its stats are final: what it adds to `stats` is in the query's status line.
    async fn finished(&self, plan: Arc<dyn ExecutionPlan>, stats: &QueryStats);

    /// Says more of an error that stopped a query, if the extension knows more (which of its
    /// machines went away); by default the error as it is.
    async fn failed(&self, error: DataFusionError) -> DataFusionError {
        error
    }

    /// What `EXPLAIN` adds about how `plan` (a query's physical plan, as this session plans it
    /// to run) would run, as `(plan_type, text)` rows; by default nothing.
    fn describe(&self, _plan: &Arc<dyn ExecutionPlan>) -> Vec<(String, String)> {
        Vec::new()
    }
}

impl EngineBuilder {
    /// Keeps remote stores' Parquet footers and listings in `dir` as well, for the next
    /// process (bounded in size; see `minerva_store::DiskCache`). Off unless asked.
    pub fn disk_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.disk_cache = Some(dir.into());
        self
    }

    /// Bounds the memory of query operators: past `bytes`, DataFusion's sorts, joins and hash
    /// aggregations spill to disk (the OS temporary directory), and a query that still cannot
    /// fit fails with a message rather than taking the machine.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Whether counts the dense path can answer go through it (the default) or through
    /// DataFusion's hash aggregation: the latter is the reference the tests and benches
    /// compare with.
    pub fn dense_aggregation(mut self, enabled: bool) -> Self {
        self.dense_aggregation = enabled;
        self
    }

    /// Whether dense aggregations are planned as partial states over shares of their files and
    /// one merge (off by default): what a cluster's coordinator needs, so that its workers read
    /// the shares (see `MinervaOptions::dense_partials`).
    pub fn dense_partials(mut self, enabled: bool) -> Self {
        self.dense_partials = enabled;
        self
    }

    /// Serves every table whose location is under `url` (`file://`, `s3://bucket`) from `store`.
    pub fn object_store(mut self, url: Url, store: Arc<dyn ObjectStore>) -> Self {
        self.stores.push((url, store));
        self
    }

    /// How many partitions scans and aggregations are split into (default: one per core).
    pub fn target_partitions(mut self, n: usize) -> Self {
        self.target_partitions = Some(n.max(1));
        self
    }

    /// Reads S3 with this profile of `~/.aws/config` and `~/.aws/credentials`, before the
    /// environment's keys and `storage.toml`'s profile.
    pub fn aws_profile(mut self, profile: impl Into<String>) -> Self {
        self.aws_profile = Some(profile.into());
        self
    }

    /// Extends every session of the engine (see [`Extension`]).
    pub fn extension(mut self, extension: Arc<dyn Extension>) -> Self {
        self.extension = Some(extension);
        self
    }

    /// Stops any query that runs longer than `after` (see [`Engine::set_timeout`]).
    pub fn timeout(mut self, after: Duration) -> Self {
        self.timeout = Some(after);
        self
    }

    /// Stops any query that would read more than `bytes` (see [`Engine::set_max_scan`]).
    pub fn max_scan(mut self, bytes: u64) -> Self {
        self.max_scan = Some(bytes);
        self
    }

    /// The engine.
    pub fn build(self) -> Engine {
        let disk = self
            .disk_cache
            .map(|dir| Arc::new(DiskCache::new(dir, DiskCache::DEFAULT_MAX_BYTES)));
        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_create_default_catalog_and_schema(false)
            .with_default_catalog_and_schema(CATALOG_NAME, minerva_catalog::DEFAULT_DATABASE)
            .with_option_extension(MinervaOptions {
                dense_partials: self.dense_partials,
                ..MinervaOptions::default()
            });
        if let Some(n) = self.target_partitions {
            config = config.with_target_partitions(n);
        }
        if let Some(disk) = &disk {
            config = config.with_extension(Arc::new(DiskFooters(Arc::clone(disk))));
        }
        // Trino's (Athena's) rule: NULLs sort last in either direction unless NULLS FIRST is
        // written (DataFusion's default is Postgres's, first in descending order).
        config.options_mut().sql_parser.default_null_ordering = "nulls_last".to_string();
        // Where each name is in the statement: errors say where (the shell draws a caret).
        config.options_mut().sql_parser.collect_spans = true;
        let stores = Stores::new(self.catalog.storage().cloned(), self.aws_profile);
        for (url, store) in self.stores {
            stores.register(&url, store);
        }
        // The builder's timeout (the command line's), else the catalog's storage.toml.
        let timeout = self
            .timeout
            .or_else(|| self.catalog.storage().ok().and_then(|s| s.query_timeout));
        let listing_ttl = self
            .catalog
            .storage()
            .ok()
            .and_then(|s| s.listing_ttl)
            .unwrap_or(ListingCache::DEFAULT_TTL);
        let mut runtime =
            RuntimeEnvBuilder::new().with_object_store_registry(Arc::new(SessionStores(stores)));
        if let Some(bytes) = self.memory_limit {
            // Fair shares: every spilling operator of a query gets its part before any spills.
            runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(bytes)));
        }
        let runtime = runtime
            .build_arc()
            .expect("the default runtime settings are valid");
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_optimizer_rules(optimizer_rules(self.dense_aggregation))
            .with_query_planner(Arc::new(MinervaQueryPlanner))
            .with_physical_optimizer_rule(Arc::new(YieldingJoins))
            .with_physical_optimizer_rule(Arc::new(BoundedRecursion))
            .with_physical_optimizer_rule(Arc::new(crate::dense::GatherPartials));
        if let Some(extension) = &self.extension {
            state = extension.session(state);
        }
        let state = state.build();
        let ctx = SessionContext::new_with_state(crate::trino::install(state));
        let tables = Arc::new(Tables::new(Arc::new(self.catalog), ctx.runtime_env()));
        let session = ctx.state_weak_ref();
        tables.set_planner(Arc::new(planner::SessionPlanner::new(
            move || session.upgrade().map(|state| state.read().clone()),
            &tables,
        )));
        ctx.register_catalog(
            CATALOG_NAME,
            Arc::new(MinervaCatalog::new(Arc::clone(&tables))),
        );
        Engine {
            ctx,
            tables,
            listings: Arc::new(match &disk {
                Some(disk) => ListingCache::new(listing_ttl).with_disk(Arc::clone(disk)),
                None => ListingCache::new(listing_ttl),
            }),
            disk,
            max_scan: Arc::new(Mutex::new(self.max_scan)),
            timeout: Arc::new(Mutex::new(timeout)),
            read_only: false,
            extension: self.extension,
        }
    }
}

/// DataFusion's logical optimizer rules, after the dense aggregation rule when it is enabled:
/// it must see aggregates before DataFusion splits `count(DISTINCT)` into two aggregations.
fn optimizer_rules(dense_aggregation: bool) -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    let dense: Option<Arc<dyn OptimizerRule + Send + Sync>> =
        dense_aggregation.then(|| Arc::new(DenseAggregation) as _);
    // DataFusion 55 carries an aggregate's keys through an Unnest as if they still determined
    // each row, and `eliminate_duplicated_expr` then drops the ORDER BY keys they "determine":
    // `… CROSS JOIN UNNEST(histogram(x)) … ORDER BY k, item` would sort by `k` alone (and push
    // the LIMIT below the Unnest). Without the rule, only duplicate sort keys are kept.
    let rules = Optimizer::new()
        .rules
        .into_iter()
        .filter(|rule| rule.name() != "eliminate_duplicated_expr");
    // Splitting aggregates over a UNION ALL (a live table's two sides) comes last, after
    // filters reached each branch; the dense rule sees the branches' aggregates next pass.
    let through_union: Option<Arc<dyn OptimizerRule + Send + Sync>> =
        dense_aggregation.then(|| Arc::new(AggregateThroughUnion) as _);
    // Aggregation below joins also comes after DataFusion's rules: filters have reached the
    // large side's scan, and `count(DISTINCT)` is split into its halves.
    let below_join: Option<Arc<dyn OptimizerRule + Send + Sync>> =
        dense_aggregation.then(|| Arc::new(aggregate_below_join()) as _);
    // A join with a few literal rows is read as a lookup first, where its key is unique: the
    // aggregation then reads one table (the dense rule takes it next pass).
    let lookup: Option<Arc<dyn OptimizerRule + Send + Sync>> =
        dense_aggregation.then(|| Arc::new(JoinAsLookup) as _);
    dense
        .into_iter()
        .chain(rules)
        .chain(lookup)
        .chain(below_join)
        .chain(through_union)
        .collect()
}

/// Runs SQL over a catalog's tables.
#[derive(Clone)]
pub struct Engine {
    ctx: SessionContext,
    pub(crate) tables: Arc<Tables>,
    listings: Arc<ListingCache>,
    disk: Option<Arc<DiskCache>>,
    max_scan: Arc<Mutex<Option<u64>>>,
    timeout: Arc<Mutex<Option<Duration>>>,
    read_only: bool,
    extension: Option<Arc<dyn Extension>>,
}

/// What a statement will answer, known before it runs: for clients that ask first (the
/// extended query protocol's `Describe`).
#[derive(Debug, Clone)]
pub struct Description {
    /// The columns of its rows; `None` for a statement that answers with a count or a tag
    /// rather than rows (a write, a definition).
    pub schema: Option<SchemaRef>,
    /// The types of its parameters `$1`, `$2`, … in order, where the query determines them.
    pub parameters: Vec<Option<datafusion::arrow::datatypes::DataType>>,
    /// The query as planned, to run with [`Engine::execute_planned`] without planning it again
    /// (`None` for a statement that [`Engine::execute`] must take from its text).
    pub planned: Option<Planned>,
}

/// A query planned by [`Engine::describe`]. Its partitions and files are still chosen when it
/// runs, so new data is seen; a table redefined since is not (as a prepared statement's).
#[derive(Debug, Clone)]
pub struct Planned(LogicalPlan);

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("catalog", &self.catalog().root())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over the catalog in `catalog_dir`, with the default object stores.
    pub fn open(catalog_dir: impl Into<PathBuf>) -> Result<Self> {
        Ok(Self::builder(Catalog::load(catalog_dir)?).build())
    }

    /// Starts building an engine over `catalog`.
    pub fn builder(catalog: Catalog) -> EngineBuilder {
        EngineBuilder {
            catalog,
            stores: Vec::new(),
            target_partitions: None,
            aws_profile: None,
            max_scan: None,
            timeout: None,
            dense_aggregation: true,
            dense_partials: false,
            memory_limit: None,
            disk_cache: None,
            extension: None,
        }
    }

    /// A session of its own over the same catalog, caches, stores and memory pool: its
    /// settings (`SET`), scan limit and timeout start as this engine's and change
    /// independently from then on. A server gives each connection one.
    pub fn new_session(&self) -> Engine {
        Engine {
            ctx: SessionContext::new_with_state(self.ctx.state()),
            tables: Arc::clone(&self.tables),
            listings: Arc::clone(&self.listings),
            disk: self.disk.clone(),
            max_scan: Arc::new(Mutex::new(self.max_scan())),
            timeout: Arc::new(Mutex::new(self.timeout())),
            read_only: self.read_only,
            extension: self.extension.clone(),
        }
    }

    /// A session for running plan fragments that another process planned (a cluster's worker):
    /// this engine's functions and object stores, with `config` (the fragment's own settings),
    /// built after `finish` adds to it. Nothing is planned in it, so no catalog or rules.
    ///
    /// Functions are found by name when a fragment is decoded, and a planned fragment holds
    /// DataFusion's `approx_distinct` where the statement said Trino's: the names Trino's
    /// rewrite-only aggregates take are DataFusion's here.
    pub fn fragment_session(
        &self,
        config: SessionConfig,
        finish: impl FnOnce(SessionStateBuilder) -> SessionStateBuilder,
    ) -> SessionState {
        use datafusion::execution::FunctionRegistry;
        let builder = SessionStateBuilder::new_from_existing(self.ctx.state()).with_config(config);
        let mut state = finish(builder).build();
        for udaf in datafusion::functions_aggregate::all_default_aggregate_functions() {
            let shadowed = state
                .aggregate_functions()
                .get(udaf.name())
                .is_some_and(|ours| crate::trino::rewritten_before_running(ours));
            if shadowed {
                // Registering replaces by name; the previous one is not needed.
                let _ = state.register_udaf(udaf);
            }
        }
        state
    }

    /// The same engine, refusing (`read_only`) or allowing every statement that would change
    /// the catalog or the lake: DDL, writes, compaction, views.
    pub fn read_only(mut self, read_only: bool) -> Engine {
        self.read_only = read_only;
        self
    }

    /// Whether writes are refused (see [`Engine::read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// What the disk cache noticed since the last call (a damaged entry it ignored, a
    /// directory it cannot write), one line each: for the shell to show as warnings.
    pub fn take_warnings(&self) -> Vec<String> {
        self.disk
            .iter()
            .flat_map(|disk| disk.take_warnings())
            .map(|warning| warning.to_string())
            .collect()
    }

    /// The catalog the engine reads, as last loaded (DDL statements reload it).
    pub fn catalog(&self) -> Arc<Catalog> {
        self.tables.catalog()
    }

    /// The DataFusion session, for settings and for embedding.
    pub fn session(&self) -> &SessionContext {
        &self.ctx
    }

    /// The scan limit of every query from now on (`None`: no limit). A table's own `max_scan`
    /// property still applies when it is lower.
    pub fn set_max_scan(&self, bytes: Option<u64>) {
        *self.max_scan.lock().expect("settings lock poisoned") = bytes;
    }

    /// The time any query may run from now on, planning included (`None`: no limit). A query
    /// past it stops with [`EngineError::Timeout`], as Athena stops queries at 30 minutes.
    pub fn set_timeout(&self, after: Option<Duration>) {
        *self.timeout.lock().expect("settings lock poisoned") = after;
    }

    /// The timeout set by [`Engine::set_timeout`] or [`EngineBuilder::timeout`].
    pub fn timeout(&self) -> Option<Duration> {
        *self.timeout.lock().expect("settings lock poisoned")
    }

    /// The scan limit set by [`Engine::set_max_scan`] or [`EngineBuilder::max_scan`].
    pub fn max_scan(&self) -> Option<u64> {
        *self.max_scan.lock().expect("settings lock poisoned")
    }

    /// Forgets cached listings and Parquet footers: the next queries ask the stores again.
    pub fn clear_caches(&self) {
        self.listings.clear();
        let footers = self
            .ctx
            .runtime_env()
            .cache_manager
            .get_file_metadata_cache();
        footers.clear();
    }

    /// Plans one statement and starts running it. Rows arrive as the stream is polled.
    pub async fn execute(&self, sql: &str) -> Result<QueryOutput> {
        self.execute_with(sql, None).await
    }

    /// Each partition of `database.table` with how many data files it holds and their bytes
    /// (the shell's `\dp`); lists the table's location as a full scan would.
    pub async fn partition_files(&self, database: &str, table: &str) -> Result<RecordBatch> {
        use datafusion::arrow::array::{StringArray, UInt64Array};
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        let opened = self.tables.open(database, table).await?;
        let state = self.ctx.state();
        let rows = opened.partition_files(&state).await?;
        let schema = Arc::new(Schema::new(vec![
            Field::new("partition", DataType::Utf8, false),
            Field::new("files", DataType::UInt64, false),
            Field::new("bytes", DataType::UInt64, false),
            Field::new("size", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.0))),
                Arc::new(UInt64Array::from_iter_values(
                    rows.iter().map(|r| r.1 as u64),
                )),
                Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.2))),
                Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|r| minerva_catalog::display_byte_size(r.2)),
                )),
            ],
        )
        .map_err(|e| EngineError::Query(e.into()))?;
        Ok(batch)
    }

    /// Plans one statement with values for its parameters (`$1`, `$2`, …) and starts it.
    pub async fn execute_with_params(&self, sql: &str, params: ParamValues) -> Result<QueryOutput> {
        self.execute_with(sql, Some(params)).await
    }

    async fn execute_with(&self, sql: &str, params: Option<ParamValues>) -> Result<QueryOutput> {
        let Some(after) = self.timeout() else {
            return self.start(sql, None, params).await;
        };
        let deadline = std::time::Instant::now() + after;
        let starting = std::pin::pin!(self.start(sql, Some(Deadline { deadline, after }), params));
        match futures::future::select(starting, watchdog::alarm(deadline)).await {
            futures::future::Either::Left((started, _)) => started,
            futures::future::Either::Right(_) => Err(EngineError::Timeout { after }),
        }
    }

    /// Plans `sql` and starts it; rows after `deadline` are an error.
    async fn start(
        &self,
        sql: &str,
        deadline: Option<Deadline>,
        params: Option<ParamValues>,
    ) -> Result<QueryOutput> {
        if let Some(command) = parse_command(sql) {
            let state = self.ctx.state();
            return Ok(answer(run_command(&self.tables, &state, command).await?));
        }
        if let Some(statement) = parse_view(sql) {
            self.refuse_if_read_only("a view definition")?;
            return Ok(answer(run_view(&self.tables, statement?).await?));
        }
        if let Some(ddl) = parse_ddl(sql, self.catalog().root()) {
            self.refuse_if_read_only("DDL")?;
            let ddl = ddl?;
            return Ok(answer(run_ddl(&self.tables, ddl).await?));
        }
        if let Some(statement) = parse_maintenance(sql) {
            self.refuse_if_read_only("compaction")?;
            let stats = Arc::new(QueryStats::new(None));
            let batch = self.writer().maintain(statement?, &stats).await?;
            return Ok(QueryOutput::with_stats(batch, stats));
        }
        let limit = self.max_scan().map(|bytes| ScanLimit {
            bytes,
            source: "max_scan".to_string(),
        });
        let stats = Arc::new(QueryStats::new(limit));
        let state = self.query_state(&stats, Snapshot::default());
        // Athena's `CREATE TABLE … AS SELECT … WITH NO DATA`, which sqlparser does not read.
        let (sql, with_data) = match strip_with_data(sql) {
            Some((text, no_data)) => (std::borrow::Cow::Owned(text), Some(!no_data)),
            None => (std::borrow::Cow::Borrowed(sql), None),
        };
        let statement =
            state.sql_to_statement(&sql, &state.config().options().sql_parser.dialect)?;
        let mut statement = match Write::classify(statement) {
            Ok(write) => {
                self.refuse_if_read_only(write.kind())?;
                let batch = self.writer().write(write, with_data, &stats).await?;
                return Ok(QueryOutput::with_stats(batch, stats));
            }
            Err(statement) => *statement,
        };
        // EXPLAIN of a write explains the query it writes; EXPLAIN ANALYZE runs the write and
        // says what it read and wrote.
        if let Statement::Explain(mut explain) = statement {
            let analyze = explain.options.analyze;
            explain.statement = match Write::classify(*explain.statement) {
                Ok(write) if analyze => {
                    self.refuse_if_read_only(write.kind())?;
                    let batch = self.writer().write(write, with_data, &stats).await?;
                    return Ok(explained_write(&batch, stats));
                }
                Ok(write) => {
                    let query = write.query().cloned().ok_or(EngineError::Unsupported {
                        statement: "EXPLAIN of this write",
                    })?;
                    Box::new(Statement::Statement(Box::new(SqlStatement::Query(
                        Box::new(query),
                    ))))
                }
                Err(inner) => inner,
            };
            statement = Statement::Explain(explain);
        }
        crate::trino::rewrite(&mut statement, &|name| {
            crate::trino::is_function(&state, name)
        })?;
        refuse_writes(&statement)?;
        self.tables.check_exist(&state, &statement)?;
        if matches!(statement, Statement::Explain(_)) {
            return self.explain(state, statement, stats, params).await;
        }
        let plan = with_params(state.statement_to_plan(statement).await?, params)?;
        let frame = match plan {
            // Settings and the like change the session, not this query's copy of it.
            LogicalPlan::Ddl(_) | LogicalPlan::Statement(_) => {
                self.ctx.execute_logical_plan(plan).await?
            }
            plan => DataFrame::new(state, plan),
        };
        self.stream(frame, stats, deadline).await
    }

    /// What `sql` will answer, without running it: its columns (planned, not executed) and
    /// the types of its parameters. A catalog command (`SHOW TABLES`, `DESCRIBE t`) only reads
    /// the catalog, so it is run to learn its columns.
    pub async fn describe(&self, sql: &str) -> Result<Description> {
        let rows = |schema| Description {
            schema: Some(schema),
            parameters: Vec::new(),
            planned: None,
        };
        let change = Description {
            schema: None,
            parameters: Vec::new(),
            planned: None,
        };
        if let Some(command) = parse_command(sql) {
            let state = self.ctx.state();
            return Ok(rows(
                run_command(&self.tables, &state, command).await?.schema(),
            ));
        }
        if parse_view(sql).is_some()
            || parse_ddl(sql, self.catalog().root()).is_some()
            || parse_maintenance(sql).is_some()
            || strip_with_data(sql).is_some()
        {
            return Ok(change);
        }
        let stats = Arc::new(QueryStats::new(None));
        let state = self.query_state(&stats, Snapshot::default());
        let mut statement =
            state.sql_to_statement(sql, &state.config().options().sql_parser.dialect)?;
        statement = match Write::classify(statement) {
            Ok(_) => return Ok(change),
            Err(statement) => *statement,
        };
        crate::trino::rewrite(&mut statement, &|name| {
            crate::trino::is_function(&state, name)
        })?;
        refuse_writes(&statement)?;
        self.tables.check_exist(&state, &statement)?;
        // EXPLAIN runs from its text: its answer gains rows after DataFusion's.
        let explain = matches!(statement, Statement::Explain(_));
        let plan = state.statement_to_plan(statement).await?;
        if matches!(plan, LogicalPlan::Ddl(_) | LogicalPlan::Statement(_)) {
            return Ok(change);
        }
        let mut types: Vec<_> = plan.get_parameter_types()?.into_iter().collect();
        // `$1`, `$2`, … `$10`: by number, not by text.
        types.sort_by_key(|(name, _)| name.trim_start_matches('$').parse::<usize>().unwrap_or(0));
        Ok(Description {
            schema: Some(Arc::new(plan.schema().as_arrow().clone())),
            parameters: types.into_iter().map(|(_, t)| t).collect(),
            planned: (!explain).then_some(Planned(plan)),
        })
    }

    /// Runs a query planned by [`Engine::describe`] with values for its parameters: what
    /// [`Engine::execute_with_params`] does with its text, without planning it again.
    pub async fn execute_planned(
        &self,
        planned: &Planned,
        params: Option<ParamValues>,
    ) -> Result<QueryOutput> {
        let run = |deadline| async move {
            let limit = self.max_scan().map(|bytes| ScanLimit {
                bytes,
                source: "max_scan".to_string(),
            });
            let stats = Arc::new(QueryStats::new(limit));
            let state = self.query_state(&stats, Snapshot::default());
            let plan = with_params(planned.0.clone(), params)?;
            self.stream(DataFrame::new(state, plan), stats, deadline)
                .await
        };
        let Some(after) = self.timeout() else {
            return run(None).await;
        };
        let deadline = std::time::Instant::now() + after;
        let starting = std::pin::pin!(run(Some(Deadline { deadline, after })));
        match futures::future::select(starting, watchdog::alarm(deadline)).await {
            futures::future::Either::Left((started, _)) => started,
            futures::future::Either::Right(_) => Err(EngineError::Timeout { after }),
        }
    }

    /// Starts `frame`: its rows as they come, counted into `stats`, stopped at `deadline`.
    async fn stream(
        &self,
        frame: DataFrame,
        stats: Arc<QueryStats>,
        deadline: Option<Deadline>,
    ) -> Result<QueryOutput> {
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let task = frame.task_ctx();
        let plan = frame
            .create_physical_plan()
            .await
            .map_err(|e| stopped(e, &stats))?;
        let stream =
            execute_stream(Arc::clone(&plan), Arc::new(task)).map_err(|e| stopped(e, &stats))?;
        let after = self.extension.clone().map(|extension| (extension, plan));
        Ok(QueryOutput {
            schema: Arc::clone(&schema),
            stream: on_the_runtime(schema, stream, Arc::clone(&stats), deadline, after),
            stats,
        })
    }

    fn refuse_if_read_only(&self, statement: &str) -> Result<()> {
        if self.read_only {
            return Err(EngineError::ReadOnly {
                statement: statement.to_string(),
            });
        }
        Ok(())
    }

    /// What writes need of the engine.
    fn writer(&self) -> Writer<'_> {
        Writer {
            tables: &self.tables,
            query_state: Box::new(|stats, snapshot| self.query_state(stats, snapshot)),
        }
    }

    /// Writes the result of `sql` to one local file, its format from its extension
    /// (`.parquet`, `.csv`, `.tsv`, `.json`): the shell's `\copy (…) TO 'file'`. Returns the
    /// rows written.
    pub async fn copy_to_file(&self, sql: &str, path: &std::path::Path) -> Result<u64> {
        let stats = Arc::new(QueryStats::new(None));
        self.writer().copy_to_file(sql, path, &stats).await
    }

    /// The session as one query sees it: its stats reachable from every scan, and every
    /// object store counting into them.
    pub(crate) fn query_state(&self, stats: &Arc<QueryStats>, snapshot: Snapshot) -> SessionState {
        let session = self.ctx.state();
        let shared = session.runtime_env();
        let runtime = RuntimeEnv {
            object_store_registry: Arc::new(CountingStores::of_query(
                Arc::clone(&shared.object_store_registry),
                stats,
                Arc::clone(&self.listings),
            )),
            ..shared.as_ref().clone()
        };
        let config = session
            .config()
            .clone()
            .with_extension(Arc::clone(stats))
            .with_extension(Arc::new(snapshot));
        SessionStateBuilder::new_from_existing(session)
            .with_config(config)
            .with_runtime_env(Arc::new(runtime))
            .build()
    }

    /// DataFusion's `EXPLAIN`, followed by a `partitions` row per catalog table scan (how its
    /// partitions were chosen, how many of how many, the first prefixes, and what it would
    /// read) and, for `EXPLAIN ANALYZE`, a `scan` row with what the query did read and a `store`
    /// row with how long it waited on its stores and how many requests it kept in flight.
    async fn explain(
        &self,
        state: SessionState,
        statement: Statement,
        stats: Arc<QueryStats>,
        params: Option<ParamValues>,
    ) -> Result<QueryOutput> {
        let analyze = matches!(&statement, Statement::Explain(e) if e.options.analyze);
        let plan = with_params(state.statement_to_plan(statement).await?, params)?;
        // DataFusion's EXPLAIN plans its input without the session's query planner: what an
        // extension's planner would make of it is asked separately (on stats of its own, so that
        // the scans are not counted twice).
        let mut described = Vec::new();
        if let (false, Some(extension), LogicalPlan::Explain(explain)) =
            (analyze, &self.extension, &plan)
        {
            let probe = self.query_state(&Arc::new(QueryStats::new(None)), Snapshot::default());
            let physical = probe
                .create_physical_plan(&explain.plan)
                .await
                .map_err(|e| stopped(e, &stats))?;
            described = extension.describe(&physical);
        }
        let frame = DataFrame::new(state, plan);
        let task = Arc::new(frame.task_ctx());
        let plan = frame
            .create_physical_plan()
            .await
            .map_err(|e| stopped(e, &stats))?;
        let mut batches = datafusion::physical_plan::collect(Arc::clone(&plan), task)
            .await
            .map_err(|e| stopped(e, &stats))?;
        if let Some(extension) = &self.extension {
            extension.finished(plan, &stats).await;
        }
        stats.finish();
        let Some(schema) = batches.first().map(RecordBatch::schema) else {
            return Ok(answer(batch(vec![])));
        };
        let scans = stats.scans();
        if !scans.is_empty() && schema.fields().len() == 2 {
            let mut kinds = vec![Some("partitions".to_string()); scans.len()];
            let mut texts: Vec<_> = scans.iter().map(|s| Some(s.describe())).collect();
            for (kind, text) in described {
                kinds.push(Some(kind));
                texts.push(Some(text));
            }
            if analyze {
                let summary = stats.summary();
                kinds.push(Some("scan".to_string()));
                texts.push(Some(summary.describe_scan()));
                kinds.push(Some("store".to_string()));
                texts.push(Some(summary.describe_store()));
                for read in stats.remote_reads() {
                    kinds.push(Some("worker".to_string()));
                    texts.push(Some(read.describe()));
                }
            }
            let extra = batch(vec![
                ("plan_type", Values::Text(kinds)),
                ("plan", Values::Text(texts)),
            ]);
            let columns = extra
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| EngineError::Query(e.into()))?;
            batches.push(
                RecordBatch::try_new(Arc::clone(&schema), columns)
                    .map_err(|e| EngineError::Query(e.into()))?,
            );
        }
        stats.add_rows(batches.iter().map(RecordBatch::num_rows).sum());
        let stream = futures::stream::iter(batches.into_iter().map(Ok));
        Ok(QueryOutput {
            schema: Arc::clone(&schema),
            stream: Box::pin(RecordBatchStreamAdapter::new(schema, stream)),
            stats,
        })
    }

    /// Runs one statement to the end and returns every row.
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let output = self.execute(sql).await?;
        Ok(output.stream.try_collect().await?)
    }
}

/// A one-batch answer (of a command or DDL statement) as a query's output.
impl QueryOutput {
    /// A one-batch answer with the stats of the statement that computed it.
    pub(crate) fn with_stats(batch: RecordBatch, stats: Arc<QueryStats>) -> Self {
        let schema = batch.schema();
        let stream = futures::stream::iter([Ok(batch)]);
        Self {
            schema: Arc::clone(&schema),
            stream: Box::pin(RecordBatchStreamAdapter::new(schema, stream)),
            stats,
        }
    }
}

/// `EXPLAIN ANALYZE` of a write: the rows it wrote, and what it read and wrote.
fn explained_write(written: &RecordBatch, stats: Arc<QueryStats>) -> QueryOutput {
    let rows = written
        .column(0)
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Int64Array>()
        .map_or(0, |a| a.value(0));
    let summary = stats.summary();
    let batch = batch(vec![
        (
            "plan_type",
            Values::Text(vec![Some("write".to_string()), Some("scan".to_string())]),
        ),
        (
            "plan",
            Values::Text(vec![
                Some(format!(
                    "{} in {} ({}), {}",
                    plural(rows.max(0) as u64, "row"),
                    plural(summary.written_files as u64, "file"),
                    minerva_catalog::display_byte_size(summary.written_bytes),
                    plural(summary.written_partitions as u64, "partition")
                )),
                Some(summary.describe_scan()),
            ]),
        ),
    ]);
    QueryOutput::with_stats(batch, stats)
}

/// `plan` with its parameters replaced by `params`, when there are any.
fn with_params(plan: LogicalPlan, params: Option<ParamValues>) -> Result<LogicalPlan> {
    Ok(match params {
        Some(params) => plan.with_param_values(params)?,
        None => plan,
    })
}

fn answer(batch: RecordBatch) -> QueryOutput {
    let schema = batch.schema();
    let stats = Arc::new(QueryStats::new(None));
    stats.add_rows(batch.num_rows());
    stats.finish();
    let stream = futures::stream::iter([Ok(batch)]);
    QueryOutput {
        schema: Arc::clone(&schema),
        stream: Box::pin(RecordBatchStreamAdapter::new(schema, stream)),
        stats,
    }
}

/// A query's error, or the scan limit's if that is what stopped it (DataFusion may report the
/// refused read as some other failure of the operator that asked for it).
fn stopped(error: DataFusionError, stats: &QueryStats) -> DataFusionError {
    match stats.exceeded() {
        Some(exceeded) => EngineError::ScanLimit(exceeded).into_datafusion(),
        None => error,
    }
}

/// Drives `stream` in a task of its own and hands its batches over a small channel.
///
/// A plan may run inline in whichever future polls it, without ever returning `Pending` (a
/// nested-loop join, say); the caller's other branches (Ctrl-C in the shell, a client's
/// disconnect later) would then never be polled. Behind the channel the caller always waits on
/// a receive, and dropping the returned stream aborts the task.
///
/// The rows are counted into `stats` on the way, and its clock stops at the last one.
fn on_the_runtime(
    schema: SchemaRef,
    mut stream: SendableRecordBatchStream,
    stats: Arc<QueryStats>,
    deadline: Option<Deadline>,
    after: Option<(Arc<dyn Extension>, Arc<dyn ExecutionPlan>)>,
) -> SendableRecordBatchStream {
    let mut builder = RecordBatchReceiverStream::builder(Arc::clone(&schema), 2);
    let tx = builder.tx();
    let finished = Arc::clone(&stats);
    builder.spawn(async move {
        loop {
            let Some(batch) = stream.next().await else {
                break;
            };
            let batch = match batch {
                Ok(batch) => Ok(batch),
                Err(error) => Err(match &after {
                    Some((extension, _)) => extension.failed(stopped(error, &stats)).await,
                    None => stopped(error, &stats),
                }),
            };
            match &batch {
                Ok(batch) => stats.add_rows(batch.num_rows()),
                Err(_) => stats.finish(),
            }
            if tx.send(batch).await.is_err() {
                break; // The reader went away.
            }
        }
        drop(stream);
        if let Some((extension, plan)) = after {
            extension.finished(plan, &stats).await;
        }
        stats.finish();
        Ok(())
    });
    let rows = builder.build();
    let Some(Deadline { deadline, after }) = deadline else {
        return rows;
    };
    // The deadline is watched where the rows are read, by an alarm that does not need the
    // runtime's threads (a CPU-bound operator may hold them all). Dropping `rows` after the
    // error stops the query's tasks.
    let mut alarm = Some(watchdog::alarm(deadline));
    let mut rows = Some(rows);
    let watched = futures::stream::poll_fn(move |cx| {
        use std::task::Poll;
        if let Some(ringing) = alarm.as_mut()
            && std::pin::Pin::new(ringing).poll(cx).is_ready()
        {
            alarm = None;
            if rows.take().is_some() {
                finished.finish();
                let timeout = EngineError::Timeout { after };
                return Poll::Ready(Some(Err(DataFusionError::External(Box::new(timeout)))));
            }
        }
        match rows.as_mut() {
            Some(stream) => {
                let next = stream.poll_next_unpin(cx);
                if matches!(next, Poll::Ready(None)) {
                    rows = None;
                    alarm = None;
                }
                next
            }
            None => Poll::Ready(None),
        }
    });
    Box::pin(RecordBatchStreamAdapter::new(schema, watched))
}

/// When a query must have finished, and the timeout that set it.
#[derive(Debug, Clone, Copy)]
struct Deadline {
    deadline: std::time::Instant,
    after: Duration,
}

/// Refuses statements that would define or change tables: tables are defined by the catalog's
/// files, and writes to a lake need atomic commits, which are not built yet. Refusing before
/// planning keeps the message about the statement, not about a table it names.
fn refuse_writes(statement: &Statement) -> Result<()> {
    let what = match statement {
        Statement::CreateExternalTable(_) => "CREATE EXTERNAL TABLE",
        Statement::CopyTo(_) => "COPY",
        Statement::Statement(inner) => match inner.as_ref() {
            SqlStatement::CreateTable(_) => "CREATE TABLE",
            SqlStatement::CreateView(_) => "CREATE VIEW",
            SqlStatement::CreateSchema { .. } | SqlStatement::CreateDatabase { .. } => {
                "CREATE DATABASE"
            }
            SqlStatement::CreateIndex(_) => "CREATE INDEX",
            SqlStatement::AlterTable(_) => "ALTER TABLE",
            SqlStatement::Drop { .. } => "DROP",
            SqlStatement::Insert(_) => "INSERT",
            SqlStatement::Update(_) => "UPDATE",
            SqlStatement::Delete(_) => "DELETE",
            SqlStatement::Truncate(_) => "TRUNCATE",
            SqlStatement::Merge(_) => "MERGE",
            _ => return Ok(()),
        },
        _ => return Ok(()),
    };
    Err(EngineError::Unsupported { statement: what })
}
