//! One catalog table as a DataFusion table: partition pruning, then a Parquet scan of the files
//! under the chosen prefixes.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::project_schema;
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::datasource::physical_plan::{
    FileGroup, FileGroupPartitioner, FileScanConfig, FileScanConfigBuilder,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::datasource::table_schema::TableSchemaBuilder;
use datafusion::error::Result as DFResult;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use minerva_catalog::{
    Catalog, Format, Manifest, ManifestFile, Partition, Selection, Table, is_written_by_minerva,
    parse_partition_name, select_partitions,
};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};

use super::drift::StrictAdapterFactory;
use super::footers::{DiskFooters, FOOTER_HINT, FooterFetch, is_remote, remote_footers_at_once};
use super::naming::NamingSource;
use super::pruning::{
    as_time_comparisons, is_partition_only, partition_filter, partition_only, retain_matching,
    scalar,
};
use super::side::Side;
use super::snapshot::Snapshot;
use crate::error::{EngineError, Rejection, Result, TableProblem, find_cause};
use crate::options::MinervaOptions;
use crate::report::{QueryStats, ScanReport};
use crate::types::{arrow_type, as_read_type};
use minerva_store::{ScanLimit, StoreError};

/// LIST requests in flight at once while listing the files of the chosen partitions: each
/// waits a round trip, and a month of days should take one.
const LIST_CONCURRENCY: usize = 64;

/// A catalog table, ready to scan.
#[derive(Debug, Clone)]
pub struct CatalogTable {
    table: Arc<Table>,
    /// The catalog directory, where the table's manifest is.
    catalog_root: PathBuf,
    store_url: ObjectStoreUrl,
    store: Arc<dyn ObjectStore>,
    /// The columns stored in the files.
    file_schema: SchemaRef,
    /// The file columns followed by the partition columns: what SQL sees.
    schema: SchemaRef,
    /// What the table is to a live table it is scanned for, if any.
    side: Option<Side>,
}

/// The files a scan of one table already chose, in force for a re-plan of that scan (the
/// dense path's hash fallback): the table reads them instead of choosing again, so the
/// query's partitions and guardrails are counted once.
#[derive(Debug)]
pub(crate) struct ChosenFiles {
    table: String,
    files: Vec<PartitionedFile>,
}

impl ChosenFiles {
    /// `files`, chosen for the table named `table` (qualified: `database.table`).
    pub(crate) fn new(table: impl Into<String>, files: Vec<PartitionedFile>) -> Self {
        Self {
            table: table.into(),
            files,
        }
    }
}

impl CatalogTable {
    /// Resolves the table's object store and its columns (read from one data file when the
    /// table file declares none).
    pub async fn open(
        table: Arc<Table>,
        catalog_root: &FsPath,
        runtime: &RuntimeEnv,
    ) -> Result<Self> {
        if table.format() != Format::Parquet && table.columns().is_none() {
            return Err(EngineError::Table {
                table: table.qualified_name(),
                problem: TableProblem::ColumnsRequired {
                    format: table.format(),
                },
            });
        }
        let url = table.location().store_url();
        let no_store = || EngineError::NoObjectStore {
            table: table.qualified_name(),
            url: url.clone(),
        };
        let store_url = ObjectStoreUrl::parse(&url).map_err(|_| no_store())?;
        // A store that exists but cannot be set up (bad profile, bad storage.toml) says why.
        let store = runtime
            .object_store(&store_url)
            .map_err(|e| match EngineError::from(e) {
                EngineError::Store(StoreError::NoStore { .. }) => no_store(),
                cannot_set_up => cannot_set_up,
            })?;

        let partition_names: Vec<&str> = table
            .partition_columns()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let file_fields: Vec<FieldRef> = match &table.columns() {
            Some(columns) => columns
                .iter()
                .filter(|c| !partition_names.contains(&c.name.as_str()))
                .map(|c| Arc::new(Field::new(&c.name, arrow_type(&c.ty), true)))
                .collect(),
            None => infer_file_schema(&table, &store, runtime)
                .await?
                .fields()
                .iter()
                .filter(|f| !partition_names.contains(&f.name().as_str()))
                .map(|f| {
                    Arc::new(
                        f.as_ref()
                            .clone()
                            .with_data_type(as_read_type(f.data_type()))
                            .with_nullable(true),
                    )
                })
                .collect(),
        };
        let file_schema = Arc::new(Schema::new(file_fields.clone()));
        let partition_fields = table
            .partition_columns()
            .iter()
            .map(|c| Arc::new(Field::new(&c.name, arrow_type(&c.ty), true)));
        let schema = Arc::new(Schema::new(
            file_fields
                .into_iter()
                .chain(partition_fields)
                .collect::<Vec<_>>(),
        ));
        Ok(Self {
            table,
            catalog_root: catalog_root.to_path_buf(),
            store_url,
            store,
            file_schema,
            schema,
            side: None,
        })
    }

