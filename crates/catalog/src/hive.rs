//! Finding a Hive-layout table's partitions (`dt=2024-01-01/region=…/`) that a filter allows.
//!
//! Level by level, outermost partition column first: where the filter pins a column to a few
//! values (`=`, `IN`) the next prefixes are spelled directly, without a LIST; otherwise the level
//! is listed once per parent prefix (with a delimiter, so only directory names come back) and
//! the names are parsed and tested against the column's domain. Nothing above the table's root
//! is ever listed.

use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::path::PathPart;
use percent_encoding::percent_decode_str;

use crate::column::Column;
use crate::domain::PartitionFilter;
use crate::error::{CatalogError, Result};
use crate::partition::{Partition, hive_escape};
use crate::table::Table;
use crate::value::Value;

/// At most this many prefixes are spelled from `=`/`IN` values at one level; more are listed.
const MAX_SPELLED_PREFIXES: usize = 10_000;

/// LIST requests in flight at once while walking a level.
const LIST_CONCURRENCY: usize = 16;

/// The partitions of `table` (a Hive layout under its location) that `filter` allows, sorted by
/// value. A table without partition columns has one partition: its root.
///
/// Partitions spelled from `=`/`IN` values are not checked for existence: an absent one simply
/// holds no files.
pub async fn hive_partitions(
    table: &Table,
    store: &dyn ObjectStore,
    filter: &PartitionFilter,
) -> Result<Vec<Partition>> {
    let mut partitions = vec![Partition {
        values: Vec::new(),
        prefix: table.location().prefix(),
    }];
    if filter.is_none() {
        return Ok(Vec::new());
    }
    for column in table.partition_columns() {
        let domain = filter.domain(&column.name);
        let spelled = domain
            .as_points()
            .filter(|points| points.len() * partitions.len() <= MAX_SPELLED_PREFIXES)
            .and_then(|points| {
                points
                    .into_iter()
                    .map(|v| spell(column, v))
                    .collect::<Option<Vec<_>>>()
            });
        partitions = match spelled {
            Some(children) => partitions
                .iter()
                .flat_map(|parent| {
                    children
                        .iter()
                        .map(|(value, part)| child(parent, value.clone(), part.clone()))
                })
                .collect(),
            None => {
                // Each listing owns its parent: a future borrowing the closure's argument trips up
                // the `Send` proof of async-trait callers (rust-lang/rust#102211).
                let listings = partitions
                    .into_iter()
                    .map(|parent| list_level(table, store, column, parent));
                let listed = futures::stream::iter(listings)
                    .buffer_unordered(LIST_CONCURRENCY)
                    .try_collect::<Vec<_>>()
                    .await?;
                listed
                    .into_iter()
                    .flatten()
                    .filter(|p| domain.contains(p.values.last().expect("a value was pushed")))
                    .collect()
            }
        };
    }
    partitions.sort();
    Ok(partitions)
}

fn child(parent: &Partition, value: Value, part: PathPart<'static>) -> Partition {
    let mut values = parent.values.clone();
    values.push(value);
    Partition {
        values,
        prefix: parent.prefix.clone().join(part),
    }
}

/// The directory name for `column = value`, when Hive would not escape it (an escaped name has
/// more than one spelling in the wild, so those levels are listed instead).
fn spell(column: &Column, value: &Value) -> Option<(Value, PathPart<'static>)> {
    let text = value.to_string();
    (hive_escape(&text) == text).then(|| {
        (
            value.clone(),
            PathPart::from(format!("{}={text}", column.name)),
        )
    })
}

/// Lists the directories directly under `parent` and parses those named `column=value`.
async fn list_level(
    table: &Table,
    store: &dyn ObjectStore,
    column: &Column,
    parent: Partition,
) -> Result<Vec<Partition>> {
    let listing = store
        .list_with_delimiter(Some(&parent.prefix))
        .await
        .map_err(|source| CatalogError::List {
            table: table.qualified_name(),
            location: format!("{}/{}/", table.location().store_url(), parent.prefix),
            source,
        })?;
    let mut children = Vec::new();
    for prefix in listing.common_prefixes {
        let Some(part) = prefix.parts().next_back() else {
            continue;
        };
        // object_store percent-encodes some characters of a path part; Hive escapes others.
        let name = percent_decode_str(part.as_ref())
            .decode_utf8_lossy()
            .into_owned();
        let Some((key, raw)) = name.split_once('=') else {
            continue;
        };
        if !key.eq_ignore_ascii_case(&column.name) {
            continue;
        }
        let text = percent_decode_str(raw).decode_utf8_lossy();
        let value =
            Value::parse(&text, &column.ty).ok_or_else(|| CatalogError::PartitionValue {
                table: table.qualified_name(),
                path: format!("{prefix}/"),
                column: column.name.clone(),
                value: text.to_string(),
                expected: column.ty.to_string(),
            })?;
        let mut values = parent.values.clone();
        values.push(value);
        children.push(Partition { values, prefix });
    }
    Ok(children)
}

#[cfg(test)]
mod tests {
    use std::ops::Bound;
    use std::sync::Arc;

