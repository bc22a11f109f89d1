//! The physical side of a dense aggregation: read the chosen files' row groups with strings as
//! dictionaries, filter and group on dictionary entries and integer offsets, merge the
//! workers' groups, and emit the answer.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, Int64Array, RecordBatch,
    RecordBatchOptions, new_null_array,
};
use arrow::buffer::BooleanBuffer;
use arrow::compute::CastOptions;
use arrow::datatypes::{DataType, Field, FieldRef, Int32Type, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, HashMap, ScalarValue};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::ParquetFileReaderFactory;
use datafusion::datasource::physical_plan::parquet::{
    DefaultParquetFileReaderFactory, PagePruningAccessPlanFilter, ParquetAccessPlan,
    ParquetFileMetrics, RowGroupAccess,
};
use datafusion::error::Result;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryLimit};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, Partitioning};
use datafusion::physical_plan::execution_plan::{
    Boundedness, ChildrenPropertiesMode, EmissionType, ReplaceChildrenOptions,
};
use datafusion::physical_plan::metrics::{
    Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PhysicalExpr, PlanProperties,
};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::ObjectStore;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicate, ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions,
    RowFilter as ParquetRowFilter, RowSelection,
};
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use parquet::file::statistics::Statistics;

use super::cells::Budget;
use super::derived::{DerivedCache, DerivedKey, Per};
use super::groups::{
    BatchInput, Combos, EntryColumn, FAIL, Groups, Output, Range, same_dictionary,
};
use super::measures::{Aggregate, Input, Measure, Number, Operand, Values};
use super::pages::Int64Pages;
use super::stats::row_groups_to_read;
use crate::error::{EngineError, TableProblem};
use crate::options::MinervaOptions;
use crate::report::QueryStats;
use crate::scan::drift::check_column;
use crate::scan::footers::{
    DiskFooters, FOOTER_HINT, FooterFetch, is_remote, remote_footers_at_once,
};
use crate::scan::readahead::{
    Chunks, FetchedReader, ReadAhead, Wanted, chunk_ranges, cut, merged, selected_ranges,
};
use datafusion::physical_optimizer::pruning::PruningPredicate;
use minerva_catalog::display_byte_size;

/// Rows per decoded batch: large enough that per-batch work (dictionary checks, filter setup)
/// vanishes, small enough that a batch's columns stay in cache.
const BATCH_ROWS: usize = 65_536;

/// Footers fetched at once from a local store (a remote one: `remote_footers_at_once`).
const FOOTER_CONCURRENCY: usize = 16;

/// Bytes of dense arrays a query may hold across its workers; beyond it, hash maps.
const DENSE_BUDGET: usize = 768 << 20;

/// A filter on one text column, evaluated once per dictionary entry.
#[derive(Debug, Clone)]
pub(crate) struct TextFilter {
    pub column: String,
    /// Over a batch holding only `column`, typed as the table declares it.
    pub predicate: Arc<dyn PhysicalExpr>,
    pub schema: SchemaRef,
}

/// The filters that need row values (integers, timestamps, several columns).
#[derive(Debug, Clone)]
pub(crate) struct RowFilter {
    pub predicate: Arc<dyn PhysicalExpr>,
    /// The columns it reads, typed as the table declares them.
    pub schema: SchemaRef,
}

/// A key grouped on dictionary entries: a text column, or an expression of one column.
#[derive(Debug, Clone)]
pub(crate) struct EntryKey {
    pub column: String,
    pub derived: Option<Arc<DerivedKey>>,
}

/// When an aggregate takes its `then` value, planned.
#[derive(Debug, Clone)]
pub(crate) enum PlannedCondition {
    /// Over the partition columns: evaluated once per file.
    Partition(Arc<dyn PhysicalExpr>),
    /// Over one text column: evaluated once per dictionary entry.
    Text(TextFilter),
    /// Evaluated per row.
    Row(RowFilter),
}

/// One aggregate, planned.
#[derive(Debug, Clone)]
pub(crate) struct AggregatePlan {
    pub aggregate: Aggregate,
    pub condition: Option<PlannedCondition>,
}

/// Everything a dense aggregation needs at run time.
#[derive(Debug, Clone)]
pub(crate) struct DenseScan {
    pub table: String,
    pub store_url: ObjectStoreUrl,
    pub files: Vec<PartitionedFile>,
    /// The partition columns, as the files' partition values are ordered.
    pub partition_schema: SchemaRef,
    /// Partition keys: expressions over the partition columns, constant within a file.
    pub partition_keys: Vec<Arc<dyn PhysicalExpr>>,
    pub text_keys: Vec<EntryKey>,
    pub integer_key: Option<String>,
    pub text_filters: Vec<TextFilter>,
    pub row_filter: Option<RowFilter>,
    /// The row filter over row group statistics: row groups it rules out are not read.
    pub pruning: Option<Arc<PruningPredicate>>,
    /// The row filter's conjuncts on one column each, over each page's statistics (the page
    /// index): within the row groups read, only pages they do not rule out are decoded.
    pub page_pruning: Option<Arc<PagePruningAccessPlanFilter>>,
    pub aggregates: Vec<AggregatePlan>,
    pub outputs: Vec<Output>,
    pub schema: SchemaRef,
    /// The table's columns as it declares them: each file's columns must read as these.
    pub declared: SchemaRef,
    /// No GROUP BY: one row even from no rows.
    pub global: bool,
    /// What EXPLAIN shows.
    pub description: String,
    /// DataFusion's plan for the same answer, where a text key may hold too many values.
    pub fallback: Option<Arc<Fallback>>,
    /// The query as written: what a worker plans its part of a split aggregation again from.
    pub written: Arc<Written>,
}

/// A dense aggregation's query as written over its table (columns unqualified).
#[derive(Debug, Clone)]
pub(crate) struct Written {
    /// Its filters (conjuncts), group keys and aggregates.
    pub filters: Vec<Expr>,
    pub groups: Vec<Expr>,
    pub aggregates: Vec<Expr>,
    /// The answer's schema.
    pub output: datafusion::common::DFSchemaRef,
}

/// The aggregation as DataFusion's hash aggregation would answer it: taken instead when a text
/// key's column chunks are not all dictionary-encoded (the writer gave up on a dictionary:
/// session ids, URLs), where a group per value costs more than a hash table.
#[derive(Debug)]
pub(crate) struct Fallback {
    plan: datafusion::logical_expr::LogicalPlan,
    /// When the aggregates are all `count(*)` (or there are none: `SELECT DISTINCT`): the
    /// filtered rows' group keys, whose distinct rows [`super::distinct::distinct_rows`]
    /// counts without DataFusion's two-phase aggregation.
    keys: Option<datafusion::logical_expr::LogicalPlan>,
    /// The answer is, per value of all keys but the last, the number of distinct non-NULL
    /// values of the last (`count(DISTINCT x) … GROUP BY` the others).
    of_last: bool,
    state: Box<datafusion::execution::SessionState>,
    /// The columns whose encoding decides.
    columns: Vec<String>,
    /// The planner of its physical plan: Minerva's alone (a planner wrapping it, such as a
    /// cluster's, plans the whole query the fallback is part of).
    planner: Option<Arc<dyn datafusion::execution::context::QueryPlanner + Send + Sync>>,
}

impl Fallback {
    /// The fallback of an aggregation of `table` (`written`: its group keys and aggregates,
    /// as `schema` names them), decided by the encoding of `columns` (its text keys).
    pub(crate) fn of(
        table: &Arc<dyn datafusion::catalog::TableProvider>,
        table_name: &str,
        filters: Vec<Expr>,
        written: &(Vec<Expr>, Vec<Expr>),
        schema: &datafusion::common::DFSchemaRef,
        columns: Vec<String>,
        session: &dyn datafusion::catalog::Session,
    ) -> Result<Option<Self>> {
        Self::build(
            table, table_name, filters, written, schema, columns, session, None,
        )
    }

    /// [`Self::of`], or with `last`, [`Self::of_distinct_last`].
    #[allow(clippy::too_many_arguments)]
    fn build(
        table: &Arc<dyn datafusion::catalog::TableProvider>,
        table_name: &str,
        filters: Vec<Expr>,
        written: &(Vec<Expr>, Vec<Expr>),
        schema: &datafusion::common::DFSchemaRef,
        columns: Vec<String>,
        session: &dyn datafusion::catalog::Session,
        last: Option<&Expr>,
    ) -> Result<Option<Self>> {
        use datafusion::logical_expr::{LogicalPlanBuilder, utils::conjunction};
        let Some(state) = session
            .as_any()
            .downcast_ref::<datafusion::execution::SessionState>()
        else {
            return Ok(None);
        };
        if columns.is_empty() {
            return Ok(None);
        }
        let source = datafusion::datasource::provider_as_source(Arc::clone(table));
        let mut builder =
            LogicalPlanBuilder::scan_with_filters(table_name, source, None, filters.clone())?;
        if let Some(predicate) = conjunction(filters) {
            builder = builder.filter(predicate)?;
        }
        let (groups, aggregates) = written;
        let project = |keys: Vec<Expr>| -> Result<_> {
            let named =
                (keys.into_iter().enumerate()).map(|(i, key)| key.alias(format!("__key{i}")));
            builder.clone().project(named)?.build()
        };
        let keys = match last {
            Some(last) => {
                let mut keys = groups.clone();
                keys.push(last.clone());
                Some(project(keys)?)
            }
            None if !groups.is_empty() && aggregates.iter().all(counts_rows) => {
                Some(project(groups.clone())?)
            }
            None => None,
        };
        let plan = builder
            .aggregate(groups.clone(), aggregates.clone())?
            .build()?;
        // Named as the dense node's output, column by column.
        let names = schema.fields().iter().map(|f| f.name().clone());
        let renamed: Vec<Expr> = plan
            .schema()
            .columns()
            .into_iter()
            .zip(names)
            .map(|(column, name)| Expr::Column(column).alias(name))
            .collect();
        let plan = LogicalPlanBuilder::from(plan).project(renamed)?.build()?;
        Ok(Some(Self {
            plan,
            keys,
            of_last: last.is_some(),
            state: Box::new(state.clone()),
            columns,
            planner: None,
        }))
    }

