//! What a way of finding partitions needs to know of its table: its name, where it is, and its
//! partition columns. Partition schemes take this rather than the whole table, which holds them.

use crate::column::Column;
use crate::location::Location;

/// A table's name, location and partition columns.
#[derive(Debug, Clone, Copy)]
pub struct Layout<'a> {
    /// The table's database.
    pub database: &'a str,
    /// The table's name.
    pub name: &'a str,
    /// Where its files are.
    pub location: &'a Location,
    /// Its partition columns, outermost first.
    pub partition_columns: &'a [Column],
}

impl Layout<'_> {
    /// `database.name`.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.database, self.name)
    }
}
