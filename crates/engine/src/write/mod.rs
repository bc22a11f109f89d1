//! Writes: Athena's `CREATE TABLE AS`, `INSERT INTO`, `INSERT OVERWRITE` (as Hive and Spark
//! spell it), `COMPACT` (the raw zone into the batch layer, each source object once), `UNLOAD`,
//! and `VACUUM`.
//!
//! Every table write runs the same way: take the table's write lock, read its manifest, plan the
//! query with the rows in the table's column order, sort them by partition then `sorted_by`,
//! stream them into files named `minerva-<write id>-<n>` (`sink`, `files`), and commit the
//! table's next manifest in one atomic step (`commit`); then delete what no commit names.
//! A write that fails or is killed before its commit changes nothing any reader sees.

mod commit;
mod failpoint;
mod files;
mod options;
mod sink;

use std::sync::Arc;

use chrono::Utc;
use datafusion::arrow::array::{Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::catalog::TableProvider;
use datafusion::common::ScalarValue;
use datafusion::execution::SessionState;
use datafusion::execution::memory_pool::{FairSpillPool, MemoryLimit};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, SortExpr};
use datafusion::prelude::ident;
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::{
    CreateTable, CreateTableOptions, Insert, ObjectName, Query, Statement as SqlStatement,
    TableObject,
};
use futures::TryStreamExt;
use minerva_catalog::{
    Catalog, Column, ColumnType, DEFAULT_DATABASE, Format, Location, Serde, Table, TableDefinition,
    is_written_by_minerva,
};
use minerva_sql::Maintenance;
use object_store::ObjectStore;
use object_store::path::Path;

use crate::error::{EngineError, Rejection, Result, WriteProblem};
use crate::report::QueryStats;
use crate::scan::snapshot::Snapshot;
use crate::scan::{Tables, is_data_file};
use commit::Change;
use files::{Encoding, SORTED_BY, WRITE_COMPRESSION};
use sink::{Destination, Naming, Sink, Written, storable, type_error};

pub(crate) use commit::RETAIN_REPLACED;

/// A write statement, recognised in the parsed SQL.
#[derive(Debug)]
pub(crate) enum Write {
    CreateTableAs(Box<CreateTable>),
    Insert(Box<Insert>),
    Unload {
        query: Box<Query>,
        to: String,
        with: Vec<datafusion::sql::sqlparser::ast::SqlOption>,
    },
}

impl Write {
    /// The query whose rows the write writes.
    pub(crate) fn query(&self) -> Option<&Query> {
        match self {
            Self::CreateTableAs(create) => create.query.as_deref(),
            Self::Insert(insert) => insert.source.as_deref(),
            Self::Unload { query, .. } => Some(query),
        }
    }

    /// What it is, for messages: `CREATE TABLE AS`, `INSERT`, `UNLOAD`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::CreateTableAs(_) => "CREATE TABLE AS",
            Self::Insert(_) => "INSERT",
            Self::Unload { .. } => "UNLOAD",
        }
    }

    /// The write `statement` is, or the statement back.
    pub(crate) fn classify(statement: Statement) -> std::result::Result<Self, Box<Statement>> {
        let Statement::Statement(inner) = statement else {
            return Err(Box::new(statement));
        };
        match *inner {
            SqlStatement::CreateTable(create) if create.query.is_some() => {
                Ok(Self::CreateTableAs(Box::new(create)))
            }
            SqlStatement::Insert(insert) => Ok(Self::Insert(Box::new(insert))),
            SqlStatement::Unload {
                query: Some(query),
                to,
                with,
                ..
            } => Ok(Self::Unload {
                query,
                to: to.value,
                with,
            }),
            other => Err(Box::new(Statement::Statement(Box::new(other)))),
        }
    }
}

/// The memory a write's operators (its sort) may hold when the session sets no limit.
const WRITE_MEMORY: usize = 2 << 30;

/// Makes the session state one query runs on, with its stats and table snapshot.
pub(crate) type QueryState<'a> =
    dyn Fn(&Arc<QueryStats>, Snapshot) -> SessionState + Send + Sync + 'a;

/// What writes need of the session: its tables, and the session state one query runs on.
pub(crate) struct Writer<'a> {
    pub(crate) tables: &'a Tables,
    pub(crate) query_state: Box<QueryState<'a>>,
}