    /// The plans of `count(DISTINCT last) … GROUP BY groups` over `table` (named as `schema`),
    /// whose keys' distinct rows (`groups`, then `last`) are counted per value of `groups`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn of_distinct_last(
        table: &Arc<dyn datafusion::catalog::TableProvider>,
        table_name: &str,
        filters: Vec<Expr>,
        groups: &[Expr],
        last: &Expr,
        schema: &datafusion::common::DFSchemaRef,
        columns: Vec<String>,
        session: &dyn datafusion::catalog::Session,
    ) -> Result<Option<Self>> {
        let count = datafusion::functions_aggregate::expr_fn::count_distinct(last.clone());
        let written = (groups.to_vec(), vec![count]);
        Self::build(
            table,
            table_name,
            filters,
            &written,
            schema,
            columns,
            session,
            Some(last),
        )
    }

    /// The fallback, planned by `planner` rather than the session's.
    pub(crate) fn planned_by(
        mut self,
        planner: Arc<dyn datafusion::execution::context::QueryPlanner + Send + Sync>,
    ) -> Self {
        self.planner = Some(planner);
        self
    }

    /// Whether the chosen files make the fallback the better plan: a text key's column chunk
    /// whose data pages are not all dictionary-encoded.
    fn applies(&self, files: &[FilePlan]) -> bool {
        use parquet::basic::Encoding;
        files.iter().any(|plan| {
            let metadata = plan.reader.metadata();
            self.columns.iter().any(|name| {
                let Some(&leaf) = plan.leaves.get(name) else {
                    return false;
                };
                plan.row_groups.iter().any(|&rg| {
                    let chunk = metadata.row_group(rg).column(leaf);
                    chunk.dictionary_page_offset().is_none()
                        || chunk.page_encoding_stats_mask().is_some_and(|mask| {
                            !(mask.is_only(Encoding::PLAIN_DICTIONARY)
                                || mask.is_only(Encoding::RLE_DICTIONARY))
                        })
                })
            })
        })
    }

    /// Whether it applies to `scan`'s files, read from their footers now (at planning: a
    /// worker's partial state cannot fall back, so a coordinator decides before it splits).
    pub(crate) async fn applies_to(&self, scan: &DenseScan, context: &TaskContext) -> Result<bool> {
        let store = context.runtime_env().object_store(&scan.store_url)?;
        let metrics = ExecutionPlanMetricsSet::new();
        let files = plan_files(scan, &store, context, &metrics).await?;
        Ok(self.applies(&files))
    }

    /// DataFusion's physical plan for the answer, over `scan`'s chosen files.
    pub(crate) async fn plan(
        &self,
        table: &str,
        files: &[PartitionedFile],
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.state(table, files)
            .create_physical_plan(&self.plan)
            .await
    }

    /// The session the fallback plans in: without Minerva's aggregation rules (DataFusion's
    /// own plan, all the way down), planned by Minerva's planner alone (a planner wrapping it,
    /// such as a cluster's, plans the whole query), reading `files` of `table` (as chosen).
    fn state(&self, table: &str, files: &[PartitionedFile]) -> datafusion::execution::SessionState {
        // Without Minerva's aggregation rules: DataFusion's own plan, all the way down.
        let rules: Vec<_> = self
            .state
            .optimizers()
            .iter()
            .filter(|rule| {
                !matches!(
                    rule.name(),
                    "dense_aggregation"
                        | "minerva_aggregate_below_join"
                        | "minerva_aggregate_through_union"
                        | "minerva_join_as_lookup"
                )
            })
            .cloned()
            .collect();
        // The files this scan chose: chosen, counted and checked against the guardrails once.
        let config =
            self.state
                .config()
                .clone()
                .with_extension(Arc::new(crate::scan::ChosenFiles::new(
                    table.to_string(),
                    files.to_vec(),
                )));
        let mut builder =
            datafusion::execution::session_state::SessionStateBuilder::new_from_existing(
                self.state.as_ref().clone(),
            )
            .with_config(config)
            .with_optimizer_rules(rules);
        if let Some(planner) = &self.planner {
            builder = builder.with_query_planner(Arc::clone(planner));
        }
        builder.build()
    }

    /// Plans and runs the fallback over `files` of `table`, answering `schema`: only when it
    /// applies, so other queries pay nothing for it.
    pub(crate) async fn run(
        &self,
        table: &str,
        files: &[PartitionedFile],
        schema: &SchemaRef,
        context: Arc<TaskContext>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> Result<Vec<RecordBatch>> {
        let state = self.state(table, files);
        if let Some(keys) = &self.keys {
            let input = state.create_physical_plan(keys).await?;
            let schema = Arc::clone(schema);
            let distinct = if self.of_last {
                super::distinct::distinct_counts_of_last(input, &schema, Arc::clone(&context))
                    .await?
            } else {
                super::distinct::distinct_rows(input, &schema, Arc::clone(&context)).await?
            };
            if let Some(batches) = distinct {
                // EXPLAIN ANALYZE says so: `partitioned_distinct_rows=N`.
                let rows = batches.iter().map(RecordBatch::num_rows).sum();
                MetricBuilder::new(metrics)
                    .global_counter("partitioned_distinct_rows")
                    .add(rows);
                return Ok(batches);
            }
            // The memory pool refused the distinct rows: DataFusion's aggregation spills.
        }
        let physical = state.create_physical_plan(&self.plan).await?;
        datafusion::physical_plan::collect(physical, context).await
    }
}

/// Whether `expr` is `count(*)` (or `count` of a non-null literal), unfiltered: a count of
/// rows per group.
pub(crate) fn counts_rows(expr: &Expr) -> bool {
    match expr {
        Expr::Alias(alias) => counts_rows(&alias.expr),
        Expr::AggregateFunction(f) => {
            f.func.name() == "count"
                && !f.params.distinct
                && f.params.filter.is_none()
                && matches!(
                    f.params.args.as_slice(),
                    [Expr::Literal(value, _)] if !value.is_null()
                )
        }
        _ => false,
    }
}

impl DenseScan {
    /// Whether its files are in a remote store (every request waits a round trip).
    fn is_remote(&self) -> bool {
        is_remote(&self.store_url)
    }

    /// The columns read for keys, text filters and aggregates, each flagged `true` if it is
    /// read as text (a dictionary).
    fn columns_besides_row_filter(&self) -> Vec<(String, bool)> {
        let mut columns: Vec<(String, bool)> = Vec::new();
        let mut add = |name: &String, text: bool| match columns.iter_mut().find(|(c, _)| c == name)
        {
            Some((_, flag)) => *flag |= text,
            None => columns.push((name.clone(), text)),
        };
        for key in &self.text_keys {
            match &key.derived {
                None => add(&key.column, true),
                Some(derived) => add(&derived.column, derived.per == Per::Entry),
            }
        }
        for filter in &self.text_filters {
            add(&filter.column, true);
        }
        if let Some(column) = &self.integer_key {
            add(column, false);
        }
        for plan in &self.aggregates {
            for column in plan.aggregate.operand_columns() {
                add(column, false);
            }
            match &plan.condition {
                Some(PlannedCondition::Text(filter)) => add(&filter.column, true),
                Some(PlannedCondition::Row(filter)) => {
                    for field in filter.schema.fields() {
                        add(field.name(), false);
                    }
                }
                _ => {}
            }
        }
        columns
    }

    /// The columns read by the text keys `keys` keeps (a derived key: its column), the text
    /// filters if `filters`, the integer key, the row filter, the aggregates' conditions and,
    /// if `operands`, their operands.
    fn columns_read_by(
        &self,
        keys: impl Fn(&EntryKey) -> bool,
        filters: bool,
        operands: bool,
    ) -> Vec<&String> {
        let mut read: Vec<&String> = Vec::new();
        for key in self.text_keys.iter().filter(|k| keys(k)) {
            read.push(key.derived.as_ref().map_or(&key.column, |d| &d.column));
        }
        if filters {
            read.extend(self.text_filters.iter().map(|f| &f.column));
        }
        read.extend(&self.integer_key);
        read.extend(
            self.row_filter
                .iter()
                .flat_map(|f| f.schema.fields().iter().map(|f| f.name())),
        );
        for plan in &self.aggregates {
            if operands {
                read.extend(plan.aggregate.operand_columns());
            }
            match &plan.condition {
                Some(PlannedCondition::Text(filter)) => read.push(&filter.column),
                Some(PlannedCondition::Row(filter)) => {
                    read.extend(filter.schema.fields().iter().map(|f| f.name()))
                }
                _ => {}
            }
        }
        read
    }

    /// The columns read only as aggregates' operands (no key, filter or condition reads them).
    fn aggregate_only_columns(&self) -> Vec<String> {
        let others = self.columns_read_by(|_| true, true, false);
        let mut only: Vec<String> = Vec::new();
        for plan in &self.aggregates {
            for c in plan.aggregate.operand_columns() {
                if !others.contains(&c) && !only.contains(c) {
                    only.push(c.clone());
                }
            }
        }
        only
    }

    /// The column whose group keys are all functions constant within a bucket of its values
    /// (an hour of a timestamp, a day of a date: see [`Per::Bucket`]) and that nothing else
    /// reads, and the bucket's width. Where a page's values all fall in one bucket (its page
    /// index says so), the keys of its rows are known without decoding it.
    fn bucket_key(&self) -> Option<(String, i64)> {
        let mut found: Option<(&String, i64)> = None;
        for key in &self.text_keys {
            let Some(derived) = &key.derived else {
                continue;
            };
            let Per::Bucket(width) = derived.per else {
                continue;
            };
            match found {
                None => found = Some((&derived.column, width)),
                Some((column, w)) if column == &derived.column && w == width => {}
                Some(_) => return None,
            }
        }
        let (column, width) = found?;
        let bucketed = |key: &EntryKey| {
            key.derived
                .as_ref()
                .is_some_and(|d| matches!(d.per, Per::Bucket(_)))
        };
        let others = self.columns_read_by(|key| !bucketed(key), true, true);
        (!others.contains(&column)).then(|| (column.clone(), width))
    }

