//! A partition: its values and the prefix of its files; Hive's spelling of values in paths.

use object_store::path::{Path, PathPart};

use crate::column::Column;
use crate::value::Value;

/// Spells a partition value as Hive does in a directory name: control characters and a few
/// ASCII punctuation marks become `%XX`; everything else, non-ASCII text included, stays.
pub fn hive_escape(value: &str) -> String {
    const ESCAPED: &[char] = &[
        '"', '#', '%', '\'', '*', '/', ':', '=', '?', '\\', '{', '[', ']', '^',
    ];
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_ascii_control() || ESCAPED.contains(&c) {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// One partition of a table: its partition column values and the prefix holding its files.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Partition {
    /// One value per partition column, in the table's partition column order.
    pub values: Vec<Value>,
    /// Where the partition's files are, inside the table's object store.
    pub prefix: Path,
}

impl Partition {
    /// The partition's name as Athena's `SHOW PARTITIONS` prints it: `dt=2024-01-01/region=x`,
    /// given the table's partition columns.
    pub fn name(&self, columns: &[Column]) -> String {
        hive_name(columns, &self.values)
    }
}

/// `dt=2024-01-01/region=x`: values under their columns' names, escaped as Hive does.
pub(crate) fn hive_name(columns: &[Column], values: &[Value]) -> String {
    columns
        .iter()
        .zip(values)
        .map(|(c, v)| format!("{}={}", c.name, hive_escape(&v.to_string())))
        .collect::<Vec<_>>()
        .join("/")
}

/// Where a partition with these values lives in a Hive layout: `<root>/k1=v1/k2=v2`.
pub(crate) fn hive_prefix(root: Path, columns: &[Column], values: &[Value]) -> Path {
    columns
        .iter()
        .zip(values)
        .fold(root, |prefix, (column, value)| {
            prefix.join(PathPart::from(format!(
                "{}={}",
                column.name,
                hive_escape(&value.to_string())
            )))
        })
}
