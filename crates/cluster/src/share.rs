//! One task's share of a scan: the files it reads, the bytes it may read, and what it did read,
//! counted on the worker that runs it and reported back as metrics.

use std::fmt;
use std::sync::{Arc, OnceLock};

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{FileScanConfigBuilder, ParquetSource};
use datafusion::error::Result as DFResult;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::metrics::{
    ExecutionPlanMetricsSet, Gauge, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PhysicalExpr, PlanProperties,
};
use futures::StreamExt;
use minerva_engine::plans::{CountingStores, NamedScan};
use minerva_store::{ListingCache, Meter, ScanLimit};

/// The names of the metrics a share reports: what its worker's stores served.
pub(crate) mod metric {
    pub(crate) const BYTES: &str = "minerva_bytes_read";
    pub(crate) const GETS: &str = "minerva_get_requests";
    pub(crate) const LISTS: &str = "minerva_list_requests";
    pub(crate) const HEADS: &str = "minerva_head_requests";
    pub(crate) const OBJECTS: &str = "minerva_objects_read";
    /// The share's files: the value counts them, the label [`FILES_LABEL`] names them.
    pub(crate) const FILES: &str = "minerva_share_files";
    pub(crate) const FILES_LABEL: &str = "files";
    /// The label naming the worker that ran the share.
    pub(crate) const WORKER: &str = "worker";
}

/// Who a worker is, as its coordinator reaches it: set in each fragment's session.
#[derive(Debug, Clone)]
pub(crate) struct WorkerName(pub(crate) String);

/// What a task is given of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assignment {
    /// The task's number among the scan's tasks (from 0).
    pub(crate) task: usize,
    /// How many tasks the scan is split into.
    pub(crate) tasks: usize,
    /// The files (or byte ranges of files) it reads.
    pub(crate) files: Vec<String>,
    /// Their bytes.
    pub(crate) bytes: u64,
    /// The most bytes it may read: its part of the query's scan limit.
    pub(crate) budget: Option<ScanLimit>,
}

/// A task's share of a catalog table's scan (its input): the input reads only the share's
/// files, through stores that count into the share's own meter, which refuses bytes past the
/// share's budget.
pub(crate) struct ScanShareExec {
    input: Arc<dyn ExecutionPlan>,
    assignment: Assignment,
    /// The share's meter, the stores counting into it and its input reading through them:
    /// made on the first partition's execution (on the worker).
    metered: OnceLock<Metered>,
    gauges: OnceLock<Gauges>,
    metrics: ExecutionPlanMetricsSet,
}

#[derive(Debug)]
struct Metered {
    meter: Arc<Meter>,
    runtime: Arc<RuntimeEnv>,
    input: Arc<dyn ExecutionPlan>,
}

impl ScanShareExec {
    pub(crate) fn new(input: Arc<dyn ExecutionPlan>, assignment: Assignment) -> Self {
        Self {
            input,
            assignment,
            metered: OnceLock::new(),
            gauges: OnceLock::new(),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    pub(crate) fn assignment(&self) -> &Assignment {
        &self.assignment
    }

    /// The share's meter, a runtime whose stores count into it, and the input reading through
    /// them. DataFusion's Parquet scan binds its reader to a store when it is decoded: the
    /// reader is bound again, to the counting store.
    fn metered(&self, context: &TaskContext) -> DFResult<Metered> {
        let meter = Arc::new(Meter::new(self.assignment.budget.clone()));
        let runtime = Arc::new(RuntimeEnv {
            object_store_registry: Arc::new(CountingStores::new(
                Arc::clone(&context.runtime_env().object_store_registry),
                Arc::clone(&meter),
                Arc::new(ListingCache::new(ListingCache::DEFAULT_TTL)),
            )),
            ..context.runtime_env().as_ref().clone()
        });
        let mut input = Arc::clone(&self.input);
        if let Some(mut scan) = NamedScan::of(self.input.as_ref())
            && let Some(parquet) = scan.scan.file_source().downcast_ref::<ParquetSource>()
        {
            let store = runtime.object_store(&scan.scan.object_store_url)?;
            let reader = CachedParquetFileReaderFactory::new(
                store,
                runtime.cache_manager.get_file_metadata_cache(),
            );
            let source = parquet
                .clone()
                .with_parquet_file_reader_factory(Arc::new(reader));
            scan.scan = FileScanConfigBuilder::from(scan.scan)
                .with_source(Arc::new(source))
                .build();
            input = scan.into_plan();
        }
        Ok(Metered {
            meter,
            runtime,
            input,
        })
    }
}

impl fmt::Debug for ScanShareExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScanShareExec")
            .field("assignment", &self.assignment)
            .finish_non_exhaustive()
    }
}