    /// The columns read only by text filters (no key, operand, condition or row filter reads
    /// them): where the reader applies the text filters first, they are not decoded again.
    fn filter_only_columns(&self) -> Vec<String> {
        let others = self.columns_read_by(|_| true, false, true);
        let mut only: Vec<String> = Vec::new();
        for filter in &self.text_filters {
            if !others.contains(&&filter.column) && !only.contains(&filter.column) {
                only.push(filter.column.clone());
            }
        }
        only
    }

    /// Every file column read: those above, then those only the row filter reads.
    fn columns(&self) -> Vec<(String, bool)> {
        let mut columns = self.columns_besides_row_filter();
        for field in self.row_filter.iter().flat_map(|f| f.schema.fields()) {
            if !columns.iter().any(|(c, _)| c == field.name()) {
                columns.push((field.name().clone(), false));
            }
        }
        columns
    }

    /// True when a `count(*)` per partition key is all there is: row group metadata answers.
    fn metadata_answers(&self) -> bool {
        self.text_keys.is_empty()
            && self.integer_key.is_none()
            && self.text_filters.is_empty()
            && self.row_filter.is_none()
            && self.aggregates.iter().all(|a| a.aggregate.counts_rows())
    }
}

/// Runs a [`DenseScan`]: one output partition, the workers inside.
#[derive(Debug)]
pub(crate) struct DenseAggregateExec {
    scan: Arc<DenseScan>,
    role: Role,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

/// What a [`DenseAggregateExec`] emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The answer.
    Whole,
    /// Its groups' states over its files, for a merge to finish (see [`state_schema`]).
    Partial,
}

impl DenseAggregateExec {
    /// The answer of `scan`.
    pub(crate) fn new(scan: DenseScan) -> Self {
        Self::with_role(scan, Role::Whole)
    }

    /// The groups' states of `scan` over its files: never a fallback's rows (they do not
    /// merge), so a partial has none.
    pub(crate) fn partial(mut scan: DenseScan) -> Self {
        scan.fallback = None;
        Self::with_role(scan, Role::Partial)
    }

    fn with_role(scan: DenseScan, role: Role) -> Self {
        let schema = match role {
            Role::Whole => Arc::clone(&scan.schema),
            Role::Partial => state_schema(&scan),
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Self {
            scan: Arc::new(scan),
            role,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    pub(crate) fn scan(&self) -> &Arc<DenseScan> {
        &self.scan
    }

    pub(crate) fn role(&self) -> Role {
        self.role
    }
}

impl DisplayAs for DenseAggregateExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 3;
        let files = &self.scan.files;
        let shown: Vec<String> = files
            .iter()
            .take(SHOWN)
            .map(|file| file.object_meta.location.to_string())
            .collect();
        let more = match files.len().saturating_sub(SHOWN) {
            0 => String::new(),
            n => format!(" … and {n} more"),
        };
        let mode = match self.role {
            Role::Whole => "",
            Role::Partial => "mode=partial, ",
        };
        write!(
            f,
            "DenseAggregateExec: {mode}{}, files={} [{}{more}]",
            self.scan.description,
            files.len(),
            shown.join(", "),
        )?;
        if let Some(pruning) = &self.scan.pruning {
            write!(f, ", pruning_predicate={}", pruning.predicate_expr())?;
        }
        Ok(())
    }
}

impl ExecutionPlan for DenseAggregateExec {
    fn name(&self) -> &'static str {
        "DenseAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        let filters = self.scan.text_filters.iter().map(|t| &t.predicate);
        let rows = self.scan.row_filter.iter().map(|r| &r.predicate);
        for expr in self.scan.partition_keys.iter().chain(filters).chain(rows) {
            if f(expr)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        _partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let scan = Arc::clone(&self.scan);
        let batches = futures::stream::once(run(scan, self.role, context, self.metrics.clone()))
            .map_ok(|batches| futures::stream::iter(batches.into_iter().map(Ok)))
            .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            batches,
        )))
    }
}

/// One file, ready to read.
struct FilePlan {
    file: PartitionedFile,
    reader: ArrowReaderMetadata,
    mask: ProjectionMask,
    /// The row groups to read: those the statistics do not rule out.
    row_groups: Vec<usize>,
    /// Of those, the ones whose page index rules out some pages: the rows left to read (in
    /// runs of whole pages).
    selections: HashMap<usize, RowSelection>,
    /// The columns the row filter reads.
    filter_mask: ProjectionMask,
    /// The text filters whose columns the file has, and those columns (see [`Selectivity`]).
    text_filters: (Vec<usize>, ProjectionMask),
    /// The file's columns only text filters read: not decoded again where the reader
    /// applies the filters first (`mask_filtered_first` leaves them out).
    filter_only: Vec<String>,
    mask_filtered_first: ProjectionMask,
    partition: Vec<ScalarValue>,
    /// Per aggregate with a condition on partition columns, its answer for this file.
    conditions: Vec<Option<bool>>,
    /// Leaf index of each column whose statistics hint integer ranges.
    leaves: HashMap<String, usize>,
    /// The `bigint` columns only aggregates read, with their leaves: decoded from their pages
    /// here ([`Int64Pages`]) where no row filter applies, else by the reader.
    int64s: Vec<(String, usize)>,
    /// `mask` without the `int64s`.
    mask_without_int64s: ProjectionMask,
    /// The columns `mask` reads.
    read: Vec<String>,
    /// The bucket key's column ([`DenseScan::bucket_key`]) and, per row group where some of
    /// its pages hold one bucket each, its rows in runs of pages.
    buckets: Option<(String, HashMap<usize, Vec<BucketRun>>)>,
}

impl FilePlan {
    /// The byte ranges of row group `rg` its read needs, to fetch ahead of it: the pages its
    /// selection leaves of the columns read, but of the bucket key's column only those of
    /// runs of more than one bucket.
    fn ranges_ahead(&self, rg: usize) -> Vec<std::ops::Range<u64>> {
        let metadata = self.reader.metadata();
        let selection = self.selections.get(&rg);
        // (Where text filters may be applied first, the key's column is read whole: see
        // `Worker::read_row_group`.)
        let runs = (self.buckets.as_ref())
            .filter(|_| self.text_filters.0.is_empty())
            .and_then(|(column, runs)| Some((column, runs.get(&rg)?)));
        // The row filter's columns and the text filters': cached a batch at a time.
        let filtered = [&self.filter_mask, &self.text_filters.1];
        let Some((column, runs)) = runs else {
            let masks = [&self.mask, &self.filter_mask];
            return selected_ranges(metadata, rg, &masks, selection, &filtered, BATCH_ROWS);
        };
        let others = self.mask_of(|c| c != column);
        let masks = [&others, &self.filter_mask];
        let mut ranges = selected_ranges(metadata, rg, &masks, selection, &filtered, BATCH_ROWS);
        let rows = usize::try_from(metadata.row_group(rg).num_rows()).unwrap_or_default();
        let undecided = RowSelection::from_consecutive_ranges(
            (runs.iter().filter(|run| run.value.is_none())).map(|run| run.rows.clone()),
            rows,
        );
        let undecided = match selection {
            Some(selection) => selection.intersection(&undecided),
            None => undecided,
        };
        if undecided.selects_any() {
            let key = self.mask_of(|c| c == column);
            ranges.extend(selected_ranges(
                metadata,
                rg,
                &[&key],
                Some(&undecided),
                &[],
                1,
            ));
        }
        merged(ranges)
    }

    /// The mask of the columns read that `keep` keeps.
    fn mask_of(&self, keep: impl Fn(&str) -> bool) -> ProjectionMask {
        let descr = self.reader.metadata().file_metadata().schema_descr();
        ProjectionMask::columns(
            descr,
            self.read.iter().map(String::as_str).filter(|c| keep(c)),
        )
    }
}

/// Consecutive rows of a row group whose pages of the bucket key's column either all hold
/// values of one bucket (`value`: one of them) or not.
#[derive(Debug, Clone, PartialEq)]
struct BucketRun {
    rows: std::ops::Range<usize>,
    value: Option<i64>,
}

/// The most runs a row group is read in (each run is read by a reader of its own).
const MAX_BUCKET_RUNS: usize = 32;

/// Per row group of `row_groups` where some pages of column `leaf` hold values of one bucket
/// of `width` each (no nulls; their page index says so), its rows as runs of such pages (of
/// one bucket) and of other pages. Nothing for a file without a page index, a column of
/// another physical type than 32- or 64-bit integers, or a row group of too many runs.
fn bucket_runs(
    metadata: &ParquetMetaData,
    row_groups: &[usize],
    leaf: usize,
    width: i64,
) -> HashMap<usize, Vec<BucketRun>> {
    use parquet::file::page_index::column_index::ColumnIndexMetaData;
    let mut found = HashMap::new();
    let (Some(indexes), Some(offsets)) = (metadata.column_index(), metadata.offset_index()) else {
        return found;
    };
    let bucket = |v: i64| v.div_euclid(width);
    for &rg in row_groups {
        let (Some(index), Some(offsets)) = (
            indexes.get(rg).and_then(|c| c.get(leaf)),
            offsets.get(rg).and_then(|c| c.get(leaf)),
        ) else {
            continue;
        };
        let pages = offsets.page_locations();
        // An index of as many pages as the offset index lists (else it is not trusted).
        let pages_listed = match index {
            ColumnIndexMetaData::INT64(ix) => ix.num_pages(),
            ColumnIndexMetaData::INT32(ix) => ix.num_pages(),
            _ => continue,
        };
        if usize::try_from(pages_listed).ok() != Some(pages.len()) {
            continue;
        }
        // (Read with `get`: a corrupt index is no index, never a panic.)
        let nulls = index.null_counts();
        let page_value = |i: usize| -> Option<i64> {
            if nulls?.get(i) != Some(&0) {
                return None;
            }
            let (lo, hi) = match index {
                ColumnIndexMetaData::INT64(ix) => {
                    (*ix.min_values().get(i)?, *ix.max_values().get(i)?)
                }
                ColumnIndexMetaData::INT32(ix) => (
                    i64::from(*ix.min_values().get(i)?),
                    i64::from(*ix.max_values().get(i)?),
                ),
                _ => return None,
            };
            (bucket(lo) == bucket(hi)).then_some(lo)
        };
        let rows = usize::try_from(metadata.row_group(rg).num_rows()).unwrap_or(0);
        let mut runs: Vec<BucketRun> = Vec::new();
        for (i, page) in pages.iter().enumerate() {
            let start = usize::try_from(page.first_row_index).unwrap_or(usize::MAX);
            let end = pages.get(i + 1).map_or(rows, |next| {
                usize::try_from(next.first_row_index).unwrap_or(usize::MAX)
            });
            let value = page_value(i);
            match runs.last_mut() {
                Some(last)
                    if last.rows.end == start && last.value.map(bucket) == value.map(bucket) =>
                {
                    last.rows.end = end
                }
                _ => runs.push(BucketRun {
                    rows: start..end,
                    value,
                }),
            }
        }
        // Runs that cover the row group in order, from its first row to its last.
        let covers = runs.first().is_some_and(|r| r.rows.start == 0)
            && runs.last().is_some_and(|r| r.rows.end == rows)
            && runs.windows(2).all(|w| w[0].rows.end == w[1].rows.start)
            && runs.iter().all(|r| r.rows.start < r.rows.end);
        if covers && runs.len() <= MAX_BUCKET_RUNS && runs.iter().any(|r| r.value.is_some()) {
            found.insert(rg, runs);
        }
    }
    found
}

