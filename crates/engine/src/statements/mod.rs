//! Catalog statements: commands answered from the catalog (`SHOW TABLES`, `DESCRIBE`, `SHOW
//! PARTITIONS`) and DDL run against the catalog directory, where every change is one atomic
//! file write after which the tables are reloaded. Each takes the session's [`Tables`].

use std::collections::BTreeSet;

use datafusion::arrow::array::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use minerva_catalog::{
    Catalog, Column, ColumnType, DEFAULT_DATABASE, Partition, PartitionFilter, TableDefinition,
    Value, hive_partitions, partition_name, partition_prefix,
};

use minerva_sql::{Command, Ddl, PartitionSpec, show_create_table};

mod answer;
mod lock;
mod views;

use crate::error::{EngineError, PartitionProblem, Rejection, Result};
use crate::scan::{CatalogTable, Tables};
use crate::types::athena_name;
use answer::result;
pub(crate) use answer::{Values, batch};
use lock::lock_catalog;
pub(crate) use views::run_view;

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

/// Carries out `ddl` on the catalog of `tables`, and reloads it.
pub(crate) async fn run_ddl(tables: &Tables, ddl: Ddl) -> Result<RecordBatch> {
    // An edit reads catalog files, changes them and writes them back: it holds the catalog's
    // lock throughout and starts from the files as the last edit (of any process) left them.
    let _lock = match ddl {
        Ddl::ShowCreateTable { .. } | Ddl::ShowDatabases => None,
        _ => Some(lock_catalog(tables).await?),
    };
    match ddl {
        Ddl::CreateTable {
            table,
            if_not_exists,
        } => create_table(tables, &table, if_not_exists),
        Ddl::CreateDatabase {
            name,
            if_not_exists,
        } => create_database(tables, &name, if_not_exists),
        Ddl::DropTable {
            database,
            table,
            if_exists,
        } => drop_table(tables, &database, &table, if_exists),
        Ddl::ShowCreateTable { database, table } => show_create(tables, &database, &table).await,
        Ddl::ShowDatabases => Ok(show_databases(&tables.catalog())),
        Ddl::MsckRepair { database, table } => msck_repair(tables, &database, &table).await,
        Ddl::AddPartitions {
            database,
            table,
            if_not_exists,
            partitions,
        } => add_partitions(tables, &database, &table, if_not_exists, partitions).await,
        Ddl::DropPartitions {
            database,
            table,
            if_exists,
            partitions,
        } => drop_partitions(tables, &database, &table, if_exists, partitions).await,
    }
}

/// `CREATE EXTERNAL TABLE`: one new table file.
fn create_table(
    tables: &Tables,
    table: &TableDefinition,
    if_not_exists: bool,
) -> Result<RecordBatch> {
    let catalog = tables.catalog();
    let name = table.qualified_name();
    if catalog.table(&table.database, &table.name).is_some() {
        return if if_not_exists {
            Ok(result(format!("table {name} already exists")))
        } else {
            Err(Rejection::TableExists { table: name }.into())
        };
    }
    let path = Catalog::write_table(catalog.root(), table)?;
    tables.reload()?;
    Ok(result(format!(
        "created table {name} in {}",
        path.display()
    )))
}

/// `CREATE DATABASE`: a new directory.
fn create_database(tables: &Tables, name: &str, if_not_exists: bool) -> Result<RecordBatch> {
    let created = Catalog::create_database(tables.catalog().root(), name)?;
    if !created && !if_not_exists {
        return Err(Rejection::DatabaseExists {
            database: name.to_string(),
        }
        .into());
    }
    tables.reload()?;
    Ok(result(if created {
        format!("created database {name}")
    } else {
        format!("database {name} already exists")
    }))
}

/// `DROP TABLE`: the table file goes, the data stays.
fn drop_table(
    tables: &Tables,
    database: &str,
    table: &str,
    if_exists: bool,
) -> Result<RecordBatch> {
    let catalog = tables.catalog();
    if let Some(Ok(minerva_catalog::Entry::View(_))) = catalog.entry(database, table) {
        return Err(Rejection::WrongKind {
            name: format!("{database}.{table}"),
            is: "a view",
            expected: "a table",
            instead: "use DROP VIEW",
        }
        .into());
    }
    let removed = Catalog::remove_table(catalog.root(), database, table)?;
    if !removed && !if_exists {
        catalog.lookup(database, table)?;
    }
    tables.reload()?;
    Ok(result(if removed {
        format!("dropped table {database}.{table} (its data is untouched)")
    } else {
        format!("table {database}.{table} does not exist")
    }))
}