    /// The table as one side of a live table.
    pub(crate) fn as_side(&self, side: Side) -> Self {
        Self {
            side: Some(side),
            ..self.clone()
        }
    }

    /// The catalog's definition of the table.
    pub fn table(&self) -> &Arc<Table> {
        &self.table
    }

    /// The object store the table's files are in.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The partitions a query with `filters` must read, sorted by value, and how they were
    /// chosen. `NOW` in projection ranges is the query's start time, as for SQL's `now()`.
    pub async fn partitions(&self, session: &dyn Session, filters: &[Expr]) -> Result<Selection> {
        let manifest = self.manifest(session)?;
        self.partitions_in(session, filters, &manifest).await
    }

    /// The table's committed state as the query `session` sees it (read once per query).
    pub(crate) fn manifest(&self, session: &dyn Session) -> Result<Arc<Manifest>> {
        self.manifest_of(session, &self.table)
    }

    /// The committed state of `table` (of this catalog) as the query `session` sees it.
    fn manifest_of(&self, session: &dyn Session, table: &Table) -> Result<Arc<Manifest>> {
        match session.config().get_extension::<Snapshot>() {
            Some(snapshot) => snapshot.manifest(&self.catalog_root, table),
            None => Ok(Arc::new(Catalog::read_manifest(
                &self.catalog_root,
                table.database(),
                table.name(),
            )?)),
        }
    }

    /// [`CatalogTable::partitions`] with the table's committed partitions from `manifest`
    /// among those found.
    async fn partitions_in(
        &self,
        session: &dyn Session,
        filters: &[Expr],
        manifest: &Manifest,
    ) -> Result<Selection> {
        if self.table.projection().is_none()
            && self.table.registry().is_none()
            && manifest.version() == 0
        {
            check_location(&self.table)?;
        }
        let partition_filters: Vec<Expr> = partition_only(&self.table, filters)
            .into_iter()
            .map(|f| as_time_comparisons(&self.table, f.clone()))
            .collect();
        let partition_filters: Vec<&Expr> = partition_filters.iter().collect();
        let filter = partition_filter(&self.table, &partition_filters);
        let now = session
            .execution_props()
            .query_execution_start_time
            .unwrap_or_else(chrono::Utc::now);
        let store = self.session_store(session)?;
        let mut selection = match select_partitions(&self.table, store.as_ref(), &filter, now).await
        {
            // A table created by CREATE TABLE AS WITH NO DATA has no directory until written.
            Err(minerva_catalog::CatalogError::LocationNotFound { .. })
                if manifest.version() > 0 =>
            {
                Selection {
                    partitions: Vec::new(),
                    method: minerva_catalog::Method::Listing,
                    total: None,
                }
            }
            selected => selected?,
        };
        // Partitions Minerva committed are the table's, whether or not they were found.
        let names: Vec<&str> = self
            .table
            .partition_columns()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        for name in manifest.partition_names() {
            let values = if names.is_empty() {
                Vec::new()
            } else {
                parse_partition_name(&self.table, name).map_err(|e| EngineError::Table {
                    table: self.table.qualified_name(),
                    problem: TableProblem::Manifest {
                        message: e.to_string(),
                    },
                })?
            };
            if !filter.matches(names.iter().copied().zip(&values))
                || selection.partitions.iter().any(|p| p.values == values)
            {
                continue;
            }
            selection
                .partitions
                .push(self.table.write_partition(&values, now)?);
        }
        selection.partitions.sort();
        selection.partitions = retain_matching(
            session,
            &self.table,
            selection.partitions,
            &partition_filters,
        )?;
        Ok(selection)
    }