/// `rows` copies of `value` as an array of `ty` (a type stored as 32- or 64-bit integers).
fn repeated(value: i64, ty: &DataType, rows: usize) -> Result<ArrayRef> {
    let data = match ty.primitive_width() {
        Some(8) => Int64Array::from_value(value, rows).into_data(),
        Some(4) => {
            let value = i32::try_from(value).map_err(|e| DataFusionError::External(Box::new(e)))?;
            arrow::array::Int32Array::from_value(value, rows).into_data()
        }
        _ => {
            return Err(DataFusionError::Internal(format!(
                "a bucket key's column of type {ty}"
            )));
        }
    };
    Ok(arrow::array::make_array(
        data.into_builder().data_type(ty.clone()).build()?,
    ))
}

/// One worker: pulls row groups, decodes them and counts them, until none are left (long
/// by design: the steps of one row group in the order they happen).
async fn run(
    scan: Arc<DenseScan>,
    role: Role,
    context: Arc<TaskContext>,
    metrics: ExecutionPlanMetricsSet,
) -> Result<Vec<RecordBatch>> {
    let store = context.runtime_env().object_store(&scan.store_url)?;
    // DataFusion's reader: its byte-range requests and metrics, under our accounting store.
    let readers = Arc::new(DefaultParquetFileReaderFactory::new(Arc::clone(&store)));
    let files = plan_files(&scan, &store, &context, &metrics).await?;
    if let Some(fallback) = &scan.fallback
        && fallback.applies(&files)
    {
        // EXPLAIN ANALYZE says so: `hash_fallback=1`.
        MetricBuilder::new(&metrics)
            .global_counter("hash_fallback")
            .add(1);
        return fallback
            .run(&scan.table, &scan.files, &scan.schema, context, &metrics)
            .await;
    }
    let units: Vec<(usize, usize)> = files
        .iter()
        .enumerate()
        .flat_map(|(f, plan)| plan.row_groups.iter().map(move |&rg| (f, rg)))
        .collect();
    let (budget, limit) = budget_of(&scan, &context, "DenseAggregateExec");
    let fresh = || new_groups(&scan, &budget);

    let mut merged = fresh();
    if scan.metadata_answers() {
        for plan in &files {
            let id = merged.partition_id(plan.partition.clone());
            let rows: i64 = plan
                .reader
                .metadata()
                .row_groups()
                .iter()
                .map(|rg| rg.num_rows())
                .sum();
            merged.add_rows(id, rows.max(0) as u64);
        }
    } else {
        let hints = Arc::new(Hints::of(&scan, &files));
        // Over a remote store, row groups are fetched ahead of the workers, many at once.
        let ahead = scan.is_remote().then(|| {
            let options = MinervaOptions::of(context.session_config().options());
            let wanted = units
                .iter()
                .map(|&(f, rg)| Wanted {
                    location: files[f].file.object_meta.location.clone(),
                    ranges: files[f].ranges_ahead(rg),
                })
                .collect();
            Arc::new(ReadAhead::start(
                Arc::clone(&store),
                wanted,
                options.io_concurrency,
                options.read_ahead_bytes as u64,
            ))
        });
        let files = Arc::new(files);
        let units = Arc::new(units);
        let next = Arc::new(AtomicUsize::new(0));
        let workers = context
            .session_config()
            .target_partitions()
            .clamp(1, units.len().max(1));
        let tasks: Vec<SpawnedTask<Result<Groups>>> = (0..workers)
            .map(|_| {
                let (scan, files, units, next, ahead) = (
                    Arc::clone(&scan),
                    Arc::clone(&files),
                    Arc::clone(&units),
                    Arc::clone(&next),
                    ahead.clone(),
                );
                let (readers, metrics, hints, mut groups) = (
                    Arc::clone(&readers),
                    metrics.clone(),
                    Arc::clone(&hints),
                    fresh(),
                );
                // EXPLAIN ANALYZE: `text_filters_first=N` row groups.
                let filtered_first = (!scan.text_filters.is_empty())
                    .then(|| MetricBuilder::new(&metrics).global_counter("text_filters_first"));
                // EXPLAIN ANALYZE: `int64_pages_decoded=N` column chunks.
                let int64_pages = (files.iter().any(|f| !f.int64s.is_empty()))
                    .then(|| MetricBuilder::new(&metrics).global_counter("int64_pages_decoded"));
                // EXPLAIN ANALYZE: `key_runs_from_page_index=N` runs of pages whose key
                // column was not decoded.
                let key_runs = (files.iter().any(|f| f.buckets.is_some())).then(|| {
                    MetricBuilder::new(&metrics).global_counter("key_runs_from_page_index")
                });
                SpawnedTask::spawn(async move {
                    let mut worker = Worker {
                        readers,
                        hints,
                        metrics,
                        entry_columns: scan.entry_columns(),
                        entries: Vec::new(),
                        derived: Vec::new(),
                        masks: Vec::new(),
                        combos: Combos::default(),
                        selectivity: Arc::default(),
                        filtered_first,
                        int64_pages,
                        key_runs,
                    };
                    loop {
                        // The next row group: fetched ahead, or read now.
                        let (unit, fetched) = match &ahead {
                            Some(ahead) => match ahead.next().await {
                                Some((unit, fetched)) => (unit, Some(fetched)),
                                None => break,
                            },
                            None => match next.fetch_add(1, Ordering::Relaxed) {
                                unit if unit < units.len() => (unit, None),
                                _ => break,
                            },
                        };
                        let (f, rg) = units[unit];
                        let read_error = |e: DataFusionError| {
                            read_error(&scan, &files[f].file, Some(rg), e).into_datafusion()
                        };
                        let chunks = match fetched {
                            Some(Ok(fetched)) => Some(fetched),
                            Some(Err(e)) => return Err(read_error(e.into())),
                            None => None,
                        };
                        worker
                            .read_row_group(
                                &scan,
                                &files[f],
                                rg,
                                chunks.as_ref().map(|c| Arc::clone(&c.chunks)),
                                &mut groups,
                            )
                            .await
                            .map_err(read_error)?;
                        // Its share of the read-ahead budget is free once it is counted.
                        drop(chunks);
                        within_memory(&scan, groups.budget(), limit)?;
                    }
                    Ok(groups)
                })
            })
            .collect();
        for task in tasks {
            let groups = task
                .join_unwind()
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))??;
            merged.absorb(groups);
            within_memory(&scan, merged.budget(), limit)?;
        }
    }
    let batch_size = context.session_config().batch_size();
    match role {
        Role::Whole => merged.into_batches(&scan.outputs, &scan.schema, batch_size, scan.global),
        Role::Partial => {
            merged.into_states(&state_schema(&scan), scan.partition_keys.len(), batch_size)
        }
    }
}

/// The columns of a partial's states (see [`Groups::into_states`]): each partition key's and
/// text key's value (typed as the answer types it), the group's rows, its integer key's state,
/// and each aggregate's state.
pub(crate) fn state_schema(scan: &DenseScan) -> SchemaRef {
    let key_type = |wanted: Output| {
        (scan.outputs.iter())
            .position(|&o| o == wanted)
            .map_or(DataType::Null, |k| scan.schema.field(k).data_type().clone())
    };
    let mut fields = Vec::new();
    for i in 0..scan.partition_keys.len() {
        fields.push(Field::new(
            format!("partition_key_{i}"),
            key_type(Output::Partition(i)),
            true,
        ));
    }
    for i in 0..scan.text_keys.len() {
        fields.push(Field::new(
            format!("text_key_{i}"),
            key_type(Output::Text(i)),
            true,
        ));
    }
    fields.push(Field::new("rows", DataType::UInt64, true));
    fields.push(Field::new("integer_key", DataType::Binary, true));
    for a in 0..scan.aggregates.len() {
        fields.push(Field::new(format!("aggregate_{a}"), DataType::Binary, true));
    }
    Arc::new(Schema::new(fields))
}

/// The memory budget of `scan`'s groups in `context`'s pool (registered as `operator`), and
/// the pool's limit.
pub(crate) fn budget_of(
    scan: &DenseScan,
    context: &TaskContext,
    operator: &str,
) -> (Arc<Budget>, Option<usize>) {
    let reservation =
        MemoryConsumer::new(format!("{operator}[{}]", scan.table)).register(context.memory_pool());
    let limit = match context.memory_pool().memory_limit() {
        MemoryLimit::Finite(bytes) => Some(bytes),
        _ => None,
    };
    // Arrays take at most half of a memory limit: the rest is room for the hash maps that
    // replace them past it.
    let arrays = limit.map_or(DENSE_BUDGET, |bytes| DENSE_BUDGET.min(bytes / 2));
    (Arc::new(Budget::in_pool(arrays, reservation)), limit)
}

/// Empty groups for `scan`'s keys and aggregates.
pub(crate) fn new_groups(scan: &DenseScan, budget: &Arc<Budget>) -> Groups {
    let aggregates: Vec<Aggregate> = (scan.aggregates.iter())
        .map(|a| a.aggregate.clone())
        .collect();
    Groups::new(
        scan.text_keys.len(),
        scan.integer_key.is_some(),
        &aggregates,
        Arc::clone(budget),
    )
}