/// `SHOW CREATE TABLE`: the DDL that recreates the table. Only a table that declares no
/// columns needs its files read.
async fn show_create(tables: &Tables, database: &str, table: &str) -> Result<RecordBatch> {
    let catalog = tables.catalog();
    match catalog.find(database, table)? {
        minerva_catalog::Entry::Table(_) => {}
        // A live table has no DDL: its definition is its file.
        minerva_catalog::Entry::Live(_) => {
            let path = catalog.root().join(database).join(format!("{table}.toml"));
            let text = std::fs::read_to_string(&path)
                .map_err(|source| minerva_catalog::CatalogError::ReadTableFile { path, source })?;
            let lines = text.lines().map(|l| Some(l.to_string())).collect();
            return Ok(batch(vec![("createtab_stmt", Values::Text(lines))]));
        }
        minerva_catalog::Entry::View(_) => {
            return Err(Rejection::WrongKind {
                name: format!("{database}.{table}"),
                is: "a view",
                expected: "a table",
                instead: "use SHOW CREATE VIEW",
            }
            .into());
        }
    }
    let declared = catalog.lookup(database, table)?;
    let columns = match declared.columns() {
        Some(columns) => columns.to_vec(),
        None => read_columns(&*tables.open(database, table).await?),
    };
    let ddl = show_create_table(declared.definition(), &columns);
    let lines = ddl.lines().map(|l| Some(l.to_string())).collect();
    Ok(batch(vec![("createtab_stmt", Values::Text(lines))]))
}

/// `SHOW DATABASES`: the catalog's directories, and `default` always.
fn show_databases(catalog: &Catalog) -> RecordBatch {
    let mut names: BTreeSet<String> = catalog.databases().into_iter().map(String::from).collect();
    names.insert(DEFAULT_DATABASE.to_string());
    batch(vec![(
        "database_name",
        Values::Text(names.into_iter().map(Some).collect()),
    )])
}

/// `MSCK REPAIR TABLE`: registers the partitions a listing finds that are not registered.
async fn msck_repair(tables: &Tables, database: &str, table: &str) -> Result<RecordBatch> {
    let opened = registrable(tables, database, table).await?;
    let mut registry = registered(&opened);
    let known: BTreeSet<Vec<Value>> = registry.iter().map(|p| p.values.clone()).collect();
    let listed = listed_partitions(&opened).await?;
    let added: Vec<Partition> = listed
        .into_iter()
        .filter(|p| !known.contains(&p.values))
        .collect();
    let names = added
        .iter()
        .map(|p| p.name(opened.table().partition_columns()))
        .collect();
    if !added.is_empty() || opened.table().registry().is_none() {
        registry.extend(added);
        save_registry(tables, &opened, &registry)?;
    }
    Ok(partition_rows(names, "added"))
}

/// `ALTER TABLE … ADD PARTITION`: registers each, at its Hive prefix or its `LOCATION`.
async fn add_partitions(
    tables: &Tables,
    database: &str,
    table: &str,
    if_not_exists: bool,
    partitions: Vec<(PartitionSpec, Option<String>)>,
) -> Result<RecordBatch> {
    let root = tables.catalog().root().to_path_buf();
    let opened = registrable(tables, database, table).await?;
    let mut registry = registration_base(&opened).await?;
    let mut added = Vec::new();
    for (spec, location) in partitions {
        let values = spec_values(&opened, &spec)?;
        let name = partition_name(opened.table(), &values);
        if registry.iter().any(|p| p.values == values) {
            if if_not_exists {
                continue;
            }
            return Err(rejected(
                &opened,
                PartitionProblem::Exists { partition: name },
            ));
        }
        let prefix = partition_prefix(opened.table(), &values, location.as_deref(), &root)
            .map_err(|e| rejected(&opened, PartitionProblem::Location(e)))?;
        registry.push(Partition { values, prefix });
        added.push(name);
    }
    save_registry(tables, &opened, &registry)?;
    Ok(partition_rows(added, "added"))
}

