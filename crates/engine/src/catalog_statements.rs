//! Running DDL against the catalog directory: every change is one atomic file write, after which
//! the engine reloads the catalog.

use std::collections::BTreeSet;

use datafusion::arrow::array::RecordBatch;
use datafusion::catalog::TableProvider;
use minerva_catalog::{
    Catalog, Column, ColumnType, DEFAULT_DATABASE, Partition, PartitionFilter, Value,
    hive_partitions, partition_name, partition_prefix,
};

use crate::commands::{Values, batch};
use crate::ddl::{Ddl, PartitionSpec, show_create_table};
use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::table::CatalogTable;
use crate::types::athena_name;

fn result(message: String) -> RecordBatch {
    batch(vec![("result", Values::Text(vec![Some(message)]))])
}

fn partition_rows(names: Vec<String>, action: &str) -> RecordBatch {
    let actions = vec![Some(action.to_string()); names.len()];
    batch(vec![
        (
            "partition",
            Values::Text(names.into_iter().map(Some).collect()),
        ),
        ("action", Values::Text(actions)),
    ])
}

impl Engine {
    pub(crate) async fn run_ddl(&self, ddl: Ddl) -> Result<RecordBatch> {
        let catalog = self.catalog();
        let root = catalog.root();
        match ddl {
            Ddl::CreateTable {
                table,
                if_not_exists,
            } => {
                let name = table.qualified_name();
                if catalog.table(&table.database, &table.name).is_some() {
                    return if if_not_exists {
                        Ok(result(format!("table {name} already exists")))
                    } else {
                        Err(EngineError::Rejected(format!(
                            "table '{name}' already exists (DROP TABLE it first, or say IF NOT EXISTS)"
                        )))
                    };
                }
                let path = Catalog::write_table(root, &table)?;
                self.tables.reload()?;
                Ok(result(format!(
                    "created table {name} in {}",
                    path.display()
                )))
            }
            Ddl::CreateDatabase {
                name,
                if_not_exists,
            } => {
                let created = Catalog::create_database(root, &name)?;
                if !created && !if_not_exists {
                    return Err(EngineError::Rejected(format!(
                        "database '{name}' already exists"
                    )));
                }
                self.tables.reload()?;
                Ok(result(if created {
                    format!("created database {name}")
                } else {
                    format!("database {name} already exists")
                }))
            }
            Ddl::DropTable {
                database,
                table,
                if_exists,
            } => {
                let removed = Catalog::remove_table(root, &database, &table)?;
                if !removed && !if_exists {
                    catalog.lookup(&database, &table)?;
                }
                self.tables.reload()?;
                Ok(result(if removed {
                    format!("dropped table {database}.{table} (its data is untouched)")
                } else {
                    format!("table {database}.{table} does not exist")
                }))
            }
            Ddl::ShowCreateTable { database, table } => {
                // Only a table that declares no columns needs its files read.
                let declared = catalog.lookup(&database, &table)?;
                let columns = match &declared.columns {
                    Some(columns) => columns.clone(),
                    None => read_columns(&*self.tables.open(&database, &table).await?),
                };
                let ddl = show_create_table(&declared, &columns);
                let lines = ddl.lines().map(|l| Some(l.to_string())).collect();
                Ok(batch(vec![("createtab_stmt", Values::Text(lines))]))
            }
            Ddl::ShowDatabases => {
                let mut names: BTreeSet<String> =
                    catalog.databases().into_iter().map(String::from).collect();
                names.insert(DEFAULT_DATABASE.to_string());
                Ok(batch(vec![(
                    "database_name",
                    Values::Text(names.into_iter().map(Some).collect()),
                )]))
            }
            Ddl::MsckRepair { database, table } => {
                let opened = self.registrable(&database, &table).await?;
                let mut registry = registered(&opened);
                let known: BTreeSet<Vec<Value>> =
                    registry.iter().map(|p| p.values.clone()).collect();
                let listed = listed_partitions(&opened).await?;
                let added: Vec<Partition> = listed
                    .into_iter()
                    .filter(|p| !known.contains(&p.values))
                    .collect();
                let names = added.iter().map(|p| p.name(opened.table())).collect();
                if !added.is_empty() || opened.table().registry.is_none() {
                    registry.extend(added);
                    Catalog::write_registry(root, opened.table(), &registry)?;
                    self.tables.reload()?;
                }
                Ok(partition_rows(names, "added"))
            }
            Ddl::AddPartitions {
                database,
                table,
                if_not_exists,
                partitions,
            } => {
                let opened = self.registrable(&database, &table).await?;
                let mut registry = registration_base(&opened).await?;
                let mut added = Vec::new();
                for (spec, location) in partitions {
                    let values = spec_values(&opened, &spec)?;
                    let name = partition_name(opened.table(), &values);
                    if registry.iter().any(|p| p.values == values) {
                        if if_not_exists {
                            continue;
                        }
                        return Err(self.rejected(
                            &opened,
                            format!(
                                "partition {name} already exists (say IF NOT EXISTS to skip it)"
                            ),
                        ));
                    }
                    let prefix =
                        partition_prefix(opened.table(), &values, location.as_deref(), root)
                            .map_err(|m| self.rejected(&opened, m))?;
                    registry.push(Partition { values, prefix });
                    added.push(name);
                }
                Catalog::write_registry(root, opened.table(), &registry)?;
                self.tables.reload()?;
                Ok(partition_rows(added, "added"))
            }
            Ddl::DropPartitions {
                database,
                table,
                if_exists,
                partitions,
            } => {
                let opened = self.registrable(&database, &table).await?;
                let mut registry = registration_base(&opened).await?;
                let mut dropped = Vec::new();
                for spec in partitions {
                    let values = spec_values(&opened, &spec)?;
                    let name = partition_name(opened.table(), &values);
                    let before = registry.len();
                    registry.retain(|p| p.values != values);
                    if registry.len() == before {
                        if if_exists {
                            continue;
                        }
                        return Err(self.rejected(
                            &opened,
                            format!("partition {name} does not exist (say IF EXISTS to skip it)"),
                        ));
                    }
                    dropped.push(name);
                }
                Catalog::write_registry(root, opened.table(), &registry)?;
                self.tables.reload()?;
                Ok(partition_rows(dropped, "dropped"))
            }
        }
    }