impl Writer<'_> {
    fn catalog(&self) -> Arc<Catalog> {
        self.tables.catalog()
    }

    /// The state a write's query runs on. A write sorts all of its rows: without a memory
    /// limit of the session's, it gets [`WRITE_MEMORY`], so that a day of events spills to
    /// disk rather than being held whole.
    fn query_state(&self, stats: &Arc<QueryStats>, snapshot: Snapshot) -> SessionState {
        let state = (self.query_state)(stats, snapshot);
        let runtime = state.runtime_env();
        if !matches!(runtime.memory_pool.memory_limit(), MemoryLimit::Infinite) {
            return state;
        }
        let bounded = RuntimeEnv {
            memory_pool: Arc::new(FairSpillPool::new(WRITE_MEMORY)),
            ..runtime.as_ref().clone()
        };
        SessionStateBuilder::new_from_existing(state)
            .with_runtime_env(Arc::new(bounded))
            .build()
    }

    /// Runs a write; `with_data` is `Some(false)` for `CREATE TABLE AS … WITH NO DATA`.
    /// Answers one row, `rows`, as Trino does.
    pub(crate) async fn write(
        &self,
        write: Write,
        with_data: Option<bool>,
        stats: &Arc<QueryStats>,
    ) -> Result<RecordBatch> {
        let rows = match write {
            Write::CreateTableAs(create) => {
                self.create_table_as(*create, with_data.unwrap_or(true), stats)
                    .await?
            }
            Write::Insert(insert) => self.insert(*insert, stats).await?,
            Write::Unload { query, to, with } => self.unload(*query, &to, &with, stats).await?,
        };
        Ok(rows_answer(rows, stats))
    }

    /// Runs `COMPACT` or `VACUUM`.
    pub(crate) async fn maintain(
        &self,
        statement: Maintenance,
        stats: &Arc<QueryStats>,
    ) -> Result<RecordBatch> {
        let rows = match statement {
            Maintenance::Compact {
                source,
                target,
                set,
                filter,
            } => {
                self.compact(&source, &target, &set, filter.as_deref(), stats)
                    .await?
            }
            Maintenance::CompactLive { table, filter } => {
                let live = match self.tables.catalog().find(&table.0, &table.1)? {
                    minerva_catalog::Entry::Live(live) => live,
                    _ => {
                        return Err(crate::error::Rejection::WrongKind {
                            name: format!("{}.{}", table.0, table.1),
                            is: "a table or a view",
                            expected: "a live table",
                            instead: "say COMPACT source INTO target",
                        }
                        .into());
                    }
                };
                let name = |(db, t): (&str, &str)| (db.to_string(), t.to_string());
                self.compact(
                    &name(live.speed()),
                    &name(live.batch()),
                    live.set(),
                    filter.as_deref(),
                    stats,
                )
                .await?
            }
            Maintenance::Vacuum { table, retain } => {
                self.vacuum(&table, retain.unwrap_or(RETAIN_REPLACED), stats)
                    .await?
            }
        };
        Ok(rows_answer(rows, stats))
    }

    /// Plans `query` on `state` as a read (Trino's dialect, tables checked).
    async fn plan_query(&self, state: &SessionState, query: Query) -> Result<LogicalPlan> {
        let mut statement = Statement::Statement(Box::new(SqlStatement::Query(Box::new(query))));
        crate::trino::rewrite(&mut statement, &|name| {
            crate::trino::is_function(state, name)
        })?;
        self.tables.check_exist(state, &statement)?;
        Ok(state.statement_to_plan(statement).await?)
    }

    async fn insert(&self, insert: Insert, stats: &Arc<QueryStats>) -> Result<u64> {
        let TableObject::TableName(name) = &insert.table else {
            return Err(EngineError::Unsupported {
                statement: "INSERT INTO a table function",
            });
        };
        if insert.partitioned.is_some() {
            return Err(EngineError::Unsupported {
                statement: "INSERT … PARTITION (…) (give the partition columns as the query's last columns instead)",
            });
        }
        let Some(source) = insert.source else {
            return Err(EngineError::Unsupported {
                statement: "INSERT without a query",
            });
        };
        let (database, table_name) = split_name(name);
        let table = self.catalog().lookup(&database, &table_name)?;
        let opened = self.tables.open(&database, &table_name).await?;
        let target = format!("table '{}'", table.qualified_name());
        let (data, partitions) = table_columns(&table, &opened.schema());
        let columns: Vec<String> = insert
            .columns
            .iter()
            .map(|c| c.to_string().trim_matches('"').to_lowercase())
            .collect();
        let state = self.query_state(stats, Snapshot::default());
        let plan = self.plan_query(&state, *source).await?;
        let all: Vec<Column> = data.iter().chain(&partitions).cloned().collect();
        let plan = arrange(plan, &all, &columns, &target)?;
        let change = if insert.overwrite {
            Change::Overwrite
        } else {
            Change::Append
        };
        self.write_table(&state, &table, plan, data, partitions, change, stats)
            .await
    }

    /// Writes the rows of `plan` (the table's columns, in order) to `table` and commits them.
    #[allow(clippy::too_many_arguments)]
    async fn write_table(
        &self,
        state: &SessionState,
        table: &Arc<Table>,
        plan: LogicalPlan,
        data: Vec<Column>,
        partitions: Vec<Column>,
        change: Change,
        stats: &Arc<QueryStats>,
    ) -> Result<u64> {
        let root = self.catalog().root().to_path_buf();
        let _lock = Catalog::lock_writes(&root, table.database(), table.name())?;
        let base = Catalog::read_manifest(&root, table.database(), table.name())?;
        let (written, store) = self
            .write_rows(state, table, plan, data, partitions)
            .await?;
        let now = Utc::now();
        let change = match change {
            Change::Compact { source, .. } => {
                let read = state
                    .config()
                    .get_extension::<Snapshot>()
                    .map(|s| s.consumed_now())
                    .unwrap_or_default();
                Change::Compact { source, read }
            }
            other => other,
        };
        failpoint::pause("commit").await;
        let (committed, _) =
            commit::commit(&root, table, &store, base, change, &written.files, now).await?;
        stats.record_write(committed.files, committed.bytes, committed.partitions);
        Ok(written.rows)
    }

    /// Streams the rows of `plan` into files of `table` (not committed).
    async fn write_rows(
        &self,
        state: &SessionState,
        table: &Arc<Table>,
        plan: LogicalPlan,
        data: Vec<Column>,
        partitions: Vec<Column>,
    ) -> Result<(Written, Arc<dyn ObjectStore>)> {
        let target = format!("table '{}'", table.qualified_name());
        let encoding = Encoding::of(table)?;
        let plan = sorted(plan, &data, &partitions, &encoding, &target)?;
        let store = self.store_for(state, table.location())?;
        let destination = Destination {
            store: Arc::clone(&store),
            table: Some(Arc::clone(table)),
            root: table.location().prefix(),
            names: Naming::Numbered(format!(
                "{}{}-",
                minerva_catalog::WRITTEN_FILE_PREFIX,
                write_id()
            )),
            now: Utc::now(),
            target,
        };
        let written = Sink::new(destination, encoding, data, partitions)
            .write_plan(state, plan)
            .await?;
        Ok((written, store))
    }

    /// The object store of `location`, counting into the query `state` runs.
    fn store_for(&self, state: &SessionState, location: &Location) -> Result<Arc<dyn ObjectStore>> {
        let url = datafusion::execution::object_store::ObjectStoreUrl::parse(location.store_url())?;
        Ok(state.runtime_env().object_store(&url)?)
    }

    async fn create_table_as(
        &self,
        create: CreateTable,
        with_data: bool,
        stats: &Arc<QueryStats>,
    ) -> Result<u64> {
        let (database, name) = split_name(&create.name);
        let qualified = format!("{database}.{name}");
        let target = format!("table '{qualified}'");
        let root = self.catalog().root().to_path_buf();
        if !root.join(&database).is_dir() {
            return Err(Rejection::NoDatabase { database }.into());
        }
        if root.join(&database).join(format!("{name}.toml")).exists() {
            if create.if_not_exists {
                return Ok(0);
            }
            return Err(Rejection::TableExists { table: qualified }.into());
        }
        let options = match &create.table_options {
            CreateTableOptions::With(options) | CreateTableOptions::Plain(options) => {
                options::WriteOptions::for_table(options, &target)?
            }
            CreateTableOptions::None => options::WriteOptions::default(),
            _ => {
                return Err(EngineError::Unsupported {
                    statement: "CREATE TABLE AS with OPTIONS or TBLPROPERTIES (use WITH (…))",
                });
            }
        };
        let query = create.query.expect("classified as CREATE TABLE AS");
        let state = self.query_state(stats, Snapshot::default());
        let plan = self.plan_query(&state, *query).await?;
        let (data, partitions) = ctas_columns(&plan, &options.partitioned_by, &target)?;
        let location = match &options.location {
            Some(written) => {
                Location::parse(written, &root).map_err(|e| location_error(&target, e))?
            }
            None => {
                let storage = self
                    .catalog()
                    .storage()
                    .map_err(EngineError::Catalog)?
                    .clone();
                let Some(warehouse) = storage.warehouse else {
                    return Err(EngineError::Write {
                        target,
                        problem: WriteProblem::NoWarehouse {
                            storage: root.join(minerva_catalog::STORAGE_FILE),
                        },
                    });
                };
                let base = warehouse.trim_end_matches('/');
                Location::parse(&format!("{base}/{database}/{name}/"), &root)
                    .map_err(|e| location_error(&target, e))?
            }
        };
        let format = options.format.unwrap_or(Format::Parquet);
        let mut definition = TableDefinition::new(&database, &name, location.clone(), format);
        definition.columns = Some(data.clone());
        definition.partition_columns = partitions.clone();
        if let Some(codec) = options.compression {
            definition
                .properties
                .insert(WRITE_COMPRESSION.to_string(), codec.name().to_string());
        }
        if !options.sorted_by.is_empty() {
            definition
                .properties
                .insert(SORTED_BY.to_string(), options.sorted_by.join(", "));
        }
        for (key, value) in &options.properties {
            definition.properties.insert(key.clone(), value.clone());
        }
        match format {
            Format::Json => {
                definition.serde = Some(Serde {
                    library: Serde::JSON.to_string(),
                    properties: Default::default(),
                });
            }
            Format::Csv => {
                let delimiter = options
                    .field_delimiter
                    .clone()
                    .unwrap_or_else(|| "\u{1}".to_string());
                definition.serde = Some(Serde {
                    library: Serde::LAZY_SIMPLE.to_string(),
                    properties: [("field.delim".to_string(), delimiter)].into(),
                });
            }
            _ => {}
        }
        let table =
            Arc::new(
                Table::new(definition.clone(), &root).map_err(|e| EngineError::Write {
                    target: target.clone(),
                    problem: WriteProblem::Definition {
                        message: e.to_string(),
                    },
                })?,
            );
        let _lock = Catalog::lock_writes(&root, &database, &name)?;
        if root.join(&database).join(format!("{name}.toml")).exists() {
            return Err(Rejection::TableExists { table: qualified }.into());
        }
        let store = self.store_for(&state, &location)?;
        check_empty(&store, &location, &target).await?;
        // What a CTAS that crashed before writing its table file left is not this table's.
        let base = Catalog::read_manifest(&root, &database, &name)?.cleared();
        let written = if with_data {
            self.write_rows(&state, &table, plan, data, partitions)
                .await?
                .0
        } else {
            Written::default()
        };
        if written.files.is_empty() {
            // An empty table still commits, so that it reads as empty before its first file.
            Catalog::commit_manifest(&root, &database, &name, &base)?;
        } else {
            let (committed, manifest) = commit::commit(
                &root,
                &table,
                &store,
                base,
                Change::Append,
                &written.files,
                Utc::now(),
            )
            .await?;
            commit::clean(&table, &store, &manifest, &location.prefix()).await?;
            stats.record_write(committed.files, committed.bytes, committed.partitions);
        }
        let rows = written.rows;
        // The table file last: the table exists, with all its rows, from this point on.
        Catalog::write_table(&root, &definition)?;
        self.tables.reload()?;
        Ok(rows)
    }

    async fn compact(
        &self,
        source: &(String, String),
        target_name: &(String, String),
        set: &[(String, String)],
        filter: Option<&str>,
        stats: &Arc<QueryStats>,
    ) -> Result<u64> {
        let source_table = self.catalog().lookup(&source.0, &source.1)?;
        let table = self.catalog().lookup(&target_name.0, &target_name.1)?;
        let opened_source = self.tables.open(&source.0, &source.1).await?;
        let opened = self.tables.open(&target_name.0, &target_name.1).await?;
        let target = format!("table '{}'", table.qualified_name());
        let (data, partitions) = table_columns(&table, &opened.schema());
        let source_schema = opened_source.schema();
        let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
        let mut select = Vec::new();
        for column in data.iter().chain(&partitions) {
            match set.iter().find(|(c, _)| *c == column.name) {
                Some((_, expression)) => {
                    select.push(format!("{expression} AS {}", quote(&column.name)));
                }
                None if source_schema.field_with_name(&column.name).is_ok() => {
                    select.push(quote(&column.name));
                }
                None => {
                    return Err(EngineError::Write {
                        target,
                        problem: WriteProblem::Unmatched {
                            column: column.name.clone(),
                            source_table: source_table.qualified_name(),
                        },
                    });
                }
            }
        }
        if let Some((column, _)) = set
            .iter()
            .find(|(c, _)| !data.iter().chain(&partitions).any(|d| d.name == *c))
        {
            return Err(EngineError::Write {
                target,
                problem: WriteProblem::Unmatched {
                    column: column.clone(),
                    source_table: table.qualified_name(),
                },
            });
        }
        let from = format!("{}.{}", quote(&source.0), quote(&source.1));
        let sql = match filter {
            Some(filter) => format!("SELECT {} FROM {from} WHERE {filter}", select.join(", ")),
            None => format!("SELECT {} FROM {from}", select.join(", ")),
        };
        let root = self.catalog().root().to_path_buf();
        let manifest = Arc::new(Catalog::read_manifest(
            &root,
            table.database(),
            table.name(),
        )?);
        let state = self.query_state(stats, Snapshot::consuming(&source_table, manifest));
        let statement =
            state.sql_to_statement(&sql, &state.config().options().sql_parser.dialect)?;
        let Statement::Statement(inner) = statement else {
            unreachable!("a SELECT parses as a query");
        };
        let SqlStatement::Query(query) = *inner else {
            unreachable!("a SELECT parses as a query");
        };
        if let Some(filter) = &query.body.as_select().and_then(|s| s.selection.clone()) {
            check_partition_only(&source_table, filter, &target)?;
        }
        let plan = self.plan_query(&state, *query).await?;
        let all: Vec<Column> = data.iter().chain(&partitions).cloned().collect();
        let plan = arrange(plan, &all, &[], &target)?;
        let change = Change::Compact {
            source: source_table,
            read: Vec::new(),
        };
        self.write_table(&state, &table, plan, data, partitions, change, stats)
            .await
    }

    async fn vacuum(
        &self,
        name: &(String, String),
        retain: std::time::Duration,
        stats: &Arc<QueryStats>,
    ) -> Result<u64> {
        let table = self.catalog().lookup(&name.0, &name.1)?;
        let root = self.catalog().root().to_path_buf();
        let _lock = Catalog::lock_writes(&root, table.database(), table.name())?;
        let mut manifest = Catalog::read_manifest(&root, table.database(), table.name())?;
        let state = self.query_state(stats, Snapshot::default());
        let store = self.store_for(&state, table.location())?;
        let cutoff =
            Utc::now() - chrono::Duration::from_std(retain).unwrap_or(chrono::Duration::MAX);
        let expired = manifest.expire_retired(&table, cutoff);
        if !expired.is_empty() {
            Catalog::commit_manifest(&root, table.database(), table.name(), &manifest)?;
            manifest = Catalog::read_manifest(&root, table.database(), table.name())?;
        }
        let mut deleted = commit::delete(&store, expired).await;
        deleted += commit::clean(&table, &store, &manifest, &table.location().prefix()).await?;
        Ok(deleted as u64)
    }

    async fn unload(
        &self,
        query: Query,
        to: &str,
        with: &[datafusion::sql::sqlparser::ast::SqlOption],
        stats: &Arc<QueryStats>,
    ) -> Result<u64> {
        let target = format!("'{to}'");
        let options = options::WriteOptions::for_unload(with, &target)?;
        let root = self.catalog().root().to_path_buf();
        let location = Location::parse(to, &root).map_err(|e| location_error(&target, e))?;
        let state = self.query_state(stats, Snapshot::default());
        let plan = self.plan_query(&state, query).await?;
        let (data, partitions) = ctas_columns(&plan, &options.partitioned_by, &target)?;
        let store = self.store_for(&state, &location)?;
        check_empty(&store, &location, &target).await?;
        let format = options.format.unwrap_or(Format::Parquet);
        let encoding = Encoding {
            format,
            codec: options.compression.unwrap_or(if format == Format::Parquet {
                files::Codec::Zstd
            } else {
                files::Codec::Gzip
            }),
            file_bytes: 128 << 20,
            row_group_rows: 1 << 20,
            sorted_by: Vec::new(),
            delimiter: options
                .field_delimiter
                .as_deref()
                .and_then(|d| d.bytes().next())
                .unwrap_or(b','),
        };
        let all: Vec<Column> = data.iter().chain(&partitions).cloned().collect();
        let plan = arrange(plan, &all, &[], &target)?;
        let plan = sorted(plan, &data, &partitions, &encoding, &target)?;
        let destination = Destination {
            store: Arc::clone(&store),
            table: None,
            root: location.prefix(),
            names: Naming::Numbered(format!("{}-", write_id())),
            now: Utc::now(),
            target,
        };
        let written = Sink::new(destination, encoding, data, partitions)
            .write_plan(&state, plan)
            .await?;
        let mut partitions: Vec<&Path> = written.files.iter().map(|(p, _)| &p.prefix).collect();
        partitions.sort();
        partitions.dedup();
        stats.record_write(
            written.files.len(),
            written.files.iter().map(|(_, f)| f.bytes).sum(),
            partitions.len(),
        );
        Ok(written.rows)
    }

    /// Writes the result of `sql` to one local file, its format from its extension (`.parquet`,
    /// `.csv`, `.json`, `.ndjson`): the shell's `\copy (…) TO 'file'`.
    pub(crate) async fn copy_to_file(
        &self,
        sql: &str,
        path: &std::path::Path,
        stats: &Arc<QueryStats>,
    ) -> Result<u64> {
        let state = self.query_state(stats, Snapshot::default());
        let statement =
            state.sql_to_statement(sql, &state.config().options().sql_parser.dialect)?;
        let Statement::Statement(inner) = statement else {
            return Err(EngineError::Unsupported {
                statement: "\\copy of anything but a query",
            });
        };
        let SqlStatement::Query(query) = *inner else {
            return Err(EngineError::Unsupported {
                statement: "\\copy of anything but a query",
            });
        };
        let plan = self.plan_query(&state, *query).await?;
        let target = format!("'{}'", path.display());
        let (data, _) = ctas_columns(&plan, &[], &target)?;
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let (format, delimiter) = match extension.as_str() {
            "parquet" => (Format::Parquet, b','),
            "json" | "ndjson" | "jsonl" => (Format::Json, b','),
            "csv" => (Format::Csv, b','),
            "tsv" => (Format::Csv, b'\t'),
            _ => {
                return Err(EngineError::Write {
                    target,
                    problem: WriteProblem::BadProperty {
                        property: "file name".to_string(),
                        value: format!("'.{extension}'"),
                        expected: "a file ending in .parquet, .csv, .tsv or .json",
                    },
                });
            }
        };
        let encoding = Encoding {
            format,
            codec: if format == Format::Parquet {
                files::Codec::Zstd
            } else {
                files::Codec::None
            },
            file_bytes: u64::MAX,
            row_group_rows: 1 << 20,
            sorted_by: Vec::new(),
            delimiter,
        };
        let absolute = std::path::absolute(path).map_err(|e| EngineError::Write {
            target: target.clone(),
            problem: WriteProblem::Encode {
                object: path.display().to_string(),
                message: e.to_string(),
            },
        })?;
        let dir = absolute.parent().unwrap_or(std::path::Path::new("/"));
        let store: Arc<dyn ObjectStore> = Arc::new(
            object_store::local::LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| files::put_error(&Path::from(dir.display().to_string()), &e))?,
        );
        let file_name = absolute
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let plan = arrange(plan, &data, &[], &target)?;
        let destination = Destination {
            store,
            table: None,
            root: Path::default(),
            names: Naming::Exactly(file_name),
            now: Utc::now(),
            target,
        };
        let written = Sink::new(destination, encoding, data, Vec::new())
            .write_plan(&state, plan)
            .await?;
        Ok(written.rows)
    }
}