    use chrono::NaiveDate;
    use object_store::memory::InMemory;
    use object_store::path::Path;
    use object_store::{ObjectStoreExt, PutPayload};

    use super::*;
    use crate::domain::Domain;
    use crate::location::Location;
    use crate::table::{Format, TableDefinition};
    use crate::types::ColumnType;

    fn table(partition_columns: Vec<Column>) -> Table {
        let base = std::path::Path::new("/");
        let location = Location::parse("memory:///lake/views", base).unwrap();
        let mut definition = TableDefinition::new("default", "views", location, Format::Parquet);
        definition.partition_columns = partition_columns;
        Table::new(definition, base).unwrap()
    }

    fn date(s: &str) -> Value {
        Value::Date(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
    }

    async fn store_with(paths: &[&str]) -> Arc<InMemory> {
        let store = Arc::new(InMemory::new());
        for path in paths {
            store
                .put(&Path::from(*path), PutPayload::from_static(b"x"))
                .await
                .unwrap();
        }
        store
    }

    fn names(table: &Table, partitions: &[Partition]) -> Vec<String> {
        partitions
            .iter()
            .map(|p| p.name(table.partition_columns()))
            .collect()
    }

    #[tokio::test]
    async fn lists_and_filters_a_date_range() {
        let store = store_with(&[
            "lake/views/dt=2024-01-01/a.parquet",
            "lake/views/dt=2024-01-02/a.parquet",
            "lake/views/dt=2024-01-03/a.parquet",
            "lake/views/_SUCCESS",
            "lake/views/_temporary/x",
        ])
        .await;
        let t = table(vec![Column::new("dt", ColumnType::Date)]);
        let mut filter = PartitionFilter::all();
        filter.and(
            "dt",
            Domain::range(Bound::Included(date("2024-01-02")), Bound::Unbounded),
        );
        let found = hive_partitions(&t, store.as_ref(), &filter).await.unwrap();
        assert_eq!(names(&t, &found), ["dt=2024-01-02", "dt=2024-01-03"]);
        assert_eq!(found[0].prefix.as_ref(), "lake/views/dt=2024-01-02");
        let all = hive_partitions(&t, store.as_ref(), &PartitionFilter::all())
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
    }

    #[tokio::test]
    async fn equality_spells_prefixes_without_listing() {
        // The store is empty: spelled prefixes are not listed, so they come back anyway.
        let store = store_with(&[]).await;
        let t = table(vec![
            Column::new("dt", ColumnType::Date),
            Column::new("region", ColumnType::String),
        ]);
        let mut filter = PartitionFilter::all();
        filter.and(
            "dt",
            Domain::points([date("2024-01-02"), date("2024-01-01")]),
        );
        filter.and("region", Domain::point(Value::String("서울 강남구".into())));
        let found = hive_partitions(&t, store.as_ref(), &filter).await.unwrap();
        assert_eq!(
            names(&t, &found),
            [
                "dt=2024-01-01/region=서울 강남구",
                "dt=2024-01-02/region=서울 강남구"
            ]
        );
    }

    #[tokio::test]
    async fn multi_key_layouts_mix_spelling_and_listing() {
        let store = store_with(&[
            "lake/views/dt=2024-01-01/region=a/f.parquet",
            "lake/views/dt=2024-01-01/region=b/f.parquet",
            "lake/views/dt=2024-01-02/region=a/f.parquet",
            "lake/views/dt=2024-01-02/region=a%3Ab/f.parquet",
        ])
        .await;
        let t = table(vec![
            Column::new("dt", ColumnType::Date),
            Column::new("region", ColumnType::String),
        ]);
        let mut filter = PartitionFilter::all();
        filter.and("dt", Domain::point(date("2024-01-02")));
        let found = hive_partitions(&t, store.as_ref(), &filter).await.unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[1].values[1],
            Value::String("a:b".into()),
            "Hive escapes are decoded"
        );
        assert_eq!(
            names(&t, &found),
            ["dt=2024-01-02/region=a", "dt=2024-01-02/region=a%3Ab"]
        );

        let mut none = PartitionFilter::all();
        none.and("dt", Domain::none());
        assert!(
            hive_partitions(&t, store.as_ref(), &none)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_bad_partition_value_names_the_directory() {
        let store = store_with(&["lake/views/dt=2024-13-01/a.parquet"]).await;
        let t = table(vec![Column::new("dt", ColumnType::Date)]);
        let error = hive_partitions(&t, store.as_ref(), &PartitionFilter::all())
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "table 'default.views': partition directory 'lake/views/dt=2024-13-01/' has value '2024-13-01' for column 'dt', which is not a valid date"
        );
    }

    #[tokio::test]
    async fn an_unpartitioned_table_is_its_root() {
        let store = store_with(&[]).await;
        let t = table(vec![]);
        let found = hive_partitions(&t, store.as_ref(), &PartitionFilter::all())
            .await
            .unwrap();
        assert_eq!(
            found,
            vec![Partition {
                values: vec![],
                prefix: Path::from("lake/views")
            }]
        );
    }
}