    /// A partitioned table whose partitions may be registered (projection computes them).
    async fn registrable(
        &self,
        database: &str,
        table: &str,
    ) -> Result<std::sync::Arc<CatalogTable>> {
        let opened = self.tables.open(database, table).await?;
        let t = opened.table();
        if t.partition_columns.is_empty() {
            return Err(self.rejected(&opened, "it has no partition columns".into()));
        }
        if t.projection.is_some() {
            return Err(self.rejected(
                &opened,
                "it uses partition projection: its partitions are computed, not registered".into(),
            ));
        }
        Ok(opened)
    }

    fn rejected(&self, table: &CatalogTable, message: String) -> EngineError {
        EngineError::Rejected(format!(
            "table '{}': {message}",
            table.table().qualified_name()
        ))
    }
}

/// The table's registered partitions (none yet if it has no registry).
fn registered(table: &CatalogTable) -> Vec<Partition> {
    table
        .table()
        .registry
        .as_ref()
        .map(|r| r.as_ref().clone())
        .unwrap_or_default()
}

/// The partitions a registration edits: the registry, or the first time what a listing sees
/// today, so that registering one partition does not hide the others.
async fn registration_base(table: &CatalogTable) -> Result<Vec<Partition>> {
    match &table.table().registry {
        Some(registry) => Ok(registry.as_ref().clone()),
        None => listed_partitions(table).await,
    }
}

/// Every partition of the table's Hive layout, by listing it.
async fn listed_partitions(table: &CatalogTable) -> Result<Vec<Partition>> {
    Ok(hive_partitions(
        table.table(),
        table.store().as_ref(),
        &PartitionFilter::all(),
    )
    .await?)
}

/// The partition values a `PARTITION (k='v', …)` clause names, in the table's column order.
fn spec_values(table: &CatalogTable, spec: &PartitionSpec) -> Result<Vec<Value>> {
    let t = table.table();
    let reject = |message: String| {
        EngineError::Rejected(format!("table '{}': {message}", t.qualified_name()))
    };
    if let Some((key, _)) = spec.iter().find(|(k, _)| t.partition_column(k).is_none()) {
        return Err(reject(format!("'{key}' is not a partition column")));
    }
    t.partition_columns
        .iter()
        .map(|column| {
            let (_, text) = spec
                .iter()
                .find(|(k, _)| *k == column.name)
                .ok_or_else(|| reject(format!("PARTITION (…) must give '{}'", column.name)))?;
            Value::parse(text, &column.ty).ok_or_else(|| {
                reject(format!(
                    "'{text}' is not a valid {} for partition column '{}'",
                    column.ty, column.name
                ))
            })
        })
        .collect()
}

/// The data columns of a table that declares none, as read from its files.
fn read_columns(table: &CatalogTable) -> Vec<Column> {
    let declared = table.table();
    table
        .schema()
        .fields()
        .iter()
        .filter(|f| declared.partition_column(f.name()).is_none())
        .map(|f| {
            let ty = athena_name(f.data_type())
                .parse::<ColumnType>()
                .unwrap_or(ColumnType::String);
            Column::new(f.name(), ty)
        })
        .collect()
}
