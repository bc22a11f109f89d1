//! A cache on disk that outlives the process: what a query learned about a remote store (its
//! Parquet footers, its listings), so that the next `minerva -c …` does not wait for it again.
//!
//! Entries are files under `<dir>/<kind>/`, named by a hash of their key; each holds its whole
//! key, so a hash collision is a miss, never someone else's bytes. A footer's key names the
//! object's path, size and ETag or modification time: a changed object has another key and
//! is never served from here. Entries are written to a temporary file and renamed into place,
//! so concurrent processes see an entry whole or not at all. Past the size bound, the least
//! recently used entries go first. A damaged entry (cut short, bytes flipped) is removed and
//! reported as a [`CacheWarning`]; the cache never fails a query.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// What a cache entry is of: each kind in its own directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    /// A Parquet file's footer, keyed by object path, size and ETag or modification time.
    Footer,
    /// A remote listing, keyed by store and prefix; served while younger than the TTL.
    Listing,
}

impl CacheKind {
    const ALL: [CacheKind; 2] = [CacheKind::Footer, CacheKind::Listing];

    fn dir(self) -> &'static str {
        match self {
            CacheKind::Footer => "footers",
            CacheKind::Listing => "listings",
        }
    }
}

/// Something about the cache that a person should know, though the query goes on without it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheWarning {
    /// An entry's bytes are not what was written; it was removed.
    #[error("ignored a damaged cache file '{}' ({why}); it was removed", path.display())]
    Damaged { path: PathBuf, why: &'static str },
    /// The cache directory cannot be written: nothing is cached.
    #[error("cannot write the cache at '{}': {message}", path.display())]
    Unwritable { path: PathBuf, message: String },
}

/// The cache: a directory and a bound on its size.
#[derive(Debug)]
pub struct DiskCache {
    dir: PathBuf,
    max_bytes: u64,
    /// Bytes written since the directory's size was last measured, plus that size.
    approx_bytes: AtomicU64,
    /// Warnings of lookups whose callers could not report them, until taken.
    warnings: Mutex<Vec<CacheWarning>>,
}

const MAGIC: &[u8; 8] = b"MNVCACH1";

impl DiskCache {
    /// The default bound on the cache's size.
    pub const DEFAULT_MAX_BYTES: u64 = 512 << 20;