    /// The table's store as `session` sees it: for a query, one that counts what it reads.
    fn session_store(&self, session: &dyn Session) -> Result<Arc<dyn ObjectStore>> {
        Ok(session.runtime_env().object_store(&self.store_url)?)
    }

    /// Refuses a scan that reads every partition of a table that requires a partition filter.
    fn check_partition_filter(&self, filters: &[Expr]) -> Result<()> {
        if !self.table.requires_partition_filter()
            || !partition_only(&self.table, filters).is_empty()
        {
            return Ok(());
        }
        let columns = self
            .table
            .partition_columns()
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        Err(Rejection::PartitionFilterRequired {
            table: self.table.qualified_name(),
            columns,
        }
        .into())
    }

    /// Every partition of the table with its data files' count and bytes, as a query reads
    /// them (committed files only, zero-byte Parquet files refused as a query refuses them).
    pub async fn partition_files(
        &self,
        session: &dyn Session,
    ) -> Result<Vec<(String, usize, u64)>> {
        let manifest = self.manifest(session)?;
        let selection = self.partitions_in(session, &[], &manifest).await?;
        let store = self.session_store(session)?;
        let runtime = session.runtime_env();
        let listed: Vec<_> = futures::stream::iter(selection.partitions.iter())
            .map(|partition| {
                let (store, manifest, runtime) = (&store, &manifest, runtime);
                async move {
                    let (files, _, _) = self
                        .files(
                            store,
                            runtime,
                            std::slice::from_ref(partition),
                            manifest,
                            None,
                        )
                        .await?;
                    Ok::<_, EngineError>((
                        partition.name(self.table.partition_columns()),
                        files.len(),
                        files.iter().map(|f| f.object_meta.size).sum::<u64>(),
                    ))
                }
            })
            .buffered(16)
            .try_collect()
            .await?;
        Ok(listed)
    }