/// How many file names a plan shows per share.
const FILES_SHOWN: usize = 3;

impl DisplayAs for ScanShareExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.assignment;
        write!(
            f,
            "ScanShare: task {} of {}, {} file{} ({})",
            a.task + 1,
            a.tasks,
            a.files.len(),
            if a.files.len() == 1 { "" } else { "s" },
            minerva_catalog::display_byte_size(a.bytes),
        )?;
        if !a.files.is_empty() {
            let shown: Vec<&str> = a
                .files
                .iter()
                .take(FILES_SHOWN)
                .map(String::as_str)
                .collect();
            write!(f, ": {}", shown.join(", "))?;
            if a.files.len() > FILES_SHOWN {
                write!(f, ", …")?;
            }
        }
        if let Some(budget) = &a.budget {
            write!(
                f,
                ", may read {}",
                minerva_catalog::display_byte_size(budget.bytes)
            )?;
        }
        Ok(())
    }
}

impl ExecutionPlan for ScanShareExec {
    fn name(&self) -> &'static str {
        "ScanShareExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DFResult<TreeNodeRecursion>,
    ) -> DFResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let Some(input) = children.pop().filter(|_| children.is_empty()) else {
            return datafusion::common::internal_err!("ScanShareExec takes one input");
        };
        Ok(Arc::new(Self::new(input, self.assignment.clone())))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DFResult<SendableRecordBatchStream> {
        let metered = match self.metered.get() {
            Some(metered) => metered,
            None => {
                let metered = self.metered(&context)?;
                self.metered.get_or_init(|| metered)
            }
        };
        let meter = Arc::clone(&metered.meter);
        let worker = context
            .session_config()
            .get_extension::<WorkerName>()
            .map_or_else(|| "coordinator".to_string(), |w| w.0.clone());
        let gauges = self
            .gauges
            .get_or_init(|| Gauges::new(&self.metrics, &worker, &self.assignment))
            .clone();
        let task = Arc::new(TaskContext::new(
            context.task_id(),
            context.session_id(),
            context.session_config().clone(),
            context.scalar_functions().clone(),
            context.higher_order_functions().clone(),
            context.aggregate_functions().clone(),
            context.window_functions().clone(),
            Arc::clone(&metered.runtime),
        ));
        let stream = metered.input.execute(partition, task)?;
        let schema = stream.schema();
        let report = Report { meter, gauges };
        // The counts as they stand after each batch and at the end (and when dropped early).
        let counted = stream.map(move |batch| {
            report.update();
            batch
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, counted)))
    }
}

/// How many of a share's files its report names.
const FILES_NAMED: usize = 20;

/// The share's metrics: set to its meter's totals.
#[derive(Debug, Clone)]
struct Gauges {
    bytes: Gauge,
    gets: Gauge,
    lists: Gauge,
    heads: Gauge,
    objects: Gauge,
}

impl Gauges {
    fn new(metrics: &ExecutionPlanMetricsSet, worker: &str, assignment: &Assignment) -> Self {
        let mut named: Vec<&str> = assignment
            .files
            .iter()
            .take(FILES_NAMED)
            .map(String::as_str)
            .collect();
        let more = assignment.files.len().saturating_sub(FILES_NAMED);
        let more = format!("… and {more} more");
        if assignment.files.len() > FILES_NAMED {
            named.push(&more);
        }
        MetricBuilder::new(metrics)
            .with_new_label(metric::WORKER, worker.to_string())
            .with_new_label(metric::FILES_LABEL, named.join(", "))
            .global_gauge(metric::FILES)
            .set(assignment.files.len());
        let gauge = |name: &'static str| {
            MetricBuilder::new(metrics)
                .with_new_label(metric::WORKER, worker.to_string())
                .global_gauge(name)
        };
        Self {
            bytes: gauge(metric::BYTES),
            gets: gauge(metric::GETS),
            lists: gauge(metric::LISTS),
            heads: gauge(metric::HEADS),
            objects: gauge(metric::OBJECTS),
        }
    }
}

struct Report {
    meter: Arc<Meter>,
    gauges: Gauges,
}

impl Report {
    fn update(&self) {
        let usage = self.meter.usage();
        let set = |gauge: &Gauge, value: u64| {
            gauge.set(usize::try_from(value).unwrap_or(usize::MAX));
        };
        set(&self.gauges.bytes, usage.bytes);
        set(&self.gauges.gets, usage.get_requests);
        set(&self.gauges.lists, usage.list_requests);
        set(&self.gauges.heads, usage.head_requests);
        set(&self.gauges.objects, usage.objects as u64);
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        self.update();
    }
}
