//! One catalog table as a DataFusion table: partition pruning, then a Parquet scan of the files
//! under the chosen prefixes.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::project_schema;
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchemaBuilder;
use datafusion::error::Result as DFResult;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use futures::{StreamExt, TryStreamExt};
use minerva_catalog::{Format, Partition, Table, hive_partitions};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};

use crate::error::{EngineError, Result};
use crate::pruning::{
    is_partition_only, partition_filter, partition_only, retain_matching, scalar,
};
use crate::types::{arrow_type, as_read_type};

/// LIST requests in flight at once while listing the files of the chosen partitions.
const LIST_CONCURRENCY: usize = 16;

/// A catalog table, ready to scan.
#[derive(Debug)]
pub struct CatalogTable {
    table: Arc<Table>,
    store_url: ObjectStoreUrl,
    store: Arc<dyn ObjectStore>,
    /// The columns stored in the files.
    file_schema: SchemaRef,
    /// The file columns followed by the partition columns: what SQL sees.
    schema: SchemaRef,
}

impl CatalogTable {
    /// Resolves the table's object store and its columns (read from one data file when the
    /// table file declares none).
    pub async fn open(table: Arc<Table>, runtime: &RuntimeEnv) -> Result<Self> {
        if table.format != Format::Parquet {
            return Err(EngineError::Table {
                table: table.qualified_name(),
                message: format!(
                    "format '{}' cannot be queried yet: only parquet tables can",
                    table.format
                ),
            });
        }
        let url = table.location.store_url();
        let no_store = || EngineError::NoObjectStore {
            table: table.qualified_name(),
            url: url.clone(),
        };
        let store_url = ObjectStoreUrl::parse(&url).map_err(|_| no_store())?;
        let store = runtime.object_store(&store_url).map_err(|_| no_store())?;

        let partition_names: Vec<&str> = table
            .partition_columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let file_fields: Vec<FieldRef> = match &table.columns {
            Some(columns) => columns
                .iter()
                .filter(|c| !partition_names.contains(&c.name.as_str()))
                .map(|c| Arc::new(Field::new(&c.name, arrow_type(c.ty), true)))
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
            .partition_columns
            .iter()
            .map(|c| Arc::new(Field::new(&c.name, arrow_type(c.ty), true)));
        let schema = Arc::new(Schema::new(
            file_fields
                .into_iter()
                .chain(partition_fields)
                .collect::<Vec<_>>(),
        ));
        Ok(Self {
            table,
            store_url,
            store,
            file_schema,
            schema,
        })
    }

    /// The catalog's definition of the table.
    pub fn table(&self) -> &Arc<Table> {
        &self.table
    }

    /// The partitions a query with `filters` must read, sorted by value.
    pub async fn partitions(
        &self,
        session: &dyn Session,
        filters: &[Expr],
    ) -> Result<Vec<Partition>> {
        check_location(&self.table)?;
        let partition_filters = partition_only(&self.table, filters);
        let filter = partition_filter(&self.table, &partition_filters);
        let candidates = hive_partitions(&self.table, self.store.as_ref(), &filter).await?;
        Ok(retain_matching(
            session,
            &self.table,
            candidates,
            &partition_filters,
        )?)
    }

    /// The data files of `partitions`, each carrying its partition's values, sorted by path.
    async fn files(&self, partitions: &[Partition]) -> Result<Vec<PartitionedFile>> {
        let root = &self.table.location.prefix();
        let listings: Vec<_> = partitions
            .iter()
            .map(|partition| async move {
                let objects: Vec<ObjectMeta> = self
                    .store
                    .list(Some(&partition.prefix))
                    .try_collect()
                    .await
                    .map_err(|e| self.list_error(&partition.prefix, e))?;
                let values = self
                    .table
                    .partition_columns
                    .iter()
                    .zip(&partition.values)
                    .map(|(column, value)| scalar(value, column))
                    .collect::<DFResult<Vec<_>>>()?;
                Ok::<_, EngineError>(
                    objects
                        .into_iter()
                        .filter(|meta| is_data_file(root, meta))
                        .map(|meta| {
                            PartitionedFile::new_from_meta(meta)
                                .with_partition_values(values.clone())
                        })
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let listed = futures::stream::iter(listings)
            .buffer_unordered(LIST_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        let mut files: Vec<PartitionedFile> = listed.into_iter().flatten().collect();
        files.sort_by(|a, b| a.object_meta.location.cmp(&b.object_meta.location));
        Ok(files)
    }

    fn list_error(&self, prefix: &Path, source: object_store::Error) -> EngineError {
        minerva_catalog::CatalogError::List {
            table: self.table.qualified_name(),
            location: prefix.to_string(),
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
        let partitions = self.partitions(state, filters).await?;
        let files = self.files(&partitions).await?;
        if files.is_empty() {
            return Ok(Arc::new(EmptyExec::new(project_schema(
                &self.schema,
                projection,
            )?)));
        }
        let groups = FileGroup::new(files).split_files(state.config().target_partitions());
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
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
        let config =
            FileScanConfigBuilder::new(self.store_url.clone(), format.file_source(table_schema))
                .with_file_groups(groups)
                .with_projection_indices(projection.cloned())?
                .with_limit(limit)
                .build();
        format.create_physical_plan(state, config).await
    }
}

/// Whether a listed object is table data: not empty, and not hidden under a `_` or `.` name
/// anywhere below the table's root (Hive's rule: `_SUCCESS`, `_temporary/`, `.part-0.tmp`).
fn is_data_file(root: &Path, meta: &ObjectMeta) -> bool {
    meta.size > 0
        && meta
            .location
            .prefix_match(root)
            .is_some_and(|mut parts| parts.all(|p| !p.as_ref().starts_with(['_', '.'])))
}

/// A local table's directory must exist: an object store would answer "no files".
fn check_location(table: &Table) -> Result<()> {
    match table.location.local_path() {
        Some(path) if !path.is_dir() => Err(minerva_catalog::CatalogError::LocationNotFound {
            table: table.qualified_name(),
            location: table.location.as_written().to_string(),
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
    let root = table.location.prefix();
    let list_error = |source| minerva_catalog::CatalogError::List {
        table: table.qualified_name(),
        location: table.location.to_string(),
        source,
    };
    let mut objects = store.list(Some(&root));
    let first = loop {
        match objects.next().await.transpose().map_err(list_error)? {
            Some(meta) if is_data_file(&root, &meta) => break meta,
            Some(_) => continue,
            None => {
                return Err(EngineError::Table {
                    table: table.qualified_name(),
                    message: format!(
                        "declares no columns and has no data file under '{}' to read them from",
                        table.location
                    ),
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
            message: format!(
                "cannot read the columns of '{}': {}",
                first.location,
                EngineError::from(e)
            ),
        })
}