/// `ALTER TABLE … DROP PARTITION`: unregisters each; the data stays.
async fn drop_partitions(
    tables: &Tables,
    database: &str,
    table: &str,
    if_exists: bool,
    partitions: Vec<PartitionSpec>,
) -> Result<RecordBatch> {
    let opened = registrable(tables, database, table).await?;
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
            return Err(rejected(
                &opened,
                PartitionProblem::Missing { partition: name },
            ));
        }
        dropped.push(name);
    }
    save_registry(tables, &opened, &registry)?;
    Ok(partition_rows(dropped, "dropped"))
}

/// Writes `registry` as the table's registered partitions, and reloads the catalog.
fn save_registry(tables: &Tables, table: &CatalogTable, registry: &[Partition]) -> Result<()> {
    Catalog::write_registry(tables.catalog().root(), table.table(), registry)?;
    tables.reload()?;
    Ok(())
}

/// A partitioned table whose partitions may be registered (projection computes them).
async fn registrable(
    tables: &Tables,
    database: &str,
    table: &str,
) -> Result<std::sync::Arc<CatalogTable>> {
    let opened = tables.open(database, table).await?;
    let t = opened.table();
    if t.partition_columns().is_empty() {
        return Err(rejected(&opened, PartitionProblem::NotPartitioned));
    }
    if t.projection().is_some() {
        return Err(rejected(&opened, PartitionProblem::Projected));
    }
    Ok(opened)
}

fn rejected(table: &CatalogTable, problem: PartitionProblem) -> EngineError {
    Rejection::Partitions {
        table: table.table().qualified_name(),
        problem,
    }
    .into()
}

/// Answers `command` from the catalog of `tables`.
pub(crate) async fn run_command(
    tables: &Tables,
    state: &dyn Session,
    command: Command,
) -> Result<RecordBatch> {
    match command {
        Command::ShowTables { database, like } => {
            Ok(show_tables(tables, database.as_deref(), like.as_deref()))
        }
        Command::ShowFunctions { like } => Ok(show_functions(state, like.as_deref())),
        Command::Describe { database, table }
            if !matches!(
                tables.catalog().find(&database, &table)?,
                minerva_catalog::Entry::Table(_)
            ) =>
        {
            // A live table or a view: its columns as its query gives them.
            let provider = tables.provider(&database, &table).await?;
            let schema = provider.schema();
            let fields = schema.fields();
            Ok(batch(vec![
                (
                    "column_name",
                    Values::Text(fields.iter().map(|f| Some(f.name().clone())).collect()),
                ),
                (
                    "data_type",
                    Values::Text(
                        fields
                            .iter()
                            .map(|f| Some(athena_name(f.data_type())))
                            .collect(),
                    ),
                ),
                ("partition_key", Values::Flag(vec![false; fields.len()])),
                ("comment", Values::Text(vec![None; fields.len()])),
            ]))
        }
        Command::Describe { database, table } => {
            let opened = tables.open(&database, &table).await?;
            let declared = opened.table();
            let (mut names, mut types, mut partition, mut comments) =
                (vec![], vec![], vec![], vec![]);
            for field in datafusion::catalog::TableProvider::schema(opened.as_ref()).fields() {
                let name = field.name();
                let column = declared
                    .columns()
                    .into_iter()
                    .flatten()
                    .chain(declared.partition_columns())
                    .find(|c| &c.name == name);
                names.push(Some(name.clone()));
                types.push(Some(column.map_or_else(
                    || athena_name(field.data_type()),
                    |c| c.ty.to_string(),
                )));
                partition.push(declared.partition_column(name).is_some());
                comments.push(column.and_then(|c| c.comment.clone()));
            }
            Ok(batch(vec![
                ("column_name", Values::Text(names)),
                ("data_type", Values::Text(types)),
                ("partition_key", Values::Flag(partition)),
                ("comment", Values::Text(comments)),
            ]))
        }
        Command::ShowPartitions { database, table } => {
            let opened = tables.open(&database, &table).await?;
            let selection = opened.partitions(state, &[]).await?;
            let names = selection
                .partitions
                .iter()
                .map(|p| Some(p.name(opened.table().partition_columns())))
                .collect();
            Ok(batch(vec![("partition", Values::Text(names))]))
        }
    }
}

