//! Registered partitions, kept beside the table file as `<table>.partitions`.
//!
//! One partition per line, by its Hive name (`dt=2024-01-01/region=x`, values escaped as in
//! directory names), optionally followed by a tab and the partition's location when that is not
//! the default `<table location>/<name>/`. Lines starting with `#` are comments. Plain lines
//! keep a reviewable diff in git when `MSCK REPAIR TABLE` adds a day.

use std::path::Path as FsPath;

use percent_encoding::percent_decode_str;

use crate::error::ValueError;
use crate::location::Location;
use crate::partition::{Partition, hive_name};
use crate::table::Table;
use crate::value::Value;

/// The file's first line, saying what it is.
const HEADER: &str = "# Registered partitions: one per line, `name` or `name<TAB>location`. Written by MSCK REPAIR TABLE and ALTER TABLE … PARTITION.";

/// A partition's Hive name: `dt=2024-01-01/region=x`.
pub fn partition_name(table: &Table, values: &[Value]) -> String {
    hive_name(table.partition_columns(), values)
}

/// The values of a partition named `k1=v1/k2=v2`, one per partition column, in order.
pub fn parse_partition_name(table: &Table, name: &str) -> Result<Vec<Value>, ValueError> {
    let parts: Vec<&str> = name.trim_matches('/').split('/').collect();
    if parts.len() != table.partition_columns().len() {
        return Err(ValueError::PartitionArity {
            name: name.to_string(),
            expected: table.partition_columns().len(),
            columns: column_list(table),
        });
    }
    parts
        .iter()
        .zip(table.partition_columns())
        .map(|(part, column)| {
            let (key, raw) = part
                .split_once('=')
                .ok_or_else(|| ValueError::NotKeyValue {
                    part: part.to_string(),
                    name: name.to_string(),
                })?;
            if !key.eq_ignore_ascii_case(&column.name) {
                return Err(ValueError::PartitionKey {
                    name: name.to_string(),
                    key: key.to_string(),
                    column: column.name.clone(),
                    columns: column_list(table),
                });
            }
            let text = percent_decode_str(raw).decode_utf8_lossy();
            Value::parse(&text, &column.ty).ok_or_else(|| ValueError::PartitionValue {
                value: text.to_string(),
                column: column.name.clone(),
                ty: column.ty.to_string(),
            })
        })
        .collect()
}

fn column_list(table: &Table) -> String {
    table
        .partition_columns()
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a partition registered with `location` lives in the table's store.
pub fn partition_prefix(
    table: &Table,
    values: &[Value],
    location: Option<&str>,
    base: &FsPath,
) -> Result<object_store::path::Path, ValueError> {
    match location {
        None => Ok(table.hive_prefix(values)),
        Some(written) => {
            let location = Location::parse(written, base)?;
            if location.store_url() != table.location().store_url() {
                return Err(ValueError::OtherStore {
                    what: "partition location",
                    written: written.to_string(),
                    store: location.store_url(),
                    table_store: table.location().store_url(),
                });
            }
            Ok(location.prefix())
        }
    }
}

/// Reads a registry file. Errors carry the 1-based line.
pub(crate) fn parse_registry(
    table: &Table,
    text: &str,
    base: &FsPath,
) -> Result<Vec<Partition>, (usize, String)> {
    let mut partitions = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, location) = match line.split_once('\t') {
            Some((name, location)) => (name, Some(location.trim())),
            None => (line, None),
        };
        let values =
            parse_partition_name(table, name.trim()).map_err(|e| (i + 1, e.to_string()))?;
        let prefix =
            partition_prefix(table, &values, location, base).map_err(|e| (i + 1, e.to_string()))?;
        partitions.push(Partition { values, prefix });
    }
    partitions.sort();
    partitions.dedup_by(|a, b| a.values == b.values);
    Ok(partitions)
}

/// Writes a registry file's text: sorted, one partition per line.
pub(crate) fn render_registry(table: &Table, partitions: &[Partition]) -> String {
    let mut text = format!("{HEADER}\n");
    for partition in partitions {
        text.push_str(&partition.name(table.partition_columns()));
        if partition.prefix != table.hive_prefix(&partition.values) {
            text.push('\t');
            text.push_str(&table.location().store_url());
            text.push('/');
            text.push_str(partition.prefix.as_ref());
            text.push('/');
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::column::Column;
    use crate::table::{Format, TableDefinition};
    use crate::types::ColumnType;

    fn table() -> Table {
        let location = Location::parse("s3://bucket/t", FsPath::new("/")).unwrap();
        let mut definition = TableDefinition::new("default", "t", location, Format::Parquet);
        definition.partition_columns = vec![
            Column::new("dt", ColumnType::Date),
            Column::new("region", ColumnType::String),
        ];
        Table::new(definition, FsPath::new("/")).unwrap()
    }

    #[test]
    fn round_trips_names_and_locations() {
        let t = table();
        let text = "# comment\ndt=2024-01-02/region=a%3Ab\ndt=2024-01-01/region=x\ts3://bucket/elsewhere/x\n";
        let partitions = parse_registry(&t, text, FsPath::new("/")).unwrap();
        assert_eq!(partitions.len(), 2);
        assert_eq!(
            partitions[0].values,
            [
                Value::Date(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()),
                Value::String("x".into())
            ]
        );
        assert_eq!(partitions[0].prefix.as_ref(), "elsewhere/x");
        assert_eq!(partitions[1].values[1], Value::String("a:b".into()));
        // As a directory named `region=a%3Ab` is listed: object_store escapes the '%'.
        assert_eq!(
            partitions[1].prefix.as_ref(),
            "t/dt=2024-01-02/region=a%253Ab"
        );
        let rendered = render_registry(&t, &partitions);
        assert_eq!(
            parse_registry(&t, &rendered, FsPath::new("/")).unwrap(),
            partitions
        );
        assert!(rendered.contains("dt=2024-01-01/region=x\ts3://bucket/elsewhere/x/\n"));
    }

    #[test]
    fn bad_lines_name_the_line() {
        let t = table();
        for (text, line, message) in [
            (
                "dt=2024-01-01\n",
                1,
                "should name 2 partition column(s): dt, region",
            ),
            ("\ndt=2024-13-01/region=x\n", 2, "is not a valid date"),
            (
                "region=x/dt=2024-01-01\n",
                1,
                "has 'region' where partition column 'dt' belongs",
            ),
            (
                "dt=2024-01-01/region=x\tgs://other/x\n",
                1,
                "is in store 'gs://other'",
            ),
        ] {
            let (at, error) = parse_registry(&t, text, FsPath::new("/")).unwrap_err();
            assert_eq!(at, line, "{text}");
            assert!(error.contains(message), "{error}");
        }
    }
}
