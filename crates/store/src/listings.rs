//! Listings of remote stores, reused for a while so that planning the same partitions again
//! sends no LIST.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use object_store::ObjectMeta;
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use crate::disk_cache::{CacheKind, DiskCache};

/// Listings of remote stores, reused for a while so that planning the same partitions again
/// sends no LIST. Bounded by the number of objects held; the oldest listings go first.
#[derive(Debug)]
pub struct ListingCache {
    ttl: Duration,
    max_objects: usize,
    state: Mutex<CacheState>,
    /// Listings kept on disk as well, for the next process (within the same TTL).
    disk: Option<Arc<DiskCache>>,
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
            disk: None,
        }
    }

    /// Keeps listings in `disk` too, and finds there those of earlier processes.
    pub fn with_disk(mut self, disk: Arc<DiskCache>) -> Self {
        self.disk = Some(disk);
        self
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
        if let Some(disk) = &self.disk {
            disk.remove_where(CacheKind::Listing, &format!("{store}\n"));
        }
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
        let kept = {
            let state = self.state.lock().expect("listing cache poisoned");
            state
                .entries
                .get(key)
                .filter(|listing| listing.at.elapsed() < ttl)
                .cloned()
        };
        kept.or_else(|| {
            let disk = self.disk.as_ref()?;
            let writes = self.writes(&key.store);
            let bytes = match disk.get(CacheKind::Listing, &key.disk_key()) {
                Ok(bytes) => bytes?,
                Err(warning) => {
                    disk.report(warning);
                    return None;
                }
            };
            let listing = OnDisk::decode(&bytes)?;
            if listing.at.elapsed() >= ttl {
                return None;
            }
            self.remember(key.clone(), listing.clone(), writes);
            Some(listing)
        })
    }

    /// Keeps `listing`, made while `store` had seen `writes` writes, unless it has seen more
    /// since.
    pub(crate) fn put(&self, key: ListingKey, listing: Listing, writes: u64) {
        if self.remember(key.clone(), listing.clone(), writes)
            && let Some(disk) = &self.disk
            && let Err(warning) = disk.put(
                CacheKind::Listing,
                &key.disk_key(),
                &OnDisk::encode(&listing),
            )
        {
            disk.report(warning);
        }
    }

    /// Keeps `listing` in memory (see [`Self::put`]); whether it was kept.
    fn remember(&self, key: ListingKey, listing: Listing, writes: u64) -> bool {
        if self.ttl.is_zero() || listing.objects.len() > self.max_objects {
            return false;
        }
        let mut state = self.state.lock().expect("listing cache poisoned");
        if state.writes.get(&key.store).copied().unwrap_or(0) != writes {
            return false;
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
        true
    }
}

impl ListingKey {
    /// The key on disk: the store first, so that a store's listings can be removed together.
    fn disk_key(&self) -> String {
        format!("{}\n{}\n{}", self.store, self.prefix, self.delimited)
    }
}

/// A listing as stored on disk: when it was made (wall clock) and what it found.
#[derive(Debug, Serialize, Deserialize)]
struct OnDisk {
    made_unix_ms: u64,
    objects: Vec<DiskObject>,
    common_prefixes: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct DiskObject {
    location: String,
    size: u64,
    modified_unix_ns: i64,
    e_tag: Option<String>,
    version: Option<String>,
}

impl OnDisk {
    fn encode(listing: &Listing) -> Vec<u8> {
        let made = SystemTime::now()
            .checked_sub(listing.at.elapsed())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let on_disk = OnDisk {
            made_unix_ms: made
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            objects: listing
                .objects
                .iter()
                .map(|meta| DiskObject {
                    location: meta.location.to_string(),
                    size: meta.size,
                    modified_unix_ns: meta.last_modified.timestamp_nanos_opt().unwrap_or(0),
                    e_tag: meta.e_tag.clone(),
                    version: meta.version.clone(),
                })
                .collect(),
            common_prefixes: listing
                .common_prefixes
                .iter()
                .map(ToString::to_string)
                .collect(),
        };
        serde_json::to_vec(&on_disk).expect("a listing serializes")
    }

    /// The listing, aged as it is; `None` if the bytes are not a listing of this version.
    fn decode(bytes: &[u8]) -> Option<Listing> {
        let on_disk: OnDisk = serde_json::from_slice(bytes).ok()?;
        let made = SystemTime::UNIX_EPOCH + Duration::from_millis(on_disk.made_unix_ms);
        let age = SystemTime::now().duration_since(made).unwrap_or_default();
        Some(Listing {
            at: Instant::now().checked_sub(age)?,
            objects: Arc::new(
                on_disk
                    .objects
                    .into_iter()
                    .map(|o| ObjectMeta {
                        location: Path::from(o.location),
                        size: o.size,
                        last_modified: chrono::DateTime::from_timestamp_nanos(o.modified_unix_ns),
                        e_tag: o.e_tag,
                        version: o.version,
                    })
                    .collect(),
            ),
            common_prefixes: Arc::new(
                on_disk
                    .common_prefixes
                    .into_iter()
                    .map(Path::from)
                    .collect(),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(prefix: &str) -> ListingKey {
        ListingKey {
            store: "s3://lake".into(),
            prefix: prefix.into(),
            delimited: false,
        }
    }

    fn listing(names: &[&str]) -> Listing {
        Listing {
            at: Instant::now(),
            objects: Arc::new(
                names
                    .iter()
                    .map(|n| ObjectMeta {
                        location: Path::from(*n),
                        size: 42,
                        last_modified: chrono::DateTime::from_timestamp_nanos(
                            1_700_000_000_123_456_789,
                        ),
                        e_tag: Some("\"abc\"".into()),
                        version: None,
                    })
                    .collect(),
            ),
            common_prefixes: Arc::new(vec![Path::from("views/dt=2024-01-01")]),
        }
    }

    #[test]
    fn a_listing_on_disk_serves_the_next_process_within_the_ttl_only() {
        let dir = tempfile::tempdir().unwrap();
        let disk = || Arc::new(DiskCache::new(dir.path(), 1 << 20));
        let first = ListingCache::new(Duration::from_secs(60)).with_disk(disk());
        first.put(key("views/"), listing(&["views/a.parquet"]), 0);
        let next = ListingCache::new(Duration::from_secs(60)).with_disk(disk());
        let found = next.get(&key("views/"), None).expect("from disk");
        assert_eq!(found.objects, listing(&["views/a.parquet"]).objects);
        assert_eq!(found.common_prefixes, listing(&[]).common_prefixes);
        // A process whose TTL the listing's age passes lists again.
        std::thread::sleep(Duration::from_millis(20));
        let strict = ListingCache::new(Duration::from_millis(10)).with_disk(disk());
        assert!(strict.get(&key("views/"), None).is_none());
        // A write to the store forgets its listings on disk too.
        next.forget_store("s3://lake");
        let after = ListingCache::new(Duration::from_secs(60)).with_disk(disk());
        assert!(after.get(&key("views/"), None).is_none());
    }
}