/// The one-row answer of a write: `rows`, as Trino answers `INSERT` and `CREATE TABLE AS`.
fn rows_answer(rows: u64, stats: &QueryStats) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "rows",
        DataType::Int64,
        false,
    )]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::new(Int64Array::from(vec![rows as i64]))],
    )
    .expect("one Int64 column");
    stats.add_rows(1);
    stats.finish();
    batch
}

/// `database.table` or `table` (in the default database), as Athena resolves names.
fn split_name(name: &ObjectName) -> (String, String) {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p.as_ident() {
            Some(ident) if ident.quote_style.is_some() => ident.value.clone(),
            Some(ident) => ident.value.to_lowercase(),
            None => p.to_string(),
        })
        .collect();
    match parts.as_slice() {
        [table] => (DEFAULT_DATABASE.to_string(), table.clone()),
        [.., database, table] => (database.clone(), table.clone()),
        [] => (DEFAULT_DATABASE.to_string(), String::new()),
    }
}

/// A table's data and partition columns, as declared (or as its files have them).
fn table_columns(
    table: &Table,
    schema: &datafusion::arrow::datatypes::SchemaRef,
) -> (Vec<Column>, Vec<Column>) {
    let partitions = table.partition_columns().to_vec();
    let data = match table.columns() {
        Some(columns) => columns
            .iter()
            .filter(|c| !partitions.iter().any(|p| p.name == c.name))
            .cloned()
            .collect(),
        None => schema
            .fields()
            .iter()
            .take(schema.fields().len() - partitions.len())
            .filter_map(|f| {
                column_type_of(f.data_type()).map(|ty| Column::new(f.name().clone(), ty))
            })
            .collect(),
    };
    (data, partitions)
}