    /// A cache in `dir` (created when first written) holding at most `max_bytes`.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        let dir = dir.into();
        let approx_bytes = AtomicU64::new(measure(&dir));
        Self {
            dir,
            max_bytes,
            approx_bytes,
            warnings: Mutex::default(),
        }
    }

    /// Keeps `warning` for [`Self::take_warnings`] (once: the same warning twice is one).
    pub fn report(&self, warning: CacheWarning) {
        let mut warnings = self.warnings.lock().expect("cache lock poisoned");
        if !warnings.contains(&warning) {
            warnings.push(warning);
        }
    }

    /// The warnings reported since the last call.
    pub fn take_warnings(&self) -> Vec<CacheWarning> {
        std::mem::take(&mut *self.warnings.lock().expect("cache lock poisoned"))
    }

    /// `$MINERVA_CACHE_DIR`, else the user's cache directory's `minerva/`
    /// (`$XDG_CACHE_HOME/minerva`, `~/.cache/minerva`).
    pub fn default_dir() -> Option<PathBuf> {
        std::env::var_os("MINERVA_CACHE_DIR")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|dir| dir.join("minerva")))
    }

    /// Where the entries are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, kind: CacheKind, key: &str) -> PathBuf {
        self.dir
            .join(kind.dir())
            .join(format!("{:016x}", fnv1a(key.as_bytes())))
    }

    /// The value stored under `key`, if a whole entry is there (and marks it used). A damaged
    /// entry is removed and reported.
    pub fn get(&self, kind: CacheKind, key: &str) -> Result<Option<Vec<u8>>, CacheWarning> {
        let path = self.path(kind, key);
        let Ok(bytes) = std::fs::read(&path) else {
            return Ok(None);
        };
        match decode(&bytes) {
            Ok((stored, value)) if stored == key.as_bytes() => {
                // Recency for eviction: a hit is a use.
                if let Ok(file) = File::options().write(true).open(&path) {
                    let _ = file.set_modified(SystemTime::now());
                }
                Ok(Some(value.to_vec()))
            }
            // Another key with the same hash: not ours.
            Ok(_) => Ok(None),
            Err(why) => {
                let _ = std::fs::remove_file(&path);
                Err(CacheWarning::Damaged { path, why })
            }
        }
    }

    /// Removes the entry under `key`, which its reader found unusable, and reports it.
    pub fn discard(&self, kind: CacheKind, key: &str, why: &'static str) {
        let path = self.path(kind, key);
        let _ = std::fs::remove_file(&path);
        self.report(CacheWarning::Damaged { path, why });
    }

    /// Stores `value` under `key`, replacing any entry; evicts the least recently used entries
    /// once the cache passes its bound.
    pub fn put(&self, kind: CacheKind, key: &str, value: &[u8]) -> Result<(), CacheWarning> {
        let path = self.path(kind, key);
        let dir = path.parent().expect("an entry is in a kind's directory");
        let unwritable = |error: std::io::Error| CacheWarning::Unwritable {
            path: dir.to_path_buf(),
            message: error.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(unwritable)?;
        let mut temporary = tempfile::Builder::new()
            .prefix(".entry-")
            .tempfile_in(dir)
            .map_err(unwritable)?;
        let entry = encode(key.as_bytes(), value);
        temporary.write_all(&entry).map_err(unwritable)?;
        temporary.persist(&path).map_err(|e| unwritable(e.error))?;
        let size = self
            .approx_bytes
            .fetch_add(entry.len() as u64, Ordering::Relaxed)
            + entry.len() as u64;
        if size > self.max_bytes {
            self.evict();
        }
        Ok(())
    }

    /// Removes the entries of `kind` whose key starts with `prefix` (listings of a store that
    /// this process wrote to).
    pub fn remove_where(&self, kind: CacheKind, prefix: &str) {
        for (path, _, _) in entries(&self.dir.join(kind.dir())) {
            if let Ok(bytes) = std::fs::read(&path)
                && let Ok((key, _)) = decode(&bytes)
                && key.starts_with(prefix.as_bytes())
            {
                let _ = std::fs::remove_file(&path);
            }
        }
    }

    /// Removes the least recently used entries until the cache holds at most 90% of its bound.
    fn evict(&self) {
        let mut all: Vec<(PathBuf, u64, SystemTime)> = CacheKind::ALL
            .iter()
            .flat_map(|kind| entries(&self.dir.join(kind.dir())))
            .collect();
        all.sort_by_key(|(_, _, used)| *used);
        let mut total: u64 = all.iter().map(|(_, size, _)| size).sum();
        let target = self.max_bytes / 10 * 9;
        for (path, size, _) in all {
            if total <= target {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= size;
            }
        }
        self.approx_bytes.store(total, Ordering::Relaxed);
    }
}

/// The entries in `dir`: path, size and when last used (temporary files left out).
fn entries(dir: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read.flatten()
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            Some((entry.path(), meta.len(), used))
        })
        .collect()
}

fn measure(dir: &Path) -> u64 {
    CacheKind::ALL
        .iter()
        .flat_map(|kind| entries(&dir.join(kind.dir())))
        .map(|(_, size, _)| size)
        .sum()
}