    /// The data files of `partitions`, each carrying its partition's values, sorted by path.
    async fn files(
        &self,
        store: &Arc<dyn ObjectStore>,
        runtime: &RuntimeEnv,
        partitions: &[Partition],
        manifest: &Manifest,
        consumer: Option<&Manifest>,
    ) -> Result<(Vec<PartitionedFile>, Vec<String>, usize)> {
        let listings: Vec<_> = partitions
            .iter()
            .map(|partition| async move {
                let name = partition.name(self.table.partition_columns());
                let objects: Vec<ObjectMeta> = match manifest.files(&name) {
                    // Committed by Minerva: exactly its files, nothing listed.
                    Some(files) => files.iter().map(|f| self.committed(f)).collect(),
                    None => store
                        .list(Some(&partition.prefix))
                        .try_filter(|meta| {
                            // A file Minerva wrote that no commit names is not data (yet).
                            futures::future::ready(!is_written_by_minerva(&meta.location))
                        })
                        .try_collect()
                        .await
                        .map_err(|e| self.list_error(&partition.prefix, e))?,
                };
                // What a compaction consumed already is not read again: by the compaction
                // itself, or by the speed side of a live table (its batch table holds it).
                let listed = objects.len();
                let objects: Vec<ObjectMeta> = match consumer {
                    Some(consumer) => objects
                        .into_iter()
                        .filter(|meta| !consumer.is_consumed(&self.table, &meta.location))
                        .collect(),
                    None => objects,
                };
                let compacted_here = listed - objects.len();
                let values = self
                    .table
                    .partition_columns()
                    .iter()
                    .zip(&partition.values)
                    .map(|(column, value)| scalar(value, column))
                    .collect::<DFResult<Vec<_>>>()?;
                let mut files = Vec::new();
                let mut skipped = Vec::new();
                for meta in objects {
                    if !is_data_file(&partition.prefix, &meta) {
                        continue;
                    }
                    if meta.size == 0 && self.table.format() == Format::Parquet {
                        // A Parquet file is never empty: a writer crashed. Athena fails the
                        // query and names the file; so does Minerva, unless told to skip it.
                        if !ignores_corrupt_files(&self.table) {
                            return Err(EngineError::Table {
                                table: self.table.qualified_name(),
                                problem: TableProblem::EmptyFile {
                                    object: meta.location.to_string(),
                                },
                            });
                        }
                        skipped.push(format!("{} (empty, 0 bytes)", meta.location));
                        continue;
                    }
                    files.push(
                        PartitionedFile::new_from_meta(meta).with_partition_values(values.clone()),
                    );
                }
                Ok::<_, EngineError>((files, skipped, compacted_here))
            })
            .collect();
        let listed = futures::stream::iter(listings)
            .buffer_unordered(LIST_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        let compacted: usize = listed.iter().map(|(_, _, n)| n).sum();
        let (files, skipped): (Vec<_>, Vec<_>) = listed.into_iter().map(|(f, s, _)| (f, s)).unzip();
        let mut files: Vec<PartitionedFile> = files.into_iter().flatten().collect();
        let mut skipped: Vec<String> = skipped.into_iter().flatten().collect();
        if ignores_corrupt_files(&self.table) && self.table.format() == Format::Parquet {
            let (readable, unreadable) =
                readable_footers(&self.table, files, store, runtime).await?;
            files = readable;
            skipped.extend(unreadable);
        }
        files.sort_by(|a, b| a.object_meta.location.cmp(&b.object_meta.location));
        skipped.sort();
        Ok((files, skipped, compacted))
    }

    /// A committed file as the scan sees it: its size and commit time from the manifest.
    fn committed(&self, file: &ManifestFile) -> ObjectMeta {
        ObjectMeta {
            location: file.location(&self.table),
            last_modified: file.committed(),
            size: file.bytes(),
            e_tag: None,
            version: None,
        }
    }

    fn list_error(&self, prefix: &Path, source: object_store::Error) -> EngineError {
        minerva_catalog::CatalogError::List {
            table: self.table.qualified_name(),
            location: format!("{}/{prefix}/", self.table.location().store_url()),
            source,
        }
        .into()
    }
}

#[async_trait]
impl TableProvider for CatalogTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Filters on partition columns alone are answered exactly by choosing partitions; the rest
    /// are also used to skip row groups, and DataFusion applies them to the rows read.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if is_partition_only(&self.table, f) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Inexact
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let files = match state.config().get_extension::<ChosenFiles>() {
            Some(chosen) if chosen.table == self.table.qualified_name() => chosen.files.clone(),
            _ => self.plan_files(state, filters).await?,
        };
        if files.is_empty() {
            return Ok(Arc::new(EmptyExec::new(project_schema(
                &self.schema,
                projection,
            )?)));
        }
        let partition_fields = self
            .schema
            .fields()
            .iter()
            .skip(self.file_schema.fields().len())
            .cloned()
            .collect::<Vec<_>>();
        let table_schema = TableSchemaBuilder::from(&self.file_schema)
            .with_table_partition_cols(partition_fields)
            .build();
        let target_partitions = state.config().target_partitions();
        if self.table.format() != Format::Parquet {
            return self.text_scan(files, table_schema, target_partitions, projection, limit);
        }
        let groups = match is_remote(&self.store_url) {
            // Over a remote store, every partition keeps a row group in flight: more
            // partitions than cores, each a byte range of the files, keep the network busy.
            true => {
                let options = MinervaOptions::of(state.config_options());
                let store = self.session_store(state)?;
                prefetch_footers(&files, &store, state, &self.store_url, &options).await;
                let streams = target_partitions.max(options.io_concurrency / 2);
                FileGroupPartitioner::new()
                    .with_target_partitions(streams)
                    .with_repartition_file_min_size(0)
                    .repartition_file_groups(&[FileGroup::new(files.clone())])
                    .unwrap_or_else(|| FileGroup::new(files).split_files(target_partitions))
            }
            false => FileGroup::new(files).split_files(target_partitions),
        };
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let config =
            FileScanConfigBuilder::new(self.store_url.clone(), format.file_source(table_schema))
                .with_file_groups(groups)
                .with_projection_indices(projection.cloned())?
                .with_limit(limit)
                .with_expr_adapter(Some(StrictAdapterFactory::shared()))
                .build();
        let plan = format.create_physical_plan(state, config).await?;
        // DataFusion's Parquet source, as the format set it up (footer cache, options), with
        // every error naming the object it came from.
        let Some(config) = plan
            .downcast_ref::<DataSourceExec>()
            .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
        else {
            return Ok(plan);
        };
        let named = NamingSource::wrap(
            Arc::clone(config.file_source()),
            &self.table.qualified_name(),
        );
        Ok(DataSourceExec::from_data_source(
            FileScanConfigBuilder::from(config.clone())
                .with_source(named)
                .build(),
        ))
    }
}