/// Fails the query once the memory pool refused the aggregation a reservation: it holds what
/// the limit allows and needs more.
pub(crate) fn within_memory(scan: &DenseScan, budget: &Budget, limit: Option<usize>) -> Result<()> {
    let Some(asked) = budget.refused() else {
        return Ok(());
    };
    let limit = limit
        .map(|bytes| format!(" of {}", display_byte_size(bytes as u64)))
        .unwrap_or_default();
    Err(DataFusionError::ResourcesExhausted(format!(
        "the aggregation of table '{}' holds {} and needs {} more, past the memory limit{limit} (--memory-limit); raise the limit, or narrow the query (fewer days, fewer groups)",
        scan.table,
        display_byte_size(budget.held() as u64),
        display_byte_size(asked as u64),
    )))
}

/// Fetches every file's footer (through DataFusion's footer cache) and plans its reads.
async fn plan_files(
    scan: &DenseScan,
    store: &Arc<dyn ObjectStore>,
    context: &TaskContext,
    metrics: &ExecutionPlanMetricsSet,
) -> Result<Vec<FilePlan>> {
    let columns = scan.columns();
    let options = context.session_config().options();
    // A footer of a compacted file (tens of row groups, without its page index) fits in
    // 64 KiB; DataFusion's larger default also takes in the page index, unused here.
    let size_hint = options
        .execution
        .parquet
        .metadata_size_hint
        .map(|hint| hint.min(FOOTER_HINT));
    let concurrency = match scan.is_remote() {
        true => remote_footers_at_once(&MinervaOptions::of(options)),
        false => FOOTER_CONCURRENCY,
    };
    let stats = context.session_config().get_extension::<QueryStats>();
    let disk = match scan.is_remote() {
        true => context.session_config().get_extension::<DiskFooters>(),
        false => None,
    };
    let footers = FooterFetch {
        store: store.as_ref(),
        store_url: &scan.store_url,
        memory: context
            .runtime_env()
            .cache_manager
            .get_file_metadata_cache(),
        disk: disk.as_deref(),
        stats: stats.as_deref(),
        size_hint,
        // The page index is read only where a filter on a column may rule pages out, or a
        // key's pages may be known by their bounds.
        page_index: Some(
            match scan.page_pruning.is_some() || scan.bucket_key().is_some() {
                true => PageIndexPolicy::Optional,
                false => PageIndexPolicy::Skip,
            },
        ),
    };
    let plans = scan
        .files
        .iter()
        .map(|file| {
            let footers = &footers;
            let columns = &columns;
            async move {
                let metadata = footers
                    .fetch(&file.object_meta)
                    .await
                    .map_err(|e| read_error(scan, file, None, e).into_datafusion())?;
                plan_file(scan, file, metadata, columns, metrics)
            }
            .boxed()
        })
        .collect::<Vec<BoxFuture<'_, Result<FilePlan>>>>();
    futures::stream::iter(plans)
        .buffered(concurrency)
        .try_collect()
        .await
}

/// An error reading `file` (at `row_group`, if known), naming the table and the object.
fn read_error(
    scan: &DenseScan,
    file: &PartitionedFile,
    row_group: Option<usize>,
    error: DataFusionError,
) -> EngineError {
    EngineError::Table {
        table: scan.table.clone(),
        problem: TableProblem::Read {
            object: file.object_meta.location.to_string(),
            row_group,
            source: Box::new(EngineError::from(error)),
        },
    }
}

fn plan_file(
    scan: &DenseScan,
    file: &PartitionedFile,
    metadata: Arc<ParquetMetaData>,
    columns: &[(String, bool)],
    metrics: &ExecutionPlanMetricsSet,
) -> Result<FilePlan> {
    let file_metadata = metadata.file_metadata();
    let schema = parquet::arrow::parquet_to_arrow_schema(
        file_metadata.schema_descr(),
        file_metadata.key_value_metadata(),
    )?;
    // Text columns stored as strings are read as dictionaries: the keys the pages hold.
    let hinted: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| {
            let text = columns.iter().any(|(c, text)| *text && c == field.name());
            match field.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View if text => {
                    field.as_ref().clone().with_data_type(DataType::Dictionary(
                        Box::new(DataType::Int32),
                        Box::new(DataType::Utf8),
                    ))
                }
                _ => field.as_ref().clone(),
            }
        })
        .collect();
    let options = ArrowReaderOptions::new().with_schema(Arc::new(Schema::new(hinted)));
    let reader = ArrowReaderMetadata::try_new(Arc::clone(&metadata), options)?;
    // Each column read must read as the table declares it (a file's `user_id` stored as
    // strings is an error naming the file, never a cast to NULL).
    for (name, _) in columns {
        if let (Ok(stored), Ok(declared)) = (
            schema.field_with_name(name),
            scan.declared.field_with_name(name),
        ) {
            check_column(name, stored.data_type(), declared.data_type()).map_err(|mismatch| {
                EngineError::Table {
                    table: scan.table.clone(),
                    problem: TableProblem::ColumnType {
                        object: file.object_meta.location.to_string(),
                        mismatch,
                    },
                }
                .into_datafusion()
            })?;
        }
    }
    let descr = file_metadata.schema_descr();
    let present: Vec<&str> = columns
        .iter()
        .map(|(c, _)| c.as_str())
        .filter(|c| schema.field_with_name(c).is_ok())
        .collect();
    // Columns only the row filter reads are decoded by the reader's row filter, first: the
    // other columns are then decoded only where rows pass (late materialization).
    let filter_columns: Vec<&str> = scan
        .row_filter
        .iter()
        .flat_map(|f| f.schema.fields().iter().map(|field| field.name().as_str()))
        .filter(|c| present.contains(c))
        .collect();
    let elsewhere = scan.columns_besides_row_filter();
    let read: Vec<&str> = (present.iter().copied())
        .filter(|c| !filter_columns.contains(c) || elsewhere.iter().any(|(e, _)| e == c))
        .collect();
    let mask = ProjectionMask::columns(descr, read.iter().copied());
    let filter_mask = ProjectionMask::columns(descr, filter_columns.iter().copied());
    let text_filtered: Vec<usize> = (0..scan.text_filters.len())
        .filter(|&f| present.contains(&scan.text_filters[f].column.as_str()))
        .collect();
    let text_columns = (text_filtered.iter()).map(|&f| scan.text_filters[f].column.as_str());
    let text_mask = ProjectionMask::columns(descr, text_columns);
    let text_filters = (text_filtered, text_mask);
    let filter_only: Vec<String> = (scan.filter_only_columns().into_iter())
        .filter(|c| present.contains(&c.as_str()))
        .collect();
    let mask_filtered_first = ProjectionMask::columns(
        descr,
        (read.iter().copied()).filter(|c| !filter_only.iter().any(|f| f == c)),
    );
    let leaves: HashMap<String, usize> = descr
        .columns()
        .iter()
        .enumerate()
        .filter(|(_, leaf)| leaf.path().parts().len() == 1)
        .map(|(i, leaf)| (leaf.name().to_string(), i))
        .collect();
    let int64s: Vec<(String, usize)> = scan
        .aggregate_only_columns()
        .into_iter()
        .filter(|c| read.contains(&c.as_str()))
        .filter(|c| (schema.field_with_name(c)).is_ok_and(|f| f.data_type() == &DataType::Int64))
        .filter_map(|c| leaves.get(&c).copied().map(|leaf| (c, leaf)))
        .collect();
    let mask_without_int64s = ProjectionMask::columns(
        descr,
        (read.iter().copied()).filter(|c| !int64s.iter().any(|(i, _)| i == c)),
    );
    let partition = partition_keys(scan, file)?;
    let conditions = partition_conditions(scan, file)?;
    let row_groups = row_groups_to_read(scan.pruning.as_deref(), &metadata, &schema);
    let (row_groups, selections) = match &scan.page_pruning {
        Some(pages) => {
            let metrics = ParquetFileMetrics::new(0, file.object_meta.location.as_ref(), metrics);
            pages_to_read(pages, row_groups, &metadata, &schema, &metrics)
        }
        None => (row_groups, HashMap::new()),
    };
    // Columns of 32- or 64-bit integer values only (timestamps, dates).
    let buckets = scan.bucket_key().and_then(|(column, width)| {
        let leaf = *leaves.get(&column)?;
        let stored = reader.schema().field_with_name(&column).ok()?.data_type();
        let declared = scan.declared.field_with_name(&column).ok()?.data_type();
        // The bucket's width in the unit the pages hold (an hour: whole seconds in any unit).
        let width = match (stored, declared) {
            (DataType::Timestamp(stored, _), DataType::Timestamp(declared, _)) => {
                let per_second = |unit: &TimeUnit| match unit {
                    TimeUnit::Second => 1_i64,
                    TimeUnit::Millisecond => 1_000,
                    TimeUnit::Microsecond => 1_000_000,
                    TimeUnit::Nanosecond => 1_000_000_000,
                };
                let scaled = width.checked_mul(per_second(stored))?;
                (scaled % per_second(declared) == 0).then(|| scaled / per_second(declared))?
            }
            (DataType::Date32, DataType::Date32) => width,
            _ => return None,
        };
        let runs = bucket_runs(&metadata, &row_groups, leaf, width);
        (!runs.is_empty()).then_some((column, runs))
    });
    Ok(FilePlan {
        file: file.clone(),
        row_groups,
        selections,
        buckets,
        reader,
        mask,
        filter_mask,
        text_filters,
        filter_only,
        mask_filtered_first,
        partition,
        conditions,
        leaves,
        int64s,
        mask_without_int64s,
        read: read.iter().map(|c| c.to_string()).collect(),
    })
}

