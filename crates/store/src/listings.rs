//! Listings of remote stores, reused for a while so that planning the same partitions again
//! sends no LIST.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use object_store::ObjectMeta;
use object_store::path::Path;

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
    /// Counts the writes each store has seen: a listing is kept only if none started or ended
    /// while it ran (it may have missed what they wrote).
    writes: HashMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ListingKey {
    pub(crate) store: String,
    pub(crate) prefix: String,
    pub(crate) delimited: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Listing {
    pub(crate) at: Instant,
    pub(crate) objects: Arc<Vec<ObjectMeta>>,
    pub(crate) common_prefixes: Arc<Vec<Path>>,
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

    /// How many writes `store` has seen: taken when a listing starts, checked by [`Self::put`].
    pub(crate) fn writes(&self, store: &str) -> u64 {
        let state = self.state.lock().expect("listing cache poisoned");
        state.writes.get(store).copied().unwrap_or(0)
    }

    /// Forgets `store`'s listings: it is being written to (called as a write starts and again
    /// as it ends, so that no listing that overlapped it is kept).
    pub(crate) fn forget_store(&self, store: &str) {
        let mut state = self.state.lock().expect("listing cache poisoned");
        *state.writes.entry(store.to_string()).or_default() += 1;
        state.entries.retain(|key, _| key.store != store);
        let CacheState { entries, order, .. } = &mut *state;
        order.retain(|key| entries.contains_key(key));
        state.objects = state.entries.values().map(|l| l.objects.len()).sum();
    }

    /// The listing kept for `key`, if younger than the TTL and than `max_age`.
    pub(crate) fn get(&self, key: &ListingKey, max_age: Option<Duration>) -> Option<Listing> {
        let ttl = max_age.map_or(self.ttl, |age| age.min(self.ttl));
        if ttl.is_zero() {
            return None;
        }
        let state = self.state.lock().expect("listing cache poisoned");
        state
            .entries
            .get(key)
            .filter(|listing| listing.at.elapsed() < ttl)
            .cloned()
    }

    /// Keeps `listing`, made while `store` had seen `writes` writes, unless it has seen more
    /// since.
    pub(crate) fn put(&self, key: ListingKey, listing: Listing, writes: u64) {
        if self.ttl.is_zero() || listing.objects.len() > self.max_objects {
            return;
        }
        let mut state = self.state.lock().expect("listing cache poisoned");
        if state.writes.get(&key.store).copied().unwrap_or(0) != writes {
            return;
        }
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