impl CatalogTable {
    /// The URL of the object store the table's files are in.
    pub(crate) fn store_url(&self) -> &ObjectStoreUrl {
        &self.store_url
    }

    /// The files a scan with `filters` reads, after the table's guardrails (partition filter
    /// required, scan limit) and with the scan recorded in the query's stats.
    pub(crate) async fn plan_files(
        &self,
        state: &dyn Session,
        filters: &[Expr],
    ) -> DFResult<Vec<PartitionedFile>> {
        let speed = match &self.side {
            Some(Side::Speed(speed)) => Some(speed),
            _ => None,
        };
        // A bound on event time bounds the speed side's arrival partitions.
        let mut filters = filters.to_vec();
        if let Some(arrival) = speed.and_then(|s| s.arrival.as_ref())
            && let Some(derived) = arrival.filter(&filters)
        {
            filters.push(derived);
        }
        // …and the batch side's day partitions.
        if let Some(Side::Batch { days, .. }) = &self.side {
            let derived: Vec<Expr> = days.iter().flat_map(|d| d.filters(&filters)).collect();
            filters.extend(derived);
        }
        let filters = filters.as_slice();
        self.check_partition_filter(filters)?;
        let stats = state.config().get_extension::<QueryStats>();
        if let (Some(stats), Some(bytes)) = (&stats, self.table.max_scan()) {
            stats.tighten_limit(ScanLimit {
                bytes,
                source: format!(
                    "table '{}' (property '{}')",
                    self.table.qualified_name(),
                    minerva_catalog::MAX_SCAN
                ),
            });
        }
        let manifest = self.manifest(state)?;
        let selection = self.partitions_in(state, filters, &manifest).await?;
        let store = self.session_store(state)?;
        let snapshot = state.config().get_extension::<Snapshot>();
        // Whose consumption this scan leaves out: for a live table's speed side, the batch
        // table as this query sees it (the boundary between the sides); for a compaction's
        // source, the target's.
        let consumer = match speed {
            Some(speed) => Some(self.manifest_of(state, &speed.batch)?),
            None => snapshot.as_ref().and_then(|s| s.consumer(&self.table)),
        };
        if let (Some(speed), Some(stats)) = (speed, &stats) {
            let store_url = self.table.location().store_url();
            for partition in &selection.partitions {
                stats
                    .meter()
                    .list_fresh(&store_url, partition.prefix.as_ref(), speed.listing_ttl);
            }
        }
        let (files, skipped, compacted) = self
            .files(
                &store,
                state.runtime_env(),
                &selection.partitions,
                &manifest,
                consumer.as_deref(),
            )
            .await?;
        if let Some(snapshot) = &snapshot {
            snapshot.reading(
                &self.table,
                files.iter().map(|f| f.object_meta.location.clone()),
            );
        }
        if let Some(stats) = &stats {
            let mut report = ScanReport::new(&self.table, &selection, &files).skipping(skipped);
            if let Some(side) = &self.side {
                report = report.on_side(side.describe());
            }
            if let (Some(speed), Some(batch)) = (speed, &consumer) {
                report = report.compacted(
                    compacted,
                    super::side::watermark(batch, &speed.batch, &self.table),
                );
            }
            stats.record_scan(report);
        }
        Ok(files)
    }

