//! What one query fetched, counted where the bytes arrive, and the limit it may not pass.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use object_store::path::Path;

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
    minerva_catalog::display_byte_size(limit.bytes), limit.source, minerva_catalog::display_byte_size(*read)
)]
pub struct ScanLimitExceeded {
    /// The limit that stopped it.
    pub limit: ScanLimit,
    /// What it had read by then.
    pub read: u64,
}

/// The requests and bytes of one query, as the stores served them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// Bytes fetched (byte ranges served).
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
    /// Parquet footers served from a cache on disk instead of the store.
    pub footers_cached: u64,
    /// Wall time during which at least one request was in flight: what the query waited on
    /// its stores, unless it had other work meanwhile.
    pub waiting: Duration,
}

impl Usage {
    /// The counters of requests and bytes alone (another machine's, to [`Meter::absorb`]).
    pub fn of_requests(
        bytes: u64,
        get_requests: u64,
        list_requests: u64,
        head_requests: u64,
        objects: usize,
    ) -> Self {
        Self {
            bytes,
            get_requests,
            list_requests,
            head_requests,
            objects,
            ..Self::default()
        }
    }
}

/// Requests in flight, and how long there have been any.
#[derive(Debug, Default)]
struct Flight {
    now: u64,
    most: u64,
    /// Since when `now` has been above zero.
    busy_since: Option<Instant>,
    /// Busy time before `busy_since`.
    waited: Duration,
}

impl Flight {
    fn waiting(&self) -> Duration {
        self.waited + self.busy_since.map_or(Duration::ZERO, |t| t.elapsed())
    }
}

/// One request in flight: counted from [`Meter::begin`] until it is dropped.
#[derive(Debug)]
pub(crate) struct InFlight {
    meter: Arc<Meter>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut flight = self.meter.flight.lock().expect("meter lock poisoned");
        flight.now -= 1;
        if flight.now == 0
            && let Some(since) = flight.busy_since.take()
        {
            flight.waited += since.elapsed();
        }
    }
}

/// Counters for one query, filled in by its [`AccountedStore`](crate::AccountedStore)s.
#[derive(Debug, Default)]
pub struct Meter {
    bytes: AtomicU64,
    gets: AtomicU64,
    lists: AtomicU64,
    heads: AtomicU64,
    footers_cached: AtomicU64,
    objects: Mutex<HashSet<String>>,
    /// Objects other machines read (see [`Meter::absorb`]).
    remote_objects: AtomicU64,
    limit: Mutex<Option<ScanLimit>>,
    exceeded: Mutex<Option<ScanLimitExceeded>>,
    stopped: AtomicBool,
    /// Listings under these `(store, prefix)`es may be reused only if younger than the age
    /// given: a live table's speed side wants what landed a second ago.
    fresh: Mutex<Vec<(String, String, std::time::Duration)>>,
    flight: Mutex<Flight>,
}

impl Meter {
    /// A meter that refuses bytes past `limit`, if any.
    pub fn new(limit: Option<ScanLimit>) -> Self {
        Self {
            limit: Mutex::new(limit),
            ..Self::default()
        }
    }

    /// Lowers the limit to `limit` if that is tighter (a table's own `max_scan`).
    pub fn tighten_limit(&self, limit: ScanLimit) {
        let mut current = self.limit.lock().expect("meter lock poisoned");
        if current.as_ref().is_none_or(|c| limit.bytes < c.bytes) {
            *current = Some(limit);
        }
    }

    /// Asks that this query's listings of `store` (`scheme://authority`) under `prefix` reuse
    /// no cached listing older than `max_age` (zero: always list).
    pub fn list_fresh(&self, store: &str, prefix: &str, max_age: std::time::Duration) {
        self.fresh.lock().expect("meter lock poisoned").push((
            store.to_string(),
            prefix.to_string(),
            max_age,
        ));
    }

    /// How old a cached listing of `store` under `prefix` may be for this query, if it asked.
    pub(crate) fn max_listing_age(&self, store: &str, prefix: &str) -> Option<std::time::Duration> {
        self.fresh
            .lock()
            .expect("meter lock poisoned")
            .iter()
            .filter(|(s, p, _)| s == store && prefix.starts_with(p.as_str()))
            .map(|(_, _, age)| *age)
            .min()
    }

    /// The limit in force, if any.
    pub fn limit(&self) -> Option<ScanLimit> {
        self.limit.lock().expect("meter lock poisoned").clone()
    }

    /// Adds what other machines read for this query (a cluster's workers, each with its own
    /// meter) to these counters: bytes, requests and objects.
    pub fn absorb(&self, remote: &Usage) {
        self.bytes.fetch_add(remote.bytes, Ordering::Relaxed);
        self.gets.fetch_add(remote.get_requests, Ordering::Relaxed);
        self.lists
            .fetch_add(remote.list_requests, Ordering::Relaxed);
        self.heads
            .fetch_add(remote.head_requests, Ordering::Relaxed);
        self.remote_objects
            .fetch_add(remote.objects as u64, Ordering::Relaxed);
    }

    /// The error that stopped the query, if its scan limit did.
    pub fn exceeded(&self) -> Option<ScanLimitExceeded> {
        self.exceeded.lock().expect("meter lock poisoned").clone()
    }

