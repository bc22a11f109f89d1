//! The catalog as the console's tree: databases, their tables, views and live tables, each
//! table's columns with their types, its partition columns and how its partitions are found.

use datafusion::common::TableReference;
use minerva_engine::{Engine, athena_name};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub(crate) struct Database {
    name: String,
    tables: Vec<Table>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Table {
    name: String,
    /// `table`, `view` or `live`.
    kind: &'static str,
    columns: Vec<Column>,
    /// How its partitions are found: `projection`, `registry`, `listing`; none without any.
    #[serde(skip_serializing_if = "Option::is_none")]
    partitions: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    /// Why it does not open, if it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Column {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    partition: bool,
}

/// The tree: the catalog's table files, and each table's columns as the engine reads them
/// (views' and inferred tables' included); a table that does not open says why.
pub(crate) async fn tree(engine: &Engine) -> Vec<Database> {
    let catalog = engine.catalog();
    let mut databases = Vec::new();
    for db in catalog.databases() {
        let views = catalog.view_names(db);
        let mut tables = Vec::new();
        for name in catalog.table_names(db) {
            let file = catalog.table(db, name).and_then(Result::ok);
            let kind = match (&file, views.contains(&name)) {
                (Some(_), _) => "table",
                (None, true) => "view",
                (None, false) => "live",
            };
            let partition_names: Vec<String> = (file.iter())
                .flat_map(|t| t.partition_columns().iter().map(|c| c.name.clone()))
                .collect();
            let partitions = file
                .as_ref()
                .filter(|_| !partition_names.is_empty())
                .map(|t| {
                    if t.projection().is_some() {
                        "projection"
                    } else if t.registry().is_some() {
                        "registry"
                    } else {
                        "listing"
                    }
                });
            let (columns, error) = match engine
                .session()
                .table(TableReference::partial(db, name))
                .await
            {
                Ok(frame) => (
                    (frame.schema().fields().iter())
                        .map(|f| Column {
                            partition: partition_names.contains(f.name()),
                            name: f.name().clone(),
                            ty: athena_name(f.data_type()),
                        })
                        .collect(),
                    None,
                ),
                Err(e) => (Vec::new(), Some(e.to_string())),
            };
            tables.push(Table {
                name: name.to_string(),
                kind,
                columns,
                partitions,
                location: file.map(|t| t.location().to_string()),
                error,
            });
        }
        databases.push(Database {
            name: db.to_string(),
            tables,
        });
    }
    databases
}
