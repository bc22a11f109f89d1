//! What planning decided about each catalog table, for `EXPLAIN`: how its partitions were
//! chosen, how many out of how many, and where they are.
//!
//! Scans are planned inside DataFusion, far from the statement: each scan files its report with
//! the query's [`QueryStats`](super::QueryStats), which the session configuration carries.

use std::fmt::Write;

use datafusion::datasource::listing::PartitionedFile;
use minerva_catalog::{Method, Selection, Table, display_byte_size};

use super::words::plural;

/// How many partition prefixes a report shows.
const SHOWN_PREFIXES: usize = 3;

/// One table scan's partition choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// `database.table`.
    pub table: String,
    /// How the partitions were found.
    pub method: Method,
    /// How many partitions the scan reads.
    pub selected: usize,
    /// How many the table has, when known without listing it all.
    pub total: Option<usize>,
    /// The first few partition prefixes, as URLs.
    pub prefixes: Vec<String>,
    /// How many files the scan reads.
    pub files: usize,
    /// Their size in all, from the listing: at most what the scan reads.
    pub bytes: u64,
    /// Objects skipped as unreadable (`ignore_corrupt_files`), each as `path (why)`.
    pub skipped: Vec<String>,
}

impl ScanReport {
    /// The report, with the objects the scan skipped as unreadable.
    pub(crate) fn skipping(mut self, skipped: Vec<String>) -> Self {
        self.skipped = skipped;
        self
    }

    pub(crate) fn new(table: &Table, selection: &Selection, files: &[PartitionedFile]) -> Self {
        let store = table.location().store_url();
        Self {
            table: table.qualified_name(),
            method: selection.method,
            selected: selection.partitions.len(),
            total: selection.total,
            prefixes: selection
                .partitions
                .iter()
                .take(SHOWN_PREFIXES)
                .map(|p| format!("{store}/{}/", p.prefix))
                .collect(),
            files: files.len(),
            bytes: files.iter().map(|f| f.object_meta.size).sum(),
            skipped: Vec::new(),
        }
    }

    /// The report as `EXPLAIN` shows it: the choice on one line, the first prefixes on the next.
    pub fn describe(&self) -> String {
        let noun = |n: usize, what: &str| plural(n as u64, what);
        let mut text = match self.total {
            Some(total) => format!(
                "{}: {} of {} chosen by {}",
                self.table,
                self.selected,
                noun(total, "partition"),
                self.method
            ),
            None => format!(
                "{}: {} chosen by {}",
                self.table,
                noun(self.selected, "partition"),
                self.method
            ),
        };
        write!(
            text,
            ", {} ({}: at most this is read)",
            noun(self.files, "file"),
            display_byte_size(self.bytes)
        )
        .expect("writing to a string");
        if !self.skipped.is_empty() {
            write!(
                text,
                "\nskipped ({}, ignore_corrupt_files): {}",
                noun(self.skipped.len(), "unreadable file"),
                self.skipped.join(", ")
            )
            .expect("writing to a string");
        }
        if !self.prefixes.is_empty() {
            text.push_str("\nprefixes: ");
            text.push_str(&self.prefixes.join(", "));
            let more = self.selected.saturating_sub(self.prefixes.len());
            if more > 0 {
                write!(text, " … and {more} more").expect("writing to a string");
            }
        }
        text
    }
}
