//! Row group statistics as DataFusion's pruning sees them, so a row filter skips the row
//! groups its column ranges rule out before anything is decoded.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray};
use arrow::datatypes::Schema;
use datafusion::common::pruning::PruningStatistics;
use datafusion::common::{Column, ScalarValue};
use datafusion::physical_optimizer::pruning::PruningPredicate;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::file::metadata::ParquetMetaData;
use std::collections::HashSet;

/// One file's row groups, each a container of statistics.
struct RowGroups<'a> {
    metadata: &'a ParquetMetaData,
    /// The file's columns as Arrow reads them.
    schema: &'a Schema,
}

impl RowGroups<'_> {
    fn converter(&self, column: &Column) -> Option<StatisticsConverter<'_>> {
        StatisticsConverter::try_new(
            &column.name,
            self.schema,
            self.metadata.file_metadata().schema_descr(),
        )
        .ok()
    }
}

impl PruningStatistics for RowGroups<'_> {
    fn min_values(&self, column: &Column) -> Option<ArrayRef> {
        self.converter(column)?
            .row_group_mins(self.metadata.row_groups().iter())
            .ok()
    }

    fn max_values(&self, column: &Column) -> Option<ArrayRef> {
        self.converter(column)?
            .row_group_maxes(self.metadata.row_groups().iter())
            .ok()
    }

    fn num_containers(&self) -> usize {
        self.metadata.num_row_groups()
    }

    fn null_counts(&self, column: &Column) -> Option<ArrayRef> {
        let counts = self
            .converter(column)?
            .row_group_null_counts(self.metadata.row_groups().iter())
            .ok()?;
        Some(Arc::new(counts))
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        let counts: arrow::array::UInt64Array = self
            .metadata
            .row_groups()
            .iter()
            .map(|rg| u64::try_from(rg.num_rows()).ok())
            .collect();
        Some(Arc::new(counts))
    }

    fn contained(&self, _column: &Column, _values: &HashSet<ScalarValue>) -> Option<BooleanArray> {
        None
    }
}

/// The row groups of a file `predicate` may match; all of them when statistics cannot tell
/// (missing, or of another type than the table declares).
pub(crate) fn row_groups_to_read(
    predicate: Option<&PruningPredicate>,
    metadata: &ParquetMetaData,
    file_schema: &Schema,
) -> Vec<usize> {
    let all: Vec<usize> = (0..metadata.num_row_groups()).collect();
    let Some(predicate) = predicate else {
        return all;
    };
    let statistics = RowGroups {
        metadata,
        schema: file_schema,
    };
    match predicate.prune(&statistics) {
        Ok(keep) => all.into_iter().filter(|&rg| keep[rg]).collect(),
        Err(_) => all,
    }
}
