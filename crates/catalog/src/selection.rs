//! Choosing a table's partitions for a query: by projection, from the registry, or by listing.

use std::fmt;

use chrono::{DateTime, Utc};
use object_store::ObjectStore;

use crate::domain::PartitionFilter;
use crate::error::Result;
use crate::hive::hive_partitions;
use crate::partition::Partition;
use crate::table::Table;

/// How a table's partitions were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Computed from the table's `projection.*` properties; nothing listed.
    Projection,
    /// Read from the table's registered partitions.
    Registry,
    /// Found by listing the Hive layout under the table's location.
    Listing,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Projection => "projection",
            Self::Registry => "registry",
            Self::Listing => "listing",
        })
    }
}

/// The partitions a query needs, and how they were chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The chosen partitions, sorted by value.
    pub partitions: Vec<Partition>,
    /// How they were found.
    pub method: Method,
    /// How many partitions the table has, when known without listing it all.
    pub total: Option<usize>,
}

/// The partitions of `table` that `filter` allows. A projected table is projected (with `now`
/// for `NOW` ranges), a table with registered partitions reads its registry, and any other
/// table lists its Hive layout.
pub async fn select_partitions(
    table: &Table,
    store: &dyn ObjectStore,
    filter: &PartitionFilter,
    now: DateTime<Utc>,
) -> Result<Selection> {
    if let Some(projection) = &table.projection()
        && !table.partition_columns().is_empty()
    {
        return Ok(Selection {
            partitions: projection.partitions(&table.layout(), filter, now)?,
            method: Method::Projection,
            total: projection.total(now),
        });
    }
    if let Some(registry) = &table.registry() {
        let names: Vec<&str> = table
            .partition_columns()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let partitions = registry
            .iter()
            .filter(|p| filter.matches(names.iter().copied().zip(&p.values)))
            .cloned()
            .collect();
        return Ok(Selection {
            partitions,
            method: Method::Registry,
            total: Some(registry.len()),
        });
    }
    Ok(Selection {
        partitions: hive_partitions(table, store, filter).await?,
        method: Method::Listing,
        total: None,
    })
}