    /// The figures so far.
    pub fn usage(&self) -> Usage {
        let flight = self.flight.lock().expect("meter lock poisoned");
        Usage {
            bytes: self.bytes.load(Ordering::Relaxed),
            get_requests: self.gets.load(Ordering::Relaxed),
            list_requests: self.lists.load(Ordering::Relaxed),
            head_requests: self.heads.load(Ordering::Relaxed),
            objects: self.objects.lock().expect("meter lock poisoned").len()
                + self.remote_objects.load(Ordering::Relaxed) as usize,
            most_in_flight: flight.most,
            footers_cached: self.footers_cached.load(Ordering::Relaxed),
            waiting: flight.waiting(),
        }
    }

    /// A request starts; it ends when the returned guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        let mut flight = self.flight.lock().expect("meter lock poisoned");
        flight.now += 1;
        flight.most = flight.most.max(flight.now);
        if flight.busy_since.is_none() {
            flight.busy_since = Some(Instant::now());
        }
        InFlight {
            meter: Arc::clone(self),
        }
    }

    /// Counts `bytes` about to be fetched, or refuses them if they would pass the limit.
    /// Requests run concurrently: reserving atomically keeps their sum under the limit.
    pub(crate) fn admit(&self, bytes: u64) -> Result<(), ScanLimitExceeded> {
        let limit = self.limit.lock().expect("meter lock poisoned").clone();
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
                    .expect("meter lock poisoned")
                    .get_or_insert(error.clone());
                Err(error)
            }
        }
    }

    /// Gives back bytes reserved for a request that did not fetch them.
    pub(crate) fn release(&self, bytes: u64) {
        self.bytes.fetch_sub(bytes, Ordering::AcqRel);
    }

    pub(crate) fn fetched(&self, location: &Path, requests: u64) {
        self.gets.fetch_add(requests, Ordering::Relaxed);
        self.objects
            .lock()
            .expect("meter lock poisoned")
            .insert(location.to_string());
    }

    pub(crate) fn listed(&self, requests: u64) {
        self.lists.fetch_add(requests, Ordering::Relaxed);
    }

    /// Counts a Parquet footer that a cache on disk served instead of the store.
    pub fn footer_from_cache(&self) {
        self.footers_cached.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn headed(&self) {
        self.heads.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_absorbed_from_elsewhere_adds_to_the_local_counts() {
        let meter = Meter::new(None);
        meter.admit(100).unwrap();
        meter.fetched(&Path::from("a"), 1);
        meter.absorb(&Usage::of_requests(900, 3, 1, 2, 4));
        let usage = meter.usage();
        assert_eq!(usage.bytes, 1000);
        assert_eq!(usage.get_requests, 4);
        assert_eq!(usage.list_requests, 1);
        assert_eq!(usage.head_requests, 2);
        assert_eq!(usage.objects, 5);
    }

    #[test]
    fn requests_in_flight_count_at_their_most_and_waiting_is_busy_time() {
        let meter = Arc::new(Meter::new(None));
        assert_eq!(meter.usage().most_in_flight, 0);
        let first = meter.begin();
        let second = meter.begin();
        std::thread::sleep(Duration::from_millis(20));
        drop(first);
        let third = meter.begin();
        drop(second);
        drop(third);
        let usage = meter.usage();
        assert_eq!(usage.most_in_flight, 2);
        assert!(usage.waiting >= Duration::from_millis(20));
        // Idle time is not waiting.
        std::thread::sleep(Duration::from_millis(30));
        let idle = meter.usage().waiting;
        assert_eq!(idle, usage.waiting);
        let _fourth = meter.begin();
        assert!(meter.usage().waiting >= idle);
    }

    #[test]
    fn a_fresh_prefix_caps_the_age_of_listings_under_it() {
        let meter = Meter::new(None);
        assert_eq!(meter.max_listing_age("s3://b", "raw/2024/01/01/00"), None);
        meter.list_fresh("s3://b", "raw/", std::time::Duration::ZERO);
        meter.list_fresh("s3://b", "raw/2024/", std::time::Duration::from_secs(5));
        assert_eq!(
            meter.max_listing_age("s3://b", "raw/2024/01/01/00"),
            Some(std::time::Duration::ZERO)
        );
        assert_eq!(meter.max_listing_age("s3://b", "views/dt=2024-01-01"), None);
        assert_eq!(meter.max_listing_age("s3://other", "raw/x"), None);
    }

    #[test]
    fn the_limit_refuses_before_fetching() {
        let meter = Meter::new(Some(ScanLimit {
            bytes: 100,
            source: "max_scan".into(),
        }));
        assert!(meter.admit(60).is_ok());
        let error = meter.admit(60).unwrap_err();
        assert_eq!(error.read, 60);
        assert_eq!(meter.exceeded(), Some(error));
        assert!(meter.admit(1).is_err(), "a stopped query stays stopped");
    }

    #[test]
    fn a_tighter_limit_wins_and_a_looser_one_does_not() {
        let meter = Meter::new(Some(ScanLimit {
            bytes: 100,
            source: "max_scan".into(),
        }));
        meter.tighten_limit(ScanLimit {
            bytes: 500,
            source: "table".into(),
        });
        meter.tighten_limit(ScanLimit {
            bytes: 50,
            source: "table".into(),
        });
        assert_eq!(meter.admit(60).unwrap_err().limit.source, "table");
    }
}
