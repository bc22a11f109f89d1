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
    /// The live table side this scan is (`default.views_live, speed side`), if any.
    pub side: Option<String>,
    /// For a speed side: the objects left out as compacted, and the watermark it read.
    pub compacted: Option<(usize, String)>,
}

impl ScanReport {
    /// The report, with the objects the scan skipped as unreadable.
    pub(crate) fn skipping(mut self, skipped: Vec<String>) -> Self {
        self.skipped = skipped;
        self
    }

    /// The report of one side of a live table.
    pub(crate) fn on_side(mut self, side: String) -> Self {
        self.side = Some(side);
        self
    }

    /// The report of a speed side: `left_out` listed objects were compacted already, by the
    /// `watermark` the query read.
    pub(crate) fn compacted(mut self, left_out: usize, watermark: String) -> Self {
        self.compacted = Some((left_out, watermark));
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
            side: None,
            compacted: None,
        }
    }

    /// The report as `EXPLAIN` shows it: the choice on one line, the first prefixes on the next.
    pub fn describe(&self) -> String {
        let noun = |n: usize, what: &str| plural(n as u64, what);
        let mut text = self
            .side
            .as_ref()
            .map(|side| format!("{side}: "))
            .unwrap_or_default();
        text += &match self.total {
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
        if let Some((left_out, watermark)) = &self.compacted {
            write!(
                text,
                "\nwatermark: {watermark}; {} listed here left out as compacted",
                noun(*left_out, "object")
            )
            .expect("writing to a string");
        }
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
