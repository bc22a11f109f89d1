//! What each query read and produced: its [`QueryStats`], filled in as it runs, and the
//! [`ScanSummary`] that the shell prints under each answer.
//!
//! Bytes and requests are counted at the object store (the store crate's `Meter`, which each
//! query's `AccountedStore`s fill in); rows, run time and the scans' partition choices here.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use minerva_catalog::display_byte_size;
use minerva_store::{Meter, ScanLimit, ScanLimitExceeded};

use super::scan::ScanReport;
use super::words::plural;

/// Athena's price: US$5 per TiB scanned, at least 10 MiB per query, rounded up to whole MiB.
pub const ATHENA_USD_PER_TIB: f64 = 5.0;
const ATHENA_MINIMUM_BYTES: u64 = 10 << 20;

/// Counters for one query, filled in as it runs.
#[derive(Debug)]
pub struct QueryStats {
    started: Instant,
    /// What the stores served, and the scan limit.
    meter: Arc<Meter>,
    rows: AtomicU64,
    scans: Mutex<Vec<ScanReport>>,
    /// Files, bytes and partitions a write committed.
    written: Mutex<(usize, u64, usize)>,
    finished: Mutex<Option<Duration>>,
    /// What other machines read (see [`QueryStats::absorb_remote`]).
    remote: Mutex<Vec<RemoteRead>>,
}

/// What another machine read for a query (see [`QueryStats::absorb_remote`]).
#[derive(Debug, Clone)]
pub struct RemoteRead {
    /// Which machine (a worker's URL).
    pub reader: String,
    /// Its requests and bytes.
    pub usage: minerva_store::Usage,
    /// The files it was given, as named in its report.
    pub files: Vec<String>,
}

impl RemoteRead {
    /// One line for `EXPLAIN ANALYZE`: the machine, what it read, and its files.
    pub fn describe(&self) -> String {
        let mut line = format!(
            "{}: {} from {} in {}",
            self.reader,
            display_byte_size(self.usage.bytes),
            plural(self.usage.objects as u64, "object"),
            plural(self.usage.get_requests, "GET request"),
        );
        if !self.files.is_empty() {
            line.push_str("; files: ");
            line.push_str(&self.files.join(", "));
        }
        line
    }
}

impl QueryStats {
    pub(crate) fn new(limit: Option<ScanLimit>) -> Self {
        Self {
            started: Instant::now(),
            meter: Arc::new(Meter::new(limit)),
            rows: AtomicU64::default(),
            scans: Mutex::default(),
            written: Mutex::default(),
            finished: Mutex::default(),
            remote: Mutex::default(),
        }
    }

    /// Lowers the query's limit to `limit` if that is tighter (a table's own `max_scan`).
    pub(crate) fn tighten_limit(&self, limit: ScanLimit) {
        self.meter.tighten_limit(limit);
    }

    /// The scan limit in force (the tightest of the session's and the tables' so far).
    pub fn scan_limit(&self) -> Option<ScanLimit> {
        self.meter.limit()
    }

    /// The bytes this process has read for the query so far.
    pub fn bytes_read(&self) -> u64 {
        self.meter.usage().bytes
    }

    /// Adds what another machine (a cluster's worker) read for the query.
    pub fn absorb_remote(&self, read: RemoteRead) {
        self.meter.absorb(&read.usage);
        self.remote.lock().expect("stats lock poisoned").push(read);
    }

    /// What other machines read for the query, each as it reported.
    pub fn remote_reads(&self) -> Vec<RemoteRead> {
        self.remote.lock().expect("stats lock poisoned").clone()
    }

    /// The meter the query's stores count into.
    pub(crate) fn meter(&self) -> &Arc<Meter> {
        &self.meter
    }

    pub(crate) fn record_scan(&self, report: ScanReport) {
        self.scans.lock().expect("stats lock poisoned").push(report);
    }

    /// The scans planned so far: per catalog table, which partitions and files.
    pub fn scans(&self) -> Vec<ScanReport> {
        self.scans.lock().expect("stats lock poisoned").clone()
    }