    /// A JSON-lines or CSV scan: one per compression codec among the files (known by their
    /// extension: `.gz`, `.bz2`, `.xz`, `.zst`), united.
    fn text_scan(
        &self,
        files: Vec<PartitionedFile>,
        table_schema: TableSchema,
        target_partitions: usize,
        projection: Option<&Vec<usize>>,
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let mut by_codec: Vec<(FileCompressionType, Vec<PartitionedFile>)> = Vec::new();
        for file in files {
            let codec = compression_of(file.object_meta.location.as_ref());
            match by_codec.iter_mut().find(|(c, _)| *c == codec) {
                Some((_, group)) => group.push(file),
                None => by_codec.push((codec, vec![file])),
            }
        }
        let table = &self.table;
        let plans = by_codec
            .into_iter()
            .map(|(codec, files)| {
                let source = match table.format() {
                    Format::Json => JsonFormat::default().file_source(table_schema.clone()),
                    _ => CsvFormat::default()
                        .with_has_header(table.has_header())
                        .with_delimiter(table.csv_delimiter())
                        // Hive's delimited text has no quoting: a byte no text holds turns it off.
                        .with_quote(table.csv_quote().unwrap_or(0))
                        .file_source(table_schema.clone()),
                };
                let config = FileScanConfigBuilder::new(
                    self.store_url.clone(),
                    NamingSource::wrap(source, &table.qualified_name()),
                )
                .with_file_groups(FileGroup::new(files).split_files(target_partitions))
                .with_file_compression_type(codec)
                .with_projection_indices(projection.cloned())?
                .with_limit(limit)
                .build();
                Ok(DataSourceExec::from_data_source(config) as Arc<dyn ExecutionPlan>)
            })
            .collect::<DFResult<Vec<_>>>()?;
        UnionExec::try_new(plans)
    }
}

/// The compression codec of a text object, from its name's last extension.
fn compression_of(path: &str) -> FileCompressionType {
    match path
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
    {
        Some(ext) if ext == "gz" || ext == "gzip" => FileCompressionType::GZIP,
        Some(ext) if ext == "bz2" => FileCompressionType::BZIP2,
        Some(ext) if ext == "xz" => FileCompressionType::XZ,
        Some(ext) if ext == "zst" || ext == "zstd" => FileCompressionType::ZSTD,
        _ => FileCompressionType::UNCOMPRESSED,
    }
}

/// The table property that skips unreadable data files (zero-byte Parquet objects) instead
/// of failing the query, as Spark's option of that name does.
pub(crate) const IGNORE_CORRUPT_FILES: &str = "ignore_corrupt_files";