/// Of `row_groups` of a file (`metadata`, read as `schema`), those `pages` does not rule out,
/// and the rows left to read in each that it rules pages of out. A file without a page index
/// keeps them all, whole.
fn pages_to_read(
    pages: &PagePruningAccessPlanFilter,
    row_groups: Vec<usize>,
    metadata: &ParquetMetaData,
    schema: &Schema,
    metrics: &ParquetFileMetrics,
) -> (Vec<usize>, HashMap<usize, RowSelection>) {
    if metadata.offset_index().is_none() || metadata.column_index().is_none() {
        return (row_groups, HashMap::new());
    }
    let mut plan = ParquetAccessPlan::new_none(metadata.num_row_groups());
    for &rg in &row_groups {
        plan.scan(rg);
    }
    let descr = metadata.file_metadata().schema_descr();
    let plan = pages.prune_plan_with_page_index(plan, schema, descr, metadata, metrics);
    let mut kept = Vec::with_capacity(row_groups.len());
    let mut selections = HashMap::new();
    for (rg, access) in plan.into_inner().into_iter().enumerate() {
        match access {
            RowGroupAccess::Skip => {}
            RowGroupAccess::Scan => kept.push(rg),
            RowGroupAccess::Selection(selection) => {
                kept.push(rg);
                if selection.skipped_row_count() > 0 {
                    selections.insert(rg, selection);
                }
            }
        }
    }
    (kept, selections)
}

/// The file's partition values as a batch of one row.
fn partition_batch(scan: &DenseScan, file: &PartitionedFile) -> Result<RecordBatch> {
    let columns = file
        .partition_values
        .iter()
        .map(|v| v.to_array_of_size(1))
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(&scan.partition_schema),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )?)
}

/// The file's partition keys: each key expression over the file's partition values.
fn partition_keys(scan: &DenseScan, file: &PartitionedFile) -> Result<Vec<ScalarValue>> {
    let batch = partition_batch(scan, file)?;
    scan.partition_keys
        .iter()
        .map(|key| {
            let value = key.evaluate(&batch)?.into_array(1)?;
            ScalarValue::try_from_array(&value, 0)
        })
        .collect()
}

/// Each aggregate's condition on partition columns, answered for the file (null: false).
fn partition_conditions(scan: &DenseScan, file: &PartitionedFile) -> Result<Vec<Option<bool>>> {
    let batch = partition_batch(scan, file)?;
    scan.aggregates
        .iter()
        .map(|plan| match &plan.condition {
            Some(PlannedCondition::Partition(predicate)) => {
                let value = predicate.evaluate(&batch)?.into_array(1)?;
                let holds = value
                    .as_boolean_opt()
                    .is_some_and(|b| b.is_valid(0) && b.value(0));
                Ok(Some(holds))
            }
            _ => Ok(None),
        })
        .collect()
}

/// The ranges the statistics promise for the integer key and each count's input, over every
/// file the query reads: arrays are sized once, not grown file by file.
#[derive(Debug, Default)]
struct Hints {
    key: Range,
    inputs: Vec<Range>,
}

impl Hints {
    fn of(scan: &DenseScan, files: &[FilePlan]) -> Self {
        let union = |column: &Option<String>| {
            let column = column.as_ref()?;
            files.iter().try_fold(None, |range: Range, plan| {
                let (lo, hi) = range_of(plan.reader.metadata(), plan.leaves.get(column).copied())?;
                Some(Some(
                    range.map_or((lo, hi), |(l, h)| (lo.min(l), hi.max(h))),
                ))
            })?
        };
        Self {
            key: union(&scan.integer_key),
            inputs: scan
                .aggregates
                .iter()
                .map(|plan| match plan.aggregate.measure {
                    Measure::Distinct => union(&plan.aggregate.then.column().cloned()),
                    _ => None,
                })
                .collect(),
        }
    }
}

/// The range an integer column's statistics promise over one file.
fn range_of(metadata: &ParquetMetaData, leaf: Option<usize>) -> Option<(i64, i64)> {
    let leaf = leaf?;
    metadata.row_groups().iter().try_fold(None, |range, rg| {
        let (lo, hi) = match rg.column(leaf).statistics()? {
            Statistics::Int32(s) => (i64::from(*s.min_opt()?), i64::from(*s.max_opt()?)),
            Statistics::Int64(s) => (*s.min_opt()?, *s.max_opt()?),
            _ => return None,
        };
        Some(Some(match range {
            None => (lo, hi),
            Some((l, h)) => (lo.min(l), hi.max(h)),
        }))
    })?
}

/// A worker's per-dictionary caches: a dictionary is checked or coded once, not per row.
struct Worker {
    readers: Arc<DefaultParquetFileReaderFactory>,
    hints: Arc<Hints>,
    metrics: ExecutionPlanMetricsSet,
    entry_columns: Vec<EntryColumnPlan>,
    /// Per entry column: the dictionary last seen and its entries' values (see
    /// [`entry_values`]).
    entries: Vec<Option<(ArrayRef, Vec<u32>)>>,
    /// Per entry column, what its derived key keeps between batches.
    derived: Vec<DerivedCache>,
    /// Per aggregate with a text condition: the dictionary last seen and whether each entry
    /// (the last: null) passes.
    masks: Vec<Option<(ArrayRef, Vec<bool>)>>,
    combos: Combos,
    /// What its text filters did where the reader applied them (rows seen, kept, runs).
    selectivity: Arc<Selectivity>,
    /// Row groups read with the text filters applied first.
    filtered_first: Option<Count>,
    /// Column chunks decoded by [`Int64Pages`].
    int64_pages: Option<Count>,
    /// Runs of pages whose bucket key was known from the page index.
    key_runs: Option<Count>,
}

/// What a worker's text filters did where the reader applied them first: the rows they saw,
/// kept, and the runs of kept or dropped rows those make.
///
/// Applied first, a filter's answer is a row selection the reader decodes the other columns
/// by: it skips the dropped runs without decoding them where runs are long (on average at least
/// [`Selectivity::SKIPPED_RUN`] rows: the reader's own rule for skipping rather than decoding
/// everything and filtering), so that pays where the filter drops most rows in long runs (one
/// event type in a hundred; a region, on rows by listing). Where runs are short (one row in ten,
/// scattered) or most rows pass, checking each row's entry after decoding is cheaper: the
/// worker stops (until it has seen a row group, it tries).
#[derive(Debug, Default)]
struct Selectivity {
    seen: AtomicU64,
    kept: AtomicU64,
    runs: AtomicU64,
}

impl Selectivity {
    /// The parquet reader's default (`RowSelectionPolicy::Auto`): below it, it decodes all.
    const SKIPPED_RUN: u64 = 32;

    fn filters_first(&self) -> bool {
        let seen = self.seen.load(Ordering::Relaxed);
        let kept = self.kept.load(Ordering::Relaxed);
        let runs = self.runs.load(Ordering::Relaxed);
        seen == 0 || (kept * 2 <= seen && runs * Self::SKIPPED_RUN <= seen)
    }

    fn add(&self, kept: &BooleanBuffer) {
        let rows = kept.len();
        let changes = match rows {
            0 => 0,
            _ => (&kept.slice(0, rows - 1) ^ &kept.slice(1, rows - 1)).count_set_bits(),
        };
        self.seen.fetch_add(rows as u64, Ordering::Relaxed);
        self.kept
            .fetch_add(kept.count_set_bits() as u64, Ordering::Relaxed);
        self.runs.fetch_add(changes as u64 + 1, Ordering::Relaxed);
    }
}

/// The reader's predicate for the text filters `filters` of `scan` (over the columns `mask`
/// reads): each dictionary entry is checked once per dictionary, each row looks its entry up.
fn text_predicate(
    scan: &Arc<DenseScan>,
    (filters, mask): &(Vec<usize>, ProjectionMask),
    selectivity: &Arc<Selectivity>,
) -> Box<dyn ArrowPredicate> {
    let (scan, filters, selectivity) = (Arc::clone(scan), filters.clone(), Arc::clone(selectivity));
    // Per filter: the dictionary last seen and whether each entry (the last: null) passes.
    let mut cache: Vec<Option<(ArrayRef, Vec<bool>)>> = vec![None; filters.len()];
    Box::new(ArrowPredicateFn::new(mask.clone(), move |batch| {
        let mut kept = BooleanBuffer::new_set(batch.num_rows());
        for (&f, cache) in filters.iter().zip(&mut cache) {
            let filter = &scan.text_filters[f];
            let passes = entry_passes(filter, &batch, cache)
                .map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
            kept = &kept & &passes;
        }
        selectivity.add(&kept);
        Ok(BooleanArray::new(kept, None))
    }))
}

/// The rows of `batch` whose entry passes `filter`, `cache` holding the entries' answers for
/// the dictionary last seen.
fn entry_passes(
    filter: &TextFilter,
    batch: &RecordBatch,
    cache: &mut Option<(ArrayRef, Vec<bool>)>,
) -> Result<BooleanBuffer> {
    let dict = dictionary(batch, &filter.column)?;
    if cache
        .as_ref()
        .is_none_or(|(values, _)| !same_dictionary(values, dict.values()))
    {
        *cache = Some((Arc::clone(dict.values()), entry_mask(filter, &dict)?));
    }
    let passes = &cache.as_ref().expect("filled above").1;
    let keys = dict.keys();
    // Every slot's key looked up (a null slot's key may be anything: it reads as failing),
    // then the null slots set to what a null gets.
    let values = keys.values();
    let looked_up = BooleanBuffer::collect_bool(values.len(), |i| {
        passes.get(values[i] as usize).copied().unwrap_or(false)
    });
    Ok(match (keys.nulls(), passes[passes.len() - 1]) {
        (None, _) => looked_up,
        (Some(valid), false) => &looked_up & valid.inner(),
        (Some(valid), true) => &looked_up | &!valid.inner(),
    })
}