/// The columns a query's result defines as a new table: its names and types, with the
/// `partitioned_by` columns last, as Athena requires.
fn ctas_columns(
    plan: &LogicalPlan,
    partitioned_by: &[String],
    target: &str,
) -> Result<(Vec<Column>, Vec<Column>)> {
    let error = |problem| EngineError::Write {
        target: target.to_string(),
        problem,
    };
    let mut columns: Vec<Column> = Vec::new();
    for field in plan.schema().fields() {
        let name = field.name().to_lowercase();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(error(WriteProblem::ColumnName {
                column: field.name().clone(),
                why: "is not a valid column name: give the expression a name (AS name) of letters, digits and '_'",
            }));
        }
        if columns.iter().any(|c| c.name == name) {
            return Err(error(WriteProblem::ColumnName {
                column: name,
                why: "appears twice: name the columns apart (AS name)",
            }));
        }
        let Some(ty) = column_type_of(field.data_type()) else {
            let hint = match field.data_type() {
                DataType::Null => "NULL has no type: CAST(NULL AS <type>)",
                DataType::Timestamp(_, Some(_)) => "CAST(… AS timestamp), in UTC",
                _ => "to a type Athena stores: bigint, double, decimal, string, date, timestamp, …",
            };
            return Err(error(WriteProblem::Unstorable {
                column: name,
                given: crate::types::athena_name(field.data_type()),
                hint,
            }));
        };
        columns.push(Column::new(name, ty));
    }
    let split = columns.len().saturating_sub(partitioned_by.len());
    let tail: Vec<&str> = columns[split..].iter().map(|c| c.name.as_str()).collect();
    if partitioned_by.len() > columns.len()
        || tail
            != partitioned_by
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
    {
        return Err(error(WriteProblem::PartitionColumnsLast {
            expected: partitioned_by.join(", "),
            found: tail.join(", "),
        }));
    }
    let partitions = columns.split_off(split);
    if let Some(bad) = partitions.iter().find(|c| !c.ty.is_partition_type()) {
        return Err(error(WriteProblem::BadProperty {
            property: "partitioned_by".to_string(),
            value: format!("'{}' ({})", bad.name, bad.ty),
            expected: "columns of type string, date, boolean or an integer type",
        }));
    }
    Ok((columns, partitions))
}

