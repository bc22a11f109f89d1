//! What each query read, counted where the bytes arrive: at the object store.
//!
//! Every query gets its own [`QueryStats`] and its own view of the session's object stores: each
//! store it asks for comes wrapped in an [`AccountedStore`] that counts requests and bytes into
//! that query's stats, enforces its scan limit before a byte is fetched, and answers repeated
//! listings of remote stores from the shared [`ListingCache`]. Counting at this layer (not from
//! plan estimates) makes the figures what the server actually served, like Athena's "Data
//! scanned"; Parquet footers that DataFusion's metadata cache answers never reach it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::error::Result as DFResult;
use datafusion::execution::object_store::ObjectStoreRegistry;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};
use url::Url;

use crate::explain::ScanReport;

/// Athena's price: US$5 per TiB scanned, at least 10 MiB per query, rounded up to whole MiB.
pub const ATHENA_USD_PER_TIB: f64 = 5.0;
const ATHENA_MINIMUM_BYTES: u64 = 10 << 20;

/// How many keys one S3 LIST request returns at most: a longer listing is several requests.
const LIST_PAGE: u64 = 1000;

/// The widest gap between two byte ranges that one request covers (object_store's rule).
const COALESCE_GAP: u64 = object_store::OBJECT_STORE_COALESCE_DEFAULT;

/// A query's scan limit and who set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanLimit {
    /// The most bytes the query may fetch.
    pub bytes: u64,
    /// Where the limit comes from (`max_scan`, or a table's `max_scan` property).
    pub source: String,
}

/// The query would read more than its scan limit allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "query stopped: it would read more than {} (the limit of {}) after {} read; narrow it to fewer partitions or raise the limit",
    human_bytes(limit.bytes), limit.source, human_bytes(*read)
)]
pub struct ScanLimitExceeded {
    /// The limit that stopped it.
    pub limit: ScanLimit,
    /// What it had read by then.
    pub read: u64,
}

/// Counters for one query, filled in as it runs.
#[derive(Debug)]
pub struct QueryStats {
    started: Instant,
    bytes: AtomicU64,
    gets: AtomicU64,
    lists: AtomicU64,
    heads: AtomicU64,
    rows: AtomicU64,
    objects: Mutex<HashSet<String>>,
    scans: Mutex<Vec<ScanReport>>,
    limit: Mutex<Option<ScanLimit>>,
    exceeded: Mutex<Option<ScanLimitExceeded>>,
    finished: Mutex<Option<Duration>>,
    stopped: AtomicBool,
}

impl QueryStats {
    pub(crate) fn new(limit: Option<ScanLimit>) -> Self {
        Self {
            started: Instant::now(),
            bytes: AtomicU64::default(),
            gets: AtomicU64::default(),
            lists: AtomicU64::default(),
            heads: AtomicU64::default(),
            rows: AtomicU64::default(),
            objects: Mutex::default(),
            scans: Mutex::default(),
            limit: Mutex::new(limit),
            exceeded: Mutex::default(),
            finished: Mutex::default(),
            stopped: AtomicBool::new(false),
        }
    }

    /// Lowers the query's limit to `limit` if that is tighter (a table's own `max_scan`).
    pub(crate) fn tighten_limit(&self, limit: ScanLimit) {
        let mut current = self.limit.lock().expect("stats lock poisoned");
        if current.as_ref().is_none_or(|c| limit.bytes < c.bytes) {
            *current = Some(limit);
        }
    }

    pub(crate) fn record_scan(&self, report: ScanReport) {
        self.scans.lock().expect("stats lock poisoned").push(report);
    }

    /// The scans planned so far: per catalog table, which partitions and files.
    pub fn scans(&self) -> Vec<ScanReport> {
        self.scans.lock().expect("stats lock poisoned").clone()
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
        self.exceeded.lock().expect("stats lock poisoned").clone()
    }