impl Worker {
    async fn read_row_group(
        &mut self,
        scan: &Arc<DenseScan>,
        plan: &FilePlan,
        rg: usize,
        fetched: Option<Chunks>,
        groups: &mut Groups,
    ) -> Result<()> {
        let partition = groups.partition_id(plan.partition.clone());
        let filters_first = !plan.text_filters.0.is_empty() && self.selectivity.filters_first();
        let metadata = plan.reader.metadata();
        let row_group = metadata.row_group(rg);
        let selection = plan.selections.get(&rg);
        // Where every row is read (no row filter), `bigint` operands are decoded here.
        let decoded = !filters_first
            && selection.is_none()
            && scan.row_filter.is_none()
            && !plan.int64s.is_empty()
            && (plan.int64s.iter()).all(|(_, leaf)| Int64Pages::decodes(row_group.column(*leaf)));
        // Runs of pages whose key is known from the page index, read one at a time: the
        // key's column is not decoded where a run's pages hold one bucket. Not where the text
        // filters are applied first: the key is then decoded only for the few rows that pass,
        // and a reader per run (each decoding the dictionaries again) costs more than it saves.
        let runs = (plan.buckets.as_ref())
            .filter(|_| !filters_first)
            .and_then(|(column, runs)| Some((column, runs.get(&rg)?)));
        let mut reader: Box<dyn AsyncFileReader> =
            self.readers
                .create_reader(0, plan.file.clone(), None, &self.metrics)?;
        let chunks = match fetched {
            Some(chunks) => Some(chunks),
            // One request for the row group's chunks, as the reader would make it (but for
            // the key's column where runs of its pages need not be decoded).
            None if decoded => {
                let mask = match runs {
                    Some((column, _)) => plan.mask_of(|c| c != column),
                    None => plan.mask.clone(),
                };
                let ranges = chunk_ranges(metadata, rg, &[&mask]);
                let bytes = reader.get_byte_ranges(ranges.clone()).await?;
                Some(Arc::new(ranges.into_iter().zip(bytes).collect()))
            }
            None => None,
        };
        let mut pages = Vec::new();
        if decoded {
            let rows = usize::try_from(row_group.num_rows()).unwrap_or_default();
            for (name, leaf) in &plan.int64s {
                let column = row_group.column(*leaf);
                let (start, length) = column.byte_range();
                let range = start..start + length;
                let bytes = match chunks.as_ref().and_then(|c| cut(c, &range)) {
                    Some(bytes) => bytes,
                    None => reader.get_bytes(range).await?,
                };
                let column = Int64Pages::new(name, column, bytes, rows)
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
                pages.push(column);
            }
            if let Some(count) = &self.int64_pages {
                count.add(pages.len());
            }
        }
        let mask = match (decoded, filters_first) {
            (true, _) => plan.mask_without_int64s.clone(),
            (false, true) => plan.mask_filtered_first.clone(),
            (false, false) => plan.mask.clone(),
        };
        // Each run in row order (so that decoded pages stay in step): its rows, and one value
        // of its bucket if its key's column is not read.
        let rows = usize::try_from(row_group.num_rows()).unwrap_or_default();
        let parts: Vec<(Option<RowSelection>, Option<i64>)> = match runs {
            None => vec![(selection.cloned(), None)],
            Some((_, runs)) => (runs.iter())
                .map(|run| {
                    let only = RowSelection::from_consecutive_ranges(
                        std::iter::once(run.rows.clone()),
                        rows,
                    );
                    let only = match selection {
                        Some(selection) => selection.intersection(&only),
                        None => only,
                    };
                    (Some(only), run.value)
                })
                .filter(|(only, _)| only.as_ref().is_none_or(RowSelection::selects_any))
                .collect(),
        };
        if filters_first && let Some(count) = &self.filtered_first {
            count.add(1);
        }
        let mut reader = Some(reader);
        for (only, value) in parts {
            let inner = match reader.take() {
                Some(reader) => reader,
                None => self
                    .readers
                    .create_reader(0, plan.file.clone(), None, &self.metrics)?,
            };
            let inner: Box<dyn AsyncFileReader> = match &chunks {
                Some(chunks) => Box::new(FetchedReader::new(Arc::clone(chunks), inner)),
                None => inner,
            };
            let key = match (value, runs) {
                (Some(value), Some((column, _))) => {
                    if let Some(count) = &self.key_runs {
                        count.add(1);
                    }
                    Some((column, value))
                }
                _ => None,
            };
            let mask = match key {
                Some((column, _)) => {
                    let without = plan.mask_of(|c| c != column);
                    let mut mask = mask.clone();
                    mask.intersect(&without);
                    mask
                }
                None => mask.clone(),
            };
            self.read_part(
                scan,
                plan,
                rg,
                inner,
                mask,
                only,
                key,
                filters_first,
                &mut pages,
                partition,
                groups,
            )
            .await?;
        }
        Ok(())
    }

    /// Reads rows `only` (all if `None`) of row group `rg` through `reader`, the columns of
    /// `mask`; `pages`: the `bigint` columns decoded here, in step; `key`: the bucket key's
    /// column, not read, and one value of the bucket all these rows' values fall in.
    #[expect(clippy::too_many_arguments)]
    async fn read_part(
        &mut self,
        scan: &Arc<DenseScan>,
        plan: &FilePlan,
        rg: usize,
        reader: Box<dyn AsyncFileReader>,
        mask: ProjectionMask,
        only: Option<RowSelection>,
        key: Option<(&String, i64)>,
        filters_first: bool,
        pages: &mut [Int64Pages],
        partition: u32,
        groups: &mut Groups,
    ) -> Result<()> {
        let decoded = !pages.is_empty();
        let mut builder =
            ParquetRecordBatchStreamBuilder::new_with_metadata(reader, plan.reader.clone())
                .with_projection(mask)
                .with_row_groups(vec![rg])
                .with_batch_size(BATCH_ROWS);
        if let Some(only) = only {
            builder = builder.with_row_selection(only);
        }
        let mut predicates: Vec<Box<dyn ArrowPredicate>> = Vec::new();
        if filters_first {
            predicates.push(text_predicate(scan, &plan.text_filters, &self.selectivity));
        }
        if scan.row_filter.is_some() {
            let scan = Arc::clone(scan);
            let predicate = ArrowPredicateFn::new(plan.filter_mask.clone(), move |batch| {
                let filter = scan.row_filter.as_ref().expect("checked above");
                row_filter(filter, &batch)
                    .map(|keep| BooleanArray::new(keep, None))
                    .map_err(|e| ArrowError::ExternalError(Box::new(e)))
            });
            predicates.push(Box::new(predicate));
        }
        if !predicates.is_empty() {
            builder = builder.with_row_filter(ParquetRowFilter::new(predicates));
        }
        let mut stream = builder.build()?;
        // The batches' columns, then the decoded ones, then the key's.
        let mut fields: Vec<FieldRef> = stream.schema().fields().iter().cloned().collect();
        for (name, _) in plan.int64s.iter().filter(|_| decoded) {
            fields.push(Arc::new(Field::new(name, DataType::Int64, true)));
        }
        let key_type = match key {
            Some((column, _)) => {
                let field = plan.reader.schema().field_with_name(column)?;
                fields.push(Arc::new(field.clone()));
                Some(field.data_type().clone())
            }
            None => None,
        };
        let schema = Arc::new(Schema::new(fields));
        let hints = Arc::clone(&self.hints);
        while let Some(mut batch) = stream.next().await.transpose()? {
            if decoded || key.is_some() {
                let rows = batch.num_rows();
                let mut columns = batch.columns().to_vec();
                for pages in pages.iter_mut() {
                    let array = (pages.next_batch(rows))
                        .map_err(|e| DataFusionError::External(Box::new(e)))?;
                    columns.push(Arc::new(array));
                }
                if let (Some((_, value)), Some(ty)) = (key, &key_type) {
                    columns.push(repeated(value, ty, rows)?);
                }
                let options = RecordBatchOptions::new().with_row_count(Some(rows));
                batch = RecordBatch::try_new_with_options(Arc::clone(&schema), columns, &options)?;
            }
            self.count_batch(scan, plan, &batch, partition, &hints, groups, filters_first)?;
        }
        Ok(())
    }