/// The catalog type that stores values of `ty` unchanged.
fn column_type_of(ty: &DataType) -> Option<ColumnType> {
    match ty {
        DataType::Null | DataType::Timestamp(_, Some(_)) => None,
        DataType::UInt8 => Some(ColumnType::SmallInt),
        DataType::UInt16 => Some(ColumnType::Int),
        DataType::UInt32 => Some(ColumnType::BigInt),
        DataType::UInt64 => Some(ColumnType::Decimal {
            precision: 20,
            scale: 0,
        }),
        DataType::Float16 => Some(ColumnType::Float),
        DataType::Timestamp(TimeUnit::Nanosecond, None) => Some(ColumnType::Timestamp),
        DataType::Date64 => Some(ColumnType::Timestamp),
        other => crate::types::athena_name(other).parse().ok(),
    }
}

/// The query's rows as the target's columns, in the target's order: `columns` names which
/// target column each of the query's columns fills (all of them in order when empty); the
/// others are NULL. Every type is checked to store unchanged.
fn arrange(
    plan: LogicalPlan,
    target_columns: &[Column],
    columns: &[String],
    target: &str,
) -> Result<LogicalPlan> {
    let error = |problem| EngineError::Write {
        target: target.to_string(),
        problem,
    };
    let given = plan.schema().fields().len();
    let chosen: Vec<usize> = if columns.is_empty() {
        (0..target_columns.len()).collect()
    } else {
        columns
            .iter()
            .map(|name| {
                target_columns
                    .iter()
                    .position(|c| c.name == *name)
                    .ok_or_else(|| {
                        error(WriteProblem::ColumnName {
                            column: name.clone(),
                            why: "is not a column of the table",
                        })
                    })
            })
            .collect::<Result<_>>()?
    };
    if given != chosen.len() {
        return Err(error(WriteProblem::ColumnCount {
            expected: chosen.len(),
            given,
            columns: chosen
                .iter()
                .map(|i| target_columns[*i].name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }));
    }
    let mut exprs = Vec::with_capacity(target_columns.len());
    for (i, column) in target_columns.iter().enumerate() {
        let declared = crate::types::arrow_type(&column.ty);
        let expr = match chosen.iter().position(|c| *c == i) {
            Some(source) => {
                let (qualifier, field) = plan.schema().qualified_field(source);
                if !storable(field.data_type(), &declared) {
                    return Err(type_error(target, column, field.data_type()));
                }
                Expr::Column(datafusion::common::Column::from((qualifier, field)))
            }
            None => Expr::Literal(ScalarValue::try_from(&declared)?, None),
        };
        exprs.push(expr.alias(&column.name));
    }
    Ok(LogicalPlanBuilder::from(plan).project(exprs)?.build()?)
}

/// The rows sorted by partition, then by the table's `sorted_by` columns.
fn sorted(
    plan: LogicalPlan,
    data: &[Column],
    partitions: &[Column],
    encoding: &Encoding,
    target: &str,
) -> Result<LogicalPlan> {
    let mut keys: Vec<SortExpr> = partitions
        .iter()
        .map(|c| ident(&c.name).sort(true, true))
        .collect();
    for name in &encoding.sorted_by {
        if !data.iter().any(|c| c.name == *name) {
            return Err(EngineError::Write {
                target: target.to_string(),
                problem: WriteProblem::BadProperty {
                    property: SORTED_BY.to_string(),
                    value: format!("'{name}'"),
                    expected: "data columns of the table (not partition columns)",
                },
            });
        }
        keys.push(ident(name).sort(true, false));
    }
    if keys.is_empty() {
        return Ok(plan);
    }
    Ok(LogicalPlanBuilder::from(plan).sort(keys)?.build()?)
}

/// Fails when `location` already holds data another writer put there (Minerva's own
/// uncommitted files do not count: the commit's clean-up removes them).
async fn check_empty(
    store: &Arc<dyn ObjectStore>,
    location: &Location,
    target: &str,
) -> Result<()> {
    if let Some(path) = location.local_path()
        && !path.exists()
    {
        return Ok(());
    }
    let prefix = location.prefix();
    let mut objects = store.list(Some(&prefix));
    while let Some(meta) = objects.try_next().await.map_err(|e| {
        EngineError::from(minerva_catalog::CatalogError::List {
            table: target.to_string(),
            location: location.to_string(),
            source: e,
        })
    })? {
        if is_data_file(&prefix, &meta) && !is_written_by_minerva(&meta.location) {
            return Err(EngineError::Write {
                target: target.to_string(),
                problem: WriteProblem::LocationNotEmpty {
                    location: location.to_string(),
                    object: meta.location.to_string(),
                },
            });
        }
    }
    Ok(())
}

/// Refuses a `COMPACT … WHERE` that names more than the source's partition columns: a
/// compaction consumes whole objects.
fn check_partition_only(
    source: &Table,
    filter: &datafusion::sql::sqlparser::ast::Expr,
    target: &str,
) -> Result<()> {
    use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, Visit, Visitor};
    use std::ops::ControlFlow;
    struct Names<'a>(&'a Table, Option<String>);
    impl Visitor for Names<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &SqlExpr) -> ControlFlow<()> {
            let name = match expr {
                SqlExpr::Identifier(ident) => Some(ident.value.to_lowercase()),
                SqlExpr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.to_lowercase()),
                _ => None,
            };
            if let Some(name) = name
                && self.0.partition_column(&name).is_none()
            {
                self.1 = Some(name);
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    let mut names = Names(source, None);
    let _ = filter.visit(&mut names);
    match names.1 {
        None => Ok(()),
        Some(_) => Err(EngineError::Write {
            target: target.to_string(),
            problem: WriteProblem::CompactFilter {
                source_table: source.qualified_name(),
                columns: source
                    .partition_columns()
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            },
        }),
    }
}