/// FNV-1a, 64 bits: stable across processes and releases (file names must be).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `MAGIC`, key length (u32 LE), key, value length (u64 LE), value, CRC-32 of all before it.
fn encode(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + key.len() + 8 + value.len() + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    out.extend_from_slice(value);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The key and value of an entry, or why it is damaged.
fn decode(bytes: &[u8]) -> Result<(&[u8], &[u8]), &'static str> {
    let body = bytes
        .len()
        .checked_sub(4)
        .map(|n| &bytes[..n])
        .ok_or("too short")?;
    let crc = u32::from_le_bytes(bytes[body.len()..].try_into().expect("four bytes"));
    if crc32fast::hash(body) != crc {
        return Err("checksum mismatch");
    }
    let rest = body.strip_prefix(MAGIC).ok_or("not a cache entry")?;
    let (len, rest) = rest.split_at_checked(4).ok_or("too short")?;
    let key_len = u32::from_le_bytes(len.try_into().expect("four bytes")) as usize;
    let (key, rest) = rest.split_at_checked(key_len).ok_or("too short")?;
    let (len, value) = rest.split_at_checked(8).ok_or("too short")?;
    let value_len = u64::from_le_bytes(len.try_into().expect("eight bytes"));
    if value.len() as u64 != value_len {
        return Err("wrong length");
    }
    Ok((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_value_comes_back_under_its_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path(), 1 << 20);
        assert_eq!(cache.get(CacheKind::Footer, "a").unwrap(), None);
        cache.put(CacheKind::Footer, "a", b"footer of a").unwrap();
        cache.put(CacheKind::Listing, "a", b"listing of a").unwrap();
        assert_eq!(
            cache.get(CacheKind::Footer, "a").unwrap().as_deref(),
            Some(&b"footer of a"[..])
        );
        assert_eq!(
            cache.get(CacheKind::Listing, "a").unwrap().as_deref(),
            Some(&b"listing of a"[..])
        );
        assert_eq!(cache.get(CacheKind::Footer, "b").unwrap(), None);
        // Another process sees it.
        let other = DiskCache::new(dir.path(), 1 << 20);
        assert!(other.get(CacheKind::Footer, "a").unwrap().is_some());
    }

    #[test]
    fn a_damaged_entry_is_a_warning_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path(), 1 << 20);
        cache.put(CacheKind::Footer, "k", b"0123456789").unwrap();
        let path = cache.path(CacheKind::Footer, "k");
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let warning = cache.get(CacheKind::Footer, "k").unwrap_err();
        assert!(
            warning.to_string().contains("checksum mismatch"),
            "{warning}"
        );
        assert!(!path.exists());
        assert_eq!(cache.get(CacheKind::Footer, "k").unwrap(), None);
        // Cut short, and not an entry at all.
        cache.put(CacheKind::Footer, "k", b"0123456789").unwrap();
        std::fs::write(&path, &std::fs::read(&path).unwrap()[..5]).unwrap();
        assert!(cache.get(CacheKind::Footer, "k").is_err());
        std::fs::write(&path, b"").unwrap();
        assert!(cache.get(CacheKind::Footer, "k").is_err());
    }

    #[test]
    fn past_its_bound_the_least_recently_used_entries_go() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path(), 10_000);
        let value = vec![7u8; 1_000];
        for i in 0..9 {
            cache
                .put(CacheKind::Footer, &format!("entry {i}"), &value)
                .unwrap();
            // Distinct recency even on coarse file system clocks.
            let path = cache.path(CacheKind::Footer, &format!("entry {i}"));
            let used = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000 + i);
            File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(used)
                .unwrap();
        }
        // Entry 0 is used again: it stays, entry 1 is then the oldest.
        assert!(cache.get(CacheKind::Footer, "entry 0").unwrap().is_some());
        for i in 9..20 {
            cache
                .put(CacheKind::Footer, &format!("entry {i}"), &value)
                .unwrap();
        }
        assert!(measure(dir.path()) <= 10_000, "{}", measure(dir.path()));
        assert!(cache.get(CacheKind::Footer, "entry 19").unwrap().is_some());
        assert!(cache.get(CacheKind::Footer, "entry 1").unwrap().is_none());
    }

    #[test]
    fn two_processes_writing_at_once_leave_whole_entries() {
        let dir = tempfile::tempdir().unwrap();
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let dir = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    let cache = DiskCache::new(dir, 1 << 30);
                    for round in 0..50 {
                        let value = vec![w as u8; 10_000 + round];
                        cache.put(CacheKind::Footer, "shared", &value).unwrap();
                        if let Some(seen) = cache.get(CacheKind::Footer, "shared").unwrap() {
                            assert!(seen.iter().all(|&b| b == seen[0]), "a torn entry");
                        }
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
    }

    #[test]
    fn removing_by_key_prefix_leaves_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path(), 1 << 20);
        cache
            .put(CacheKind::Listing, "s3://a\nviews/", b"1")
            .unwrap();
        cache
            .put(CacheKind::Listing, "s3://b\nviews/", b"2")
            .unwrap();
        cache.remove_where(CacheKind::Listing, "s3://a\n");
        assert_eq!(
            cache.get(CacheKind::Listing, "s3://a\nviews/").unwrap(),
            None
        );
        assert!(
            cache
                .get(CacheKind::Listing, "s3://b\nviews/")
                .unwrap()
                .is_some()
        );
    }

    proptest! {
        #[test]
        fn entries_round_trip_and_any_flipped_byte_is_caught(
            key in proptest::collection::vec(any::<u8>(), 0..64),
            value in proptest::collection::vec(any::<u8>(), 0..512),
            flip in any::<prop::sample::Index>(),
        ) {
            let entry = encode(&key, &value);
            prop_assert_eq!(decode(&entry), Ok((&key[..], &value[..])));
            let mut damaged = entry.clone();
            let at = flip.index(damaged.len());
            damaged[at] ^= 0x5a;
            prop_assert!(decode(&damaged).is_err());
            prop_assert!(decode(&entry[..at]).is_err());
        }
    }
}