    /// Counts `bytes` about to be fetched, or refuses them if they would pass the limit.
    /// Requests run concurrently: reserving atomically keeps their sum under the limit.
    fn admit(&self, bytes: u64) -> Result<(), ScanLimitExceeded> {
        let limit = self.limit.lock().expect("stats lock poisoned").clone();
        let Some(limit) = limit else {
            self.bytes.fetch_add(bytes, Ordering::Relaxed);
            return Ok(());
        };
        let reserved = self
            .bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |read| {
                let total = read.saturating_add(bytes);
                (!self.stopped.load(Ordering::Acquire) && total <= limit.bytes).then_some(total)
            });
        match reserved {
            Ok(_) => Ok(()),
            Err(read) => {
                let error = ScanLimitExceeded { limit, read };
                self.stopped.store(true, Ordering::Release);
                self.exceeded
                    .lock()
                    .expect("stats lock poisoned")
                    .get_or_insert(error.clone());
                Err(error)
            }
        }
    }

    /// Gives back bytes reserved for a request that did not fetch them.
    fn release(&self, bytes: u64) {
        self.bytes.fetch_sub(bytes, Ordering::AcqRel);
    }

    fn fetched(&self, location: &Path, requests: u64) {
        self.gets.fetch_add(requests, Ordering::Relaxed);
        self.objects
            .lock()
            .expect("stats lock poisoned")
            .insert(location.to_string());
    }

    /// The figures so far (final once the query's stream has ended).
    pub fn summary(&self) -> ScanSummary {
        let scans = self.scans();
        let partitions_read = scans.iter().map(|s| s.selected).sum();
        let partitions_total = scans.iter().map(|s| s.total).sum::<Option<usize>>();
        ScanSummary {
            bytes: self.bytes.load(Ordering::Relaxed),
            get_requests: self.gets.load(Ordering::Relaxed),
            list_requests: self.lists.load(Ordering::Relaxed),
            head_requests: self.heads.load(Ordering::Relaxed),
            objects: self.objects.lock().expect("stats lock poisoned").len(),
            partitions_read,
            partitions_total,
            tables: scans.len(),
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
    /// Partitions read, over all catalog tables scanned.
    pub partitions_read: usize,
    /// The scanned tables' partitions in all, when known without listing everything.
    pub partitions_total: Option<usize>,
    /// Catalog table scans.
    pub tables: usize,
    /// Rows the query produced.
    pub rows: u64,
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
    /// The summary without the row count: `EXPLAIN ANALYZE`'s rows are the plan's, not the
    /// query's.
    pub fn describe_scan(&self) -> String {
        let mut text = format!("Run time: {:.3} s", self.elapsed.as_secs_f64());
        if self.tables == 0 && self.bytes == 0 {
            // A command or a computation: nothing scanned, nothing to bill.
            return text;
        }
        text.push_str(&format!(", Data scanned: {}", human_bytes(self.bytes)));
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
        if !details.is_empty() {
            text.push_str(&format!(" ({})", details.join("; ")));
        }
        text.push_str(&format!(", Athena ≈ ${:.5}", self.athena_cost_usd()));
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

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `12.3 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    bytesize::ByteSize::b(bytes).display().iec().to_string()
}

/// Listings of remote stores, reused for a while so that planning the same partitions again
/// sends no LIST. Bounded by the number of objects held; the oldest listings go first.
#[derive(Debug)]
pub struct ListingCache {
    ttl: Duration,
    max_objects: usize,
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    entries: HashMap<ListingKey, Listing>,
    order: VecDeque<ListingKey>,
    objects: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ListingKey {
    store: String,
    prefix: String,
    delimited: bool,
}

#[derive(Debug, Clone)]
struct Listing {
    at: Instant,
    objects: Arc<Vec<ObjectMeta>>,
    common_prefixes: Arc<Vec<Path>>,
}

impl ListingCache {
    /// How long a listing is reused by default: new files are seen within a minute.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(60);
    /// At most this many listed objects are held (about 100 MiB of metadata).
    pub const DEFAULT_MAX_OBJECTS: usize = 500_000;

    /// A cache that reuses listings for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            max_objects: Self::DEFAULT_MAX_OBJECTS,
            state: Mutex::default(),
        }
    }

    /// Forgets every listing.
    pub fn clear(&self) {
        *self.state.lock().expect("listing cache poisoned") = CacheState::default();
    }

    fn forget_store(&self, store: &str) {
        let mut state = self.state.lock().expect("listing cache poisoned");
        state.entries.retain(|key, _| key.store != store);
        let CacheState { entries, order, .. } = &mut *state;
        order.retain(|key| entries.contains_key(key));
        state.objects = state.entries.values().map(|l| l.objects.len()).sum();
    }

    fn get(&self, key: &ListingKey) -> Option<Listing> {
        if self.ttl.is_zero() {
            return None;
        }
        let state = self.state.lock().expect("listing cache poisoned");
        state
            .entries
            .get(key)
            .filter(|listing| listing.at.elapsed() < self.ttl)
            .cloned()
    }

    fn put(&self, key: ListingKey, listing: Listing) {
        if self.ttl.is_zero() || listing.objects.len() > self.max_objects {
            return;
        }
        let mut state = self.state.lock().expect("listing cache poisoned");
        let size = listing.objects.len();
        if let Some(old) = state.entries.insert(key.clone(), listing) {
            state.objects -= old.objects.len();
            state.order.retain(|k| k != &key);
        }
        state.objects += size;
        state.order.push_back(key);
        while state.objects > self.max_objects {
            let Some(oldest) = state.order.pop_front() else {
                break;
            };
            if let Some(old) = state.entries.remove(&oldest) {
                state.objects -= old.objects.len();
            }
        }
    }
}

/// The session's stores as one query sees them: each wrapped to count into its stats.
#[derive(Debug)]
pub(crate) struct QueryStores {
    pub(crate) base: Arc<dyn ObjectStoreRegistry>,
    pub(crate) stats: Arc<QueryStats>,
    pub(crate) listings: Arc<ListingCache>,
}

impl ObjectStoreRegistry for QueryStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.base.register_store(url, store)
    }

    fn get_store(&self, url: &Url) -> DFResult<Arc<dyn ObjectStore>> {
        let inner = self.base.get_store(url)?;
        // A local listing is a directory read: cheap, and always current.
        let listings = (url.scheme() != "file").then(|| Arc::clone(&self.listings));
        Ok(Arc::new(AccountedStore {
            inner,
            store: format!("{}://{}", url.scheme(), url.authority()),
            stats: Arc::clone(&self.stats),
            listings,
        }))
    }
}

/// One store, counting into one query's stats.
#[derive(Debug)]
pub(crate) struct AccountedStore {
    inner: Arc<dyn ObjectStore>,
    store: String,
    stats: Arc<QueryStats>,
    listings: Option<Arc<ListingCache>>,
}

impl fmt::Display for AccountedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Accounted({})", self.inner)
    }
}

impl AccountedStore {
    fn key(&self, prefix: Option<&Path>, delimited: bool) -> ListingKey {
        ListingKey {
            store: self.store.clone(),
            prefix: prefix.map(ToString::to_string).unwrap_or_default(),
            delimited,
        }
    }

    fn limit_error(error: ScanLimitExceeded) -> object_store::Error {
        object_store::Error::Generic {
            store: "minerva",
            source: Box::new(error),
        }
    }

    fn written(&self) {
        if let Some(cache) = &self.listings {
            cache.forget_store(&self.store);
        }
    }
}

/// A listing in progress: counts its pages, and caches it once it has run to its end.
struct Listed {
    inner: BoxStream<'static, object_store::Result<ObjectMeta>>,
    stats: Arc<QueryStats>,
    seen: u64,
    keep: Option<(Arc<ListingCache>, ListingKey, Vec<ObjectMeta>)>,
}

impl Listed {
    async fn next(&mut self) -> Option<object_store::Result<ObjectMeta>> {
        match self.inner.next().await {
            Some(Ok(meta)) => {
                self.seen += 1;
                if self.seen.is_multiple_of(LIST_PAGE) {
                    self.stats.lists.fetch_add(1, Ordering::Relaxed);
                }
                if let Some((_, _, objects)) = &mut self.keep {
                    objects.push(meta.clone());
                }
                Some(Ok(meta))
            }
            Some(Err(error)) => {
                self.keep = None;
                Some(Err(error))
            }
            None => {
                if let Some((cache, key, objects)) = self.keep.take() {
                    let listing = Listing {
                        at: Instant::now(),
                        objects: Arc::new(objects),
                        common_prefixes: Arc::default(),
                    };
                    cache.put(key, listing);
                }
                None
            }
        }
    }
}

#[async_trait]
impl ObjectStore for AccountedStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.written();
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.written();
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if options.head {
            self.stats.heads.fetch_add(1, Ordering::Relaxed);
            return self.inner.get_opts(location, options).await;
        }
        let known = match &options.range {
            Some(GetRange::Bounded(range)) => range.end - range.start,
            _ => 0,
        };
        self.stats.admit(known).map_err(Self::limit_error)?;
        let result = match self.inner.get_opts(location, options).await {
            Ok(result) => result,
            Err(error) => {
                self.stats.release(known);
                return Err(error);
            }
        };
        self.stats.fetched(location, 1);
        let bytes = result.range.end - result.range.start;
        if bytes < known {
            self.stats.release(known - bytes);
        } else {
            // A suffix or open-ended read: its size is known only now.
            self.stats.admit(bytes - known).map_err(Self::limit_error)?;
        }
        Ok(result)
    }

    /// A remote store is asked for each merged range here, as object_store would ask it, so
    /// that every request is counted (and admitted) as the server sees it. A local store reads
    /// the ranges itself, from one open file.
    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<bytes::Bytes>> {
        if self.listings.is_some() {
            let fetch = |range: Range<u64>| async move {
                let options = GetOptions {
                    range: Some(range.into()),
                    ..GetOptions::default()
                };
                self.get_opts(location, options).await?.bytes().await
            };
            return object_store::coalesce_ranges(ranges, fetch, COALESCE_GAP).await;
        }
        let bytes = ranges.iter().map(|r| r.end - r.start).sum();
        self.stats.admit(bytes).map_err(Self::limit_error)?;
        let fetched = self
            .inner
            .get_ranges(location, ranges)
            .await
            .inspect_err(|_| self.stats.release(bytes))?;
        self.stats.fetched(location, ranges.len() as u64);
        Ok(fetched)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.written();
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let key = self.key(prefix, false);
        let cache = self.listings.clone();
        if let Some(listing) = cache.as_ref().and_then(|c| c.get(&key)) {
            let objects = Arc::unwrap_or_clone(listing.objects);
            return futures::stream::iter(objects.into_iter().map(Ok)).boxed();
        }
        self.stats.lists.fetch_add(1, Ordering::Relaxed);
        let listing = Listed {
            inner: self.inner.list(prefix),
            stats: Arc::clone(&self.stats),
            seen: 0,
            // Collected while it streams; kept only if the listing runs to its end.
            keep: cache.map(|cache| (cache, key, Vec::new())),
        };
        futures::stream::unfold(listing, |mut listing| async move {
            let item = listing.next().await?;
            Some((item, listing))
        })
        .boxed()
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.stats.lists.fetch_add(1, Ordering::Relaxed);
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let key = self.key(prefix, true);
        if let Some(cache) = &self.listings
            && let Some(listing) = cache.get(&key)
        {
            return Ok(ListResult {
                common_prefixes: Arc::unwrap_or_clone(listing.common_prefixes),
                objects: Arc::unwrap_or_clone(listing.objects),
            });
        }
        let result = self.inner.list_with_delimiter(prefix).await?;
        let keys = (result.objects.len() + result.common_prefixes.len()) as u64;
        self.stats
            .lists
            .fetch_add(keys.div_ceil(LIST_PAGE).max(1), Ordering::Relaxed);
        if let Some(cache) = &self.listings {
            cache.put(
                key,
                Listing {
                    at: Instant::now(),
                    objects: Arc::new(result.objects.clone()),
                    common_prefixes: Arc::new(result.common_prefixes.clone()),
                },
            );
        }
        Ok(result)
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.written();
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.written();
        self.inner.rename_opts(from, to, options).await
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
            partitions_read: 0,
            partitions_total: None,
            tables: 0,
            rows: 0,
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

    #[test]
    fn the_limit_refuses_before_fetching() {
        let stats = QueryStats::new(Some(ScanLimit {
            bytes: 100,
            source: "max_scan".into(),
        }));
        assert!(stats.admit(60).is_ok());
        let error = stats.admit(60).unwrap_err();
        assert_eq!(error.read, 60);
        assert_eq!(stats.exceeded(), Some(error));
        assert!(stats.admit(1).is_err(), "a stopped query stays stopped");
    }
}