    /// Records what a write committed: files, bytes and partitions.
    pub(crate) fn record_write(&self, files: usize, bytes: u64, partitions: usize) {
        let mut written = self.written.lock().expect("stats lock poisoned");
        written.0 += files;
        written.1 += bytes;
        written.2 += partitions;
    }

    pub(crate) fn add_rows(&self, rows: usize) {
        self.rows.fetch_add(rows as u64, Ordering::Relaxed);
    }

    /// Marks the query as done: its run time stops here.
    pub(crate) fn finish(&self) {
        let mut finished = self.finished.lock().expect("stats lock poisoned");
        if finished.is_none() {
            *finished = Some(self.started.elapsed());
        }
    }

    /// The error that stopped the query, if its scan limit did.
    pub fn exceeded(&self) -> Option<ScanLimitExceeded> {
        self.meter.exceeded()
    }

    /// The figures so far (final once the query's stream has ended).
    pub fn summary(&self) -> ScanSummary {
        let scans = self.scans();
        let partitions_read = scans.iter().map(|s| s.selected).sum();
        let partitions_total = scans.iter().map(|s| s.total).sum::<Option<usize>>();
        let usage = self.meter.usage();
        let (written_files, written_bytes, written_partitions) =
            *self.written.lock().expect("stats lock poisoned");
        ScanSummary {
            written_files,
            written_bytes,
            written_partitions,
            bytes: usage.bytes,
            get_requests: usage.get_requests,
            list_requests: usage.list_requests,
            head_requests: usage.head_requests,
            objects: usage.objects,
            most_in_flight: usage.most_in_flight,
            store_wait: usage.waiting,
            footers_cached: usage.footers_cached,
            partitions_read,
            partitions_total,
            tables: scans.len(),
            skipped_files: scans.iter().map(|s| s.skipped.len()).sum(),
            rows: self.rows.load(Ordering::Relaxed),
            elapsed: self
                .finished
                .lock()
                .expect("stats lock poisoned")
                .unwrap_or_else(|| self.started.elapsed()),
        }
    }
}

/// What a query read and produced: Athena's "Run time" and "Data scanned", and more.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScanSummary {
    /// Bytes fetched from object stores (ranges requested; footers from the cache excluded).
    pub bytes: u64,
    /// GET requests (each byte range fetched separately counts).
    pub get_requests: u64,
    /// LIST requests (a listing of more than 1000 keys is several).
    pub list_requests: u64,
    /// HEAD requests.
    pub head_requests: u64,
    /// Distinct objects read from.
    pub objects: usize,
    /// The most requests that were in flight at once.
    pub most_in_flight: u64,
    /// Wall time during which at least one request was in flight.
    pub store_wait: Duration,
    /// Parquet footers served from the footer cache on disk instead of the store.
    pub footers_cached: u64,
    /// Partitions read, over all catalog tables scanned.
    pub partitions_read: usize,
    /// The scanned tables' partitions in all, when known without listing everything.
    pub partitions_total: Option<usize>,
    /// Catalog table scans.
    pub tables: usize,
    /// Unreadable objects skipped (`ignore_corrupt_files`); EXPLAIN ANALYZE names them.
    pub skipped_files: usize,
    /// Rows the query produced.
    pub rows: u64,
    /// Data files a write committed.
    pub written_files: usize,
    /// Their bytes.
    pub written_bytes: u64,
    /// The partitions they are in.
    pub written_partitions: usize,
    /// Wall time from the statement's start to its last row.
    pub elapsed: Duration,
}

impl ScanSummary {
    /// What Athena would bill for scanning as much: US$5 per TiB, rounded up to whole MiB,
    /// with a 10 MiB minimum per query.
    pub fn athena_cost_usd(&self) -> f64 {
        let billed = self.bytes.max(ATHENA_MINIMUM_BYTES).div_ceil(1 << 20) << 20;
        billed as f64 / (1u64 << 40) as f64 * ATHENA_USD_PER_TIB
    }
}