fn location_error(target: &str, source: minerva_catalog::ValueError) -> EngineError {
    EngineError::Write {
        target: target.to_string(),
        problem: WriteProblem::Location { source },
    }
}

/// A fresh id for one write's files: its start time, then randomness, so names sort by time
/// and never collide.
fn write_id() -> String {
    let random: u32 = rand::random();
    format!("{}-{random:08x}", Utc::now().format("%Y%m%dT%H%M%S"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_types_store_as_athena_types() {
        assert_eq!(
            column_type_of(&DataType::Utf8View),
            Some(ColumnType::String)
        );
        assert_eq!(column_type_of(&DataType::Int64), Some(ColumnType::BigInt));
        assert_eq!(column_type_of(&DataType::UInt32), Some(ColumnType::BigInt));
        assert_eq!(
            column_type_of(&DataType::Timestamp(TimeUnit::Microsecond, None)),
            Some(ColumnType::Timestamp)
        );
        assert_eq!(column_type_of(&DataType::Null), None);
        assert_eq!(
            column_type_of(&DataType::Timestamp(
                TimeUnit::Microsecond,
                Some("UTC".into())
            )),
            None
        );
    }

    #[test]
    fn write_ids_sort_by_time_and_differ() {
        let (a, b) = (write_id(), write_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), "20261202T050000-1a2b3c4d".len());
    }
}
