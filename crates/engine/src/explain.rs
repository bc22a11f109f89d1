//! What planning decided about each catalog table, for `EXPLAIN`: how its partitions were
//! chosen, how many out of how many, and where they are.
//!
//! Scans are planned inside DataFusion, far from the statement; a task-local log set up around
//! the planning of an `EXPLAIN` collects a report from each scan without threading state
//! through DataFusion's traits. Outside such a scope, recording does nothing.

use std::fmt::Write;
use std::sync::{Arc, Mutex};

use minerva_catalog::{Method, Selection, Table};

/// How many partition prefixes a report shows.
const SHOWN_PREFIXES: usize = 3;

tokio::task_local! {
    static SCANS: Arc<Mutex<Vec<ScanReport>>>;
}

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
}

impl ScanReport {
    pub(crate) fn new(table: &Table, selection: &Selection, files: usize) -> Self {
        let store = table.location.store_url();
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
            files,
        }
    }

    /// The report as `EXPLAIN` shows it: the choice on one line, the first prefixes on the next.
    pub fn describe(&self) -> String {
        let noun = |n: usize, what: &str| {
            if n == 1 {
                format!("1 {what}")
            } else {
                format!("{n} {what}s")
            }
        };
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
        write!(text, ", {}", noun(self.files, "file")).expect("writing to a string");
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

/// Notes a scan's choice in the current log, if there is one.
pub(crate) fn record_scan(report: ScanReport) {
    // Outside an `EXPLAIN` there is no log, and nothing to do.
    let _ = SCANS.try_with(|log| log.lock().expect("scan log poisoned").push(report));
}

/// Runs `planning` with a log, and returns what it produced and the scans it planned.
pub(crate) async fn collecting_scans<T>(planning: impl Future<Output = T>) -> (T, Vec<ScanReport>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let out = SCANS.scope(Arc::clone(&log), planning).await;
    let reports = std::mem::take(&mut *log.lock().expect("scan log poisoned"));
    (out, reports)
}