impl ScanSummary {
    /// `EXPLAIN ANALYZE`'s `store` row: how long the query waited on its stores, and how many
    /// requests it kept in flight.
    pub fn describe_store(&self) -> String {
        let requests = self.get_requests + self.list_requests + self.head_requests;
        let mut text = format!(
            "waited {:.3} s on {} ({} at most in flight)",
            self.store_wait.as_secs_f64(),
            plural(requests, "request"),
            self.most_in_flight
        );
        if self.footers_cached > 0 {
            text.push_str(&format!(
                "; {} from the disk cache",
                plural(self.footers_cached, "footer")
            ));
        }
        text
    }

    /// The summary without the row count: `EXPLAIN ANALYZE`'s rows are the plan's, not the
    /// query's.
    pub fn describe_scan(&self) -> String {
        let mut text = format!("Run time: {:.3} s", self.elapsed.as_secs_f64());
        let written = (self.written_files > 0).then(|| {
            format!(
                ", Data written: {} ({}; {})",
                display_byte_size(self.written_bytes),
                plural(self.written_files as u64, "file"),
                plural(self.written_partitions as u64, "partition")
            )
        });
        if self.tables == 0 && self.bytes == 0 {
            // A command or a computation: nothing scanned, nothing to bill.
            text.push_str(written.as_deref().unwrap_or_default());
            return text;
        }
        text.push_str(&format!(
            ", Data scanned: {}",
            display_byte_size(self.bytes)
        ));
        let mut details = Vec::new();
        if self.tables > 0 {
            details.push(match self.partitions_total {
                Some(total) => format!("{} of {} partitions", self.partitions_read, total),
                None => plural(self.partitions_read as u64, "partition"),
            });
        }
        if self.objects > 0 {
            details.push(plural(self.objects as u64, "object"));
        }
        if self.skipped_files > 0 {
            details.push(format!(
                "{} skipped",
                plural(self.skipped_files as u64, "unreadable file")
            ));
        }
        let requests: Vec<String> = [
            (self.get_requests, "GET"),
            (self.list_requests, "LIST"),
            (self.head_requests, "HEAD"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if !requests.is_empty() {
            details.push(requests.join(", "));
        }
        if self.footers_cached > 0 {
            details.push(format!(
                "{} from the disk cache",
                plural(self.footers_cached, "footer")
            ));
        }
        if !details.is_empty() {
            text.push_str(&format!(" ({})", details.join("; ")));
        }
        text.push_str(&format!(", Athena ≈ ${:.5}", self.athena_cost_usd()));
        text.push_str(written.as_deref().unwrap_or_default());
        text
    }
}

/// `Run time: 0.42 s, Data scanned: 12.3 MiB (3 of 35 partitions; 4 objects; 9 GET, 1 LIST),
/// Athena ≈ $0.00005, 1 row`.
impl fmt::Display for ScanSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {}", self.describe_scan(), plural(self.rows, "row"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn athena_cost_has_a_ten_mib_minimum_and_rounds_up() {
        let summary = |bytes| ScanSummary {
            bytes,
            get_requests: 0,
            list_requests: 0,
            head_requests: 0,
            objects: 0,
            most_in_flight: 0,
            store_wait: Duration::ZERO,
            footers_cached: 0,
            partitions_read: 0,
            partitions_total: None,
            tables: 0,
            skipped_files: 0,
            rows: 0,
            written_files: 0,
            written_bytes: 0,
            written_partitions: 0,
            elapsed: Duration::ZERO,
        };
        let ten_mib = 5.0 * 10.0 / (1024.0 * 1024.0);
        assert_eq!(summary(0).athena_cost_usd(), ten_mib);
        assert_eq!(summary(1).athena_cost_usd(), ten_mib);
        assert_eq!(summary(1 << 40).athena_cost_usd(), 5.0);
        assert_eq!(
            summary((20 << 20) + 1).athena_cost_usd(),
            5.0 * 21.0 / (1024.0 * 1024.0)
        );
    }
}