    /// Counts one batch of `plan`'s file; `filtered`: the reader applied the text filters (the
    /// batch holds only rows that pass them).
    #[expect(clippy::too_many_arguments)]
    fn count_batch(
        &mut self,
        scan: &DenseScan,
        plan: &FilePlan,
        batch: &RecordBatch,
        partition: u32,
        hints: &Hints,
        groups: &mut Groups,
        filtered: bool,
    ) -> Result<()> {
        self.derived
            .resize_with(self.entry_columns.len(), DerivedCache::default);
        // An entry column only the text filters read is left out where they were applied.
        let skipped: Vec<bool> = (self.entry_columns.iter())
            .map(|c| {
                filtered
                    && c.key.is_none()
                    && c.derived.is_none()
                    && plan.filter_only.contains(&c.name)
            })
            .collect();
        let dictionaries: Vec<Option<DictionaryArray<Int32Type>>> = self
            .entry_columns
            .iter()
            .zip(&mut self.derived)
            .zip(&skipped)
            .map(|((column, cache), &skipped)| match &column.derived {
                _ if skipped => Ok(None),
                None => dictionary(batch, &column.name).map(Some),
                Some(derived) => {
                    let declared = derived.schema.field(0).data_type();
                    let mut values = column_or_nulls(batch, &derived.column, declared);
                    // Times stored in another unit than declared are bucketed in the declared
                    // one (an hour of milliseconds is not an hour of microseconds).
                    if values.data_type() != declared
                        && matches!(values.data_type(), DataType::Timestamp(..))
                    {
                        values = arrow::compute::cast(&values, declared)?;
                    }
                    derived.dictionary(&values, cache).map(Some)
                }
            })
            .collect::<Result<_>>()?;
        self.entries.resize_with(self.entry_columns.len(), || None);
        for ((column, dict), cache) in self
            .entry_columns
            .iter()
            .zip(&dictionaries)
            .zip(&mut self.entries)
        {
            let Some(dict) = dict else { continue };
            let fresh = cache
                .as_ref()
                .is_none_or(|(values, _)| !same_dictionary(values, dict.values()));
            if fresh {
                let entries = entry_values(scan, column, dict, groups)?;
                *cache = Some((Arc::clone(dict.values()), entries));
            }
        }
        let integer = match &scan.integer_key {
            Some(c) => Some(integers(batch, c)?),
            None => None,
        };
        let rows = batch.num_rows();
        // Each aggregate's operands, read in its domain, and the rows its condition matches.
        let mut operands: Vec<(Option<ArrayRef>, Option<ArrayRef>)> = Vec::new();
        let mut matched: Vec<Option<BooleanBuffer>> = Vec::new();
        self.masks.resize_with(scan.aggregates.len(), || None);
        for (a, agg) in scan.aggregates.iter().enumerate() {
            if groups.is_shared(a) {
                operands.push((None, None));
                matched.push(None);
                continue;
            }
            let read = |operand: &Operand| -> Result<Option<ArrayRef>> {
                let Operand::Column(name) = operand else {
                    return Ok(None);
                };
                if agg.aggregate.measure == Measure::Count {
                    // Only nulls count: the column as it is.
                    return Ok(Some(column_or_nulls(batch, name, &DataType::Null)));
                }
                let ty = agg.aggregate.domain.read_type();
                Ok(Some(strict_cast(&column_or_nulls(batch, name, &ty), &ty)?))
            };
            operands.push((read(&agg.aggregate.then)?, read(&agg.aggregate.otherwise)?));
            matched.push(match &agg.condition {
                None => None,
                Some(PlannedCondition::Partition(_)) => match plan.conditions[a] {
                    Some(true) => None,
                    _ => Some(BooleanBuffer::new_unset(rows)),
                },
                Some(PlannedCondition::Text(filter)) => {
                    let dict = dictionary(batch, &filter.column)?;
                    let cache = &mut self.masks[a];
                    if cache
                        .as_ref()
                        .is_none_or(|(values, _)| !same_dictionary(values, dict.values()))
                    {
                        *cache = Some((Arc::clone(dict.values()), entry_mask(filter, &dict)?));
                    }
                    // Given per entry of the column's dictionary (an entry column).
                    None
                }
                Some(PlannedCondition::Row(filter)) => Some(row_filter(filter, batch)?),
            });
        }
        let inputs: Vec<Option<Input<'_>>> = scan
            .aggregates
            .iter()
            .zip(operands.iter().zip(matched))
            .zip(&hints.inputs)
            .enumerate()
            .map(|(a, ((agg, ((then, otherwise), matched)), hint))| {
                let count = agg.aggregate.measure == Measure::Count;
                let own = !agg.aggregate.counts_rows() && !groups.is_shared(a);
                let entries = match &agg.condition {
                    Some(PlannedCondition::Text(filter)) => {
                        let column = self
                            .entry_columns
                            .iter()
                            .position(|c| c.derived.is_none() && c.name == filter.column)
                            .expect("text conditions' columns are entry columns");
                        // Its place among the columns not left out (a condition's never is).
                        let column = column - skipped[..column].iter().filter(|&&s| s).count();
                        let mask = &self.masks[a].as_ref().expect("filled above").1;
                        Some((column, mask.as_slice()))
                    }
                    _ => None,
                };
                own.then(|| Input {
                    matched,
                    entries,
                    then: values_of(&agg.aggregate.then, then.as_ref(), count),
                    otherwise: values_of(&agg.aggregate.otherwise, otherwise.as_ref(), count),
                    hint: *hint,
                })
            })
            .collect();
        let input = BatchInput {
            rows,
            // The reader applied the row filter.
            keep: None,
            partition,
            columns: dictionaries
                .iter()
                .zip(&self.entries)
                .zip(&self.entry_columns)
                .filter_map(|((dict, cache), column)| {
                    Some(EntryColumn {
                        dict: dict.as_ref()?,
                        entries: &cache.as_ref().expect("just filled").1,
                        key: column.key,
                    })
                })
                .collect(),
            integer: integer.as_ref().map(|keys| (keys, hints.key)),
            inputs,
        };
        groups.update(&input, &mut self.combos);
        Ok(())
    }
}

/// An operand's values in a batch, from its column as read (if it reads one).
fn values_of<'a>(operand: &Operand, column: Option<&'a ArrayRef>, count: bool) -> Values<'a> {
    match (operand, column) {
        (Operand::Column(_), Some(array)) if count => Values::Any(array.as_ref()),
        (Operand::Constant(Number::Int(v)), _) => Values::Int(*v),
        (Operand::Constant(Number::Float(v)), _) => Values::Float(*v),
        (Operand::Column(_), Some(array)) => match array.data_type() {
            DataType::Int64 => Values::Ints(array.as_primitive()),
            DataType::Decimal128(..) => Values::Decimals(array.as_primitive()),
            DataType::Float64 => Values::Floats(array.as_primitive()),
            _ => Values::Null,
        },
        _ => Values::Null,
    }
}

/// A dictionary column that keys or filters rows.
struct EntryColumnPlan {
    name: String,
    /// Which text key it is, if any.
    key: Option<usize>,
    /// How its dictionary is computed, if it is a derived key.
    derived: Option<Arc<DerivedKey>>,
    /// The text filters on it.
    filters: Vec<usize>,
}

impl DenseScan {
    /// The text keys, then the other text-filtered columns, then the other columns of text
    /// conditions.
    fn entry_columns(&self) -> Vec<EntryColumnPlan> {
        let mut columns: Vec<EntryColumnPlan> = self
            .text_keys
            .iter()
            .enumerate()
            .map(|(k, key)| EntryColumnPlan {
                name: key.column.clone(),
                key: Some(k),
                derived: key.derived.clone(),
                filters: Vec::new(),
            })
            .collect();
        let mut entry_column = |name: &String| match columns
            .iter()
            .position(|c| c.derived.is_none() && &c.name == name)
        {
            Some(c) => c,
            None => {
                columns.push(EntryColumnPlan {
                    name: name.clone(),
                    key: None,
                    derived: None,
                    filters: Vec::new(),
                });
                columns.len() - 1
            }
        };
        let filtered: Vec<(usize, usize)> = (self.text_filters.iter().enumerate())
            .map(|(f, filter)| (entry_column(&filter.column), f))
            .collect();
        // Text conditions are decided per entry too (see `Groups::update_by_slot`).
        for plan in &self.aggregates {
            if let Some(PlannedCondition::Text(filter)) = &plan.condition {
                entry_column(&filter.column);
            }
        }
        for (c, f) in filtered {
            columns[c].filters.push(f);
        }
        columns
    }
}

/// Per dictionary entry (the last slot: null): its code in the column's text key (0 if the
/// column only filters), or [`FAIL`] where a filter rejects it.
fn entry_values(
    scan: &DenseScan,
    column: &EntryColumnPlan,
    dict: &DictionaryArray<Int32Type>,
    groups: &mut Groups,
) -> Result<Vec<u32>> {
    let mut entries: Vec<u32> = match column.key {
        Some(key) => {
            let budget = Arc::clone(groups.budget());
            let interner = &mut groups.texts[key];
            let (values, null) = match &column.derived {
                Some(derived) => (Arc::clone(dict.values()), derived.null.clone()),
                None => (
                    arrow::compute::cast(dict.values(), &DataType::Utf8)?,
                    ScalarValue::Utf8(None),
                ),
            };
            let mut codes = (0..values.len())
                .map(|i| Ok(interner.code(ScalarValue::try_from_array(&values, i)?, &budget)))
                .collect::<Result<Vec<u32>>>()?;
            codes.push(interner.code(null, &budget));
            codes
        }
        None => vec![0; dict.values().len() + 1],
    };
    for &f in &column.filters {
        let mask = entry_mask(&scan.text_filters[f], dict)?;
        for (entry, passes) in entries.iter_mut().zip(mask) {
            if !passes {
                *entry = FAIL;
            }
        }
    }
    Ok(entries)
}

/// A column of the batch, or nulls of `null_type` if the file lacks it.
fn column_or_nulls(batch: &RecordBatch, name: &str, null_type: &DataType) -> ArrayRef {
    batch
        .column_by_name(name)
        .cloned()
        .unwrap_or_else(|| new_null_array(null_type, batch.num_rows()))
}

/// A text column as a dictionary (files whose pages were not dictionary-encoded are encoded
/// here).
fn dictionary(batch: &RecordBatch, name: &str) -> Result<DictionaryArray<Int32Type>> {
    let dict_type = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let column = column_or_nulls(batch, name, &dict_type);
    let column = if column.data_type() == &dict_type {
        column
    } else {
        strict_cast(&column, &dict_type)?
    };
    Ok(column.as_dictionary::<Int32Type>().clone())
}

/// An integer column as Int64.
fn integers(batch: &RecordBatch, name: &str) -> Result<Int64Array> {
    let column = column_or_nulls(batch, name, &DataType::Int64);
    let column = strict_cast(&column, &DataType::Int64)?;
    Ok(column.as_primitive().clone())
}

/// A cast that fails on a value it cannot convert, never turning it into NULL.
fn strict_cast(column: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    Ok(arrow::compute::cast_with_options(column, to, &options)?)
}

/// Whether each dictionary entry, and null (the last slot), passes a text filter.
fn entry_mask(filter: &TextFilter, dict: &DictionaryArray<Int32Type>) -> Result<Vec<bool>> {
    let field = filter.schema.field(0);
    let values = arrow::compute::cast(dict.values(), field.data_type())?;
    let null = new_null_array(field.data_type(), 1);
    let entries = arrow::compute::concat(&[values.as_ref(), null.as_ref()])?;
    let batch = RecordBatch::try_new(Arc::clone(&filter.schema), vec![entries])?;
    let result = filter
        .predicate
        .evaluate(&batch)?
        .into_array(batch.num_rows())?;
    let result: &BooleanArray = result.as_boolean_opt().ok_or_else(|| {
        DataFusionError::Internal(format!("filter on {} is not boolean", filter.column))
    })?;
    Ok((0..result.len())
        .map(|i| result.is_valid(i) && result.value(i))
        .collect())
}

/// The rows that pass the row filter (null counts as false).
fn row_filter(filter: &RowFilter, batch: &RecordBatch) -> Result<BooleanBuffer> {
    let columns = filter
        .schema
        .fields()
        .iter()
        .map(|field| {
            let column = column_or_nulls(batch, field.name(), field.data_type());
            Ok(if column.data_type() == field.data_type() {
                column
            } else {
                strict_cast(&column, field.data_type())?
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let input = RecordBatch::try_new_with_options(
        Arc::clone(&filter.schema),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?;
    let result = filter
        .predicate
        .evaluate(&input)?
        .into_array(batch.num_rows())?;
    let result = result
        .as_boolean_opt()
        .ok_or_else(|| DataFusionError::Internal("row filter is not boolean".to_string()))?;
    Ok(match result.nulls() {
        Some(nulls) => result.values() & nulls.inner(),
        None => result.values().clone(),
    })
}