/// `SHOW FUNCTIONS [LIKE pattern]`: every function the session has, with its kind and, for a
/// Trino function, the topic of Trino's documentation it is in (`docs/functions.md` says how
/// Minerva follows each).
fn show_functions(state: &dyn Session, like: Option<&str>) -> RecordBatch {
    let mut rows: Vec<(String, &str)> = Vec::new();
    rows.extend(
        state
            .scalar_functions()
            .keys()
            .map(|n| (n.clone(), "scalar")),
    );
    rows.extend(
        state
            .aggregate_functions()
            .keys()
            .map(|n| (n.clone(), "aggregate")),
    );
    rows.extend(
        state
            .window_functions()
            .keys()
            .map(|n| (n.clone(), "window")),
    );
    rows.retain(|(name, _)| {
        !name.starts_with('$') && like.is_none_or(|pattern| like_matches(pattern, name))
    });
    rows.sort();
    rows.dedup();
    let topics = rows
        .iter()
        .map(|(name, _)| crate::trino::catalogue::topic(name).map(str::to_string))
        .collect();
    let (names, kinds): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .map(|(name, kind)| (Some(name), Some(kind.to_string())))
        .unzip();
    batch(vec![
        ("function", Values::Text(names)),
        ("function_type", Values::Text(kinds)),
        ("trino_topic", Values::Text(topics)),
    ])
}

/// `SHOW TABLES LIKE`'s pattern, read both ways an analyst writes it: Athena's (`*` any text,
/// `|` or) and Trino's SQL `LIKE` (`%` any text, `_` any one character). Without case.
fn table_pattern_matches(pattern: &str, name: &str) -> bool {
    pattern
        .split('|')
        .any(|alternative| like_matches(&alternative.trim().replace('*', "%"), name))
}

/// SQL `LIKE`: `%` is any run of characters, `_` any one character (case-insensitive, as
/// function names are).
fn like_matches(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('_', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    go(&p, &t)
}

fn show_tables(tables: &Tables, database: Option<&str>, like: Option<&str>) -> RecordBatch {
    let catalog = tables.catalog();
    let (mut dbs, mut names, mut formats, mut partitioned, mut locations) =
        (vec![], vec![], vec![], vec![], vec![]);
    for db in catalog
        .databases()
        .into_iter()
        .filter(|db| database.is_none_or(|d| d == *db))
    {
        for name in catalog.table_names(db) {
            if like.is_some_and(|pattern| !table_pattern_matches(pattern, name)) {
                continue;
            }
            dbs.push(Some(db.to_string()));
            names.push(Some(name.to_string()));
            // A broken table file is listed, with its details missing; querying it says why.
            let table = catalog.table(db, name).and_then(Result::ok);
            formats.push(match catalog.entry(db, name) {
                Some(Ok(minerva_catalog::Entry::Live(live))) => Some(format!(
                    "live: {}.{} + {}.{}",
                    live.batch().0,
                    live.batch().1,
                    live.speed().0,
                    live.speed().1
                )),
                Some(Ok(minerva_catalog::Entry::View(_))) => Some("view".to_string()),
                _ => table.as_ref().map(|t| t.format().to_string()),
            });
            partitioned.push(table.as_ref().map(|t| {
                t.partition_columns()
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }));
            locations.push(table.as_ref().map(|t| t.location().to_string()));
        }
    }
    batch(vec![
        ("database", Values::Text(dbs)),
        ("table", Values::Text(names)),
        ("format", Values::Text(formats)),
        ("partitioned_by", Values::Text(partitioned)),
        ("location", Values::Text(locations)),
    ])
}

/// The table's registered partitions (none yet if it has no registry).
fn registered(table: &CatalogTable) -> Vec<Partition> {
    table
        .table()
        .registry()
        .as_ref()
        .map(|r| r.as_ref().clone())
        .unwrap_or_default()
}

/// The partitions a registration edits: the registry, or the first time what a listing sees
/// today, so that registering one partition does not hide the others.
async fn registration_base(table: &CatalogTable) -> Result<Vec<Partition>> {
    match &table.table().registry() {
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
    let reject = |problem| rejected(table, problem);
    if let Some((key, _)) = spec.iter().find(|(k, _)| t.partition_column(k).is_none()) {
        return Err(reject(PartitionProblem::NotAColumn { key: key.clone() }));
    }
    t.partition_columns()
        .iter()
        .map(|column| {
            let (_, text) = spec
                .iter()
                .find(|(k, _)| *k == column.name)
                .ok_or_else(|| {
                    reject(PartitionProblem::ValueMissing {
                        column: column.name.clone(),
                    })
                })?;
            Value::parse(text, &column.ty).ok_or_else(|| {
                reject(PartitionProblem::BadValue {
                    value: text.clone(),
                    ty: column.ty.to_string(),
                    column: column.name.clone(),
                })
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