fn ignores_corrupt_files(table: &Table) -> bool {
    table
        .properties()
        .get(IGNORE_CORRUPT_FILES)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Footers fetched at once when checking them before a scan.
const FOOTER_CONCURRENCY: usize = 16;

/// Fetches the footers of `files` into the session's footer cache, all at once (up to
/// [`remote_footers_at_once`]), so that a scan's file openers find them there instead of each waiting
/// for its own. A footer that cannot be read is left for the opener to report.
async fn prefetch_footers(
    files: &[PartitionedFile],
    store: &Arc<dyn ObjectStore>,
    state: &dyn Session,
    store_url: &ObjectStoreUrl,
    options: &MinervaOptions,
) {
    let stats = state.config().get_extension::<QueryStats>();
    let disk = state.config().get_extension::<DiskFooters>();
    let footers = FooterFetch {
        store: store.as_ref(),
        store_url,
        memory: state.runtime_env().cache_manager.get_file_metadata_cache(),
        disk: disk.as_deref(),
        stats: stats.as_deref(),
        size_hint: Some(FOOTER_HINT),
        page_index: None,
    };
    let fetches: Vec<BoxFuture<'_, ()>> = files
        .iter()
        .map(|file| {
            let footers = &footers;
            async move {
                let _ = footers.fetch(&file.object_meta).await;
            }
            .boxed()
        })
        .collect();
    futures::stream::iter(fetches)
        .buffer_unordered(remote_footers_at_once(options))
        .collect::<()>()
        .await;
}

/// Splits `files` into those whose footer reads (kept in the footer cache for the scan) and
/// the others, each as `path (why)`: Spark's `ignoreCorruptFiles` for objects that are not
/// Parquet (bad magic, too short, a footer that does not parse).
async fn readable_footers(
    table: &Table,
    files: Vec<PartitionedFile>,
    store: &Arc<dyn ObjectStore>,
    runtime: &RuntimeEnv,
) -> Result<(Vec<PartitionedFile>, Vec<String>)> {
    let cache = runtime.cache_manager.get_file_metadata_cache();
    let checks = files.into_iter().map(|file| {
        let cache = Arc::clone(&cache);
        async move {
            let read = DFParquetMetadata::new(store.as_ref(), &file.object_meta)
                .with_file_metadata_cache(Some(cache))
                .fetch_metadata()
                .await;
            match read {
                Ok(_) => Ok(Ok(file)),
                // The store failing is not the file being corrupt: the query fails.
                Err(e) if find_cause::<object_store::Error>(&e).is_some() => {
                    Err(EngineError::Table {
                        table: table.qualified_name(),
                        problem: TableProblem::Read {
                            object: file.object_meta.location.to_string(),
                            row_group: None,
                            source: Box::new(EngineError::from(e)),
                        },
                    })
                }
                Err(e) => Ok(Err(format!(
                    "{} ({})",
                    file.object_meta.location,
                    EngineError::from(e)
                ))),
            }
        }
    });
    let checked: Vec<_> = futures::stream::iter(checks)
        .buffer_unordered(FOOTER_CONCURRENCY)
        .try_collect()
        .await?;
    let mut readable = Vec::new();
    let mut unreadable = Vec::new();
    for check in checked {
        match check {
            Ok(file) => readable.push(file),
            Err(why) => unreadable.push(why),
        }
    }
    Ok((readable, unreadable))
}

/// Whether a listed object is table data: not hidden under a `_` or `.` name
/// anywhere below `root` (the table's, or a partition's) (Hive's rule: `_SUCCESS`, `_temporary/`, `.part-0.tmp`).
pub(crate) fn is_data_file(root: &Path, meta: &ObjectMeta) -> bool {
    meta.location
        .prefix_match(root)
        .is_some_and(|mut parts| parts.all(|p| !p.as_ref().starts_with(['_', '.'])))
}

/// A local table's directory must exist: an object store would answer "no files".
fn check_location(table: &Table) -> Result<()> {
    match table.location().local_path() {
        Some(path) if !path.is_dir() => Err(minerva_catalog::CatalogError::LocationNotFound {
            table: table.qualified_name(),
            location: table.location().as_written().to_string(),
        }
        .into()),
        _ => Ok(()),
    }
}

/// Reads the schema of the first data file under the table's location.
async fn infer_file_schema(
    table: &Table,
    store: &Arc<dyn ObjectStore>,
    runtime: &RuntimeEnv,
) -> Result<Schema> {
    check_location(table)?;
    let root = table.location().prefix();
    let list_error = |source| minerva_catalog::CatalogError::List {
        table: table.qualified_name(),
        location: table.location().to_string(),
        source,
    };
    let mut objects = store.list(Some(&root));
    let first = loop {
        match objects.next().await.transpose().map_err(list_error)? {
            Some(meta) if is_data_file(&root, &meta) && meta.size > 0 => break meta,
            Some(_) => continue,
            None => {
                return Err(EngineError::Table {
                    table: table.qualified_name(),
                    problem: TableProblem::NoDataFile {
                        location: table.location().to_string(),
                    },
                });
            }
        }
    };
    DFParquetMetadata::new(store.as_ref(), &first)
        .with_file_metadata_cache(Some(runtime.cache_manager.get_file_metadata_cache()))
        .fetch_schema()
        .await
        .map_err(|e| EngineError::Table {
            table: table.qualified_name(),
            problem: TableProblem::Columns {
                object: first.location.to_string(),
                source: Box::new(EngineError::from(e)),
            },
        })
}
