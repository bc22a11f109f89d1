//! Local files, their byte ranges read on the thread that asks.
//!
//! `object_store`'s [`LocalFileSystem`] hands every read to Tokio's blocking pool and waits
//! for it (two hand-overs for one ranged GET: open, then read). A read of a local lake is a
//! copy out of the page cache, shorter than the hand-over itself: the asking core goes idle
//! at each one until the pool's thread runs, and a query of local files on two cores lost
//! about a tenth of them that way. [`LocalFiles`] reads byte ranges where they are asked for,
//! as DuckDB does; listing, heads, whole-object GETs, writes and deletes stay
//! `LocalFileSystem`'s.
//!
//! The cost: on a cold or network disk the asking thread waits for the disk itself, and a
//! Tokio worker's other tasks wait with it (other workers steal them). A query's scan threads
//! have nothing else to run meanwhile; `minerva serve`'s other sessions are delayed by a read
//! at most.

use std::fmt;
use std::fs::File;
use std::io;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, stream};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// The name `LocalFileSystem` gives itself in errors, kept so that an error reads the same.
const STORE: &str = "LocalFileSystem";

/// Why a range of a local file could not be read.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("cannot read bytes {start}..{end} of '{path}': {source}")]
    Io {
        path: String,
        start: u64,
        end: u64,
        #[source]
        source: io::Error,
    },
    #[error("cannot read bytes {start}..{end} of '{path}': the file ends at byte {size}")]
    PastEnd {
        path: String,
        start: u64,
        end: u64,
        size: u64,
    },
    #[error("cannot read bytes {start}..{end} of '{path}': the range ends before it starts")]
    Backwards { path: String, start: u64, end: u64 },
    #[error("cannot read bytes {start}..{end} of '{path}': more than this machine can address")]
    TooLarge { path: String, start: u64, end: u64 },
    #[error("cannot read '{path}': {source}")]
    Range {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl From<ReadError> for object_store::Error {
    fn from(error: ReadError) -> Self {
        object_store::Error::Generic {
            store: STORE,
            source: Box::new(error),
        }
    }
}

/// The local filesystem (see the module's documentation).
#[derive(Debug, Default)]
pub struct LocalFiles {
    inner: LocalFileSystem,
}

impl LocalFiles {
    /// Files at their absolute paths, as [`LocalFileSystem::new`] serves them.
    pub fn new() -> Self {
        Self::default()
    }

    /// Files under the directory `prefix`, as [`LocalFileSystem::new_with_prefix`] serves them.
    pub fn with_prefix(prefix: impl AsRef<std::path::Path>) -> Result<Self> {
        Ok(Self {
            inner: LocalFileSystem::new_with_prefix(prefix)?,
        })
    }

    fn open(&self, location: &Path) -> Result<(File, std::path::PathBuf)> {
        let path = self.inner.path_to_filesystem(location)?;
        match File::open(&path) {
            Ok(file) => Ok((file, path)),
            Err(source) => Err(open_error(source, &path)),
        }
    }
}

impl fmt::Display for LocalFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalFiles")
    }
}

fn open_error(source: io::Error, path: &std::path::Path) -> object_store::Error {
    match source.kind() {
        io::ErrorKind::NotFound => object_store::Error::NotFound {
            path: path.display().to_string(),
            source: Box::new(source),
        },
        _ => object_store::Error::Generic {
            store: STORE,
            source: Box::new(source),
        },
    }
}

/// Bytes `range` of `file`, all of them or an error.
#[cfg(unix)]
fn read_range(file: &File, path: &std::path::Path, range: Range<u64>) -> Result<Bytes> {
    use std::os::unix::fs::FileExt;
    let (start, end) = (range.start, range.end);
    let display = || path.display().to_string();
    let len = end.checked_sub(start).ok_or_else(|| ReadError::Backwards {
        path: display(),
        start,
        end,
    })?;
    let len = usize::try_from(len).map_err(|_| ReadError::TooLarge {
        path: display(),
        start,
        end,
    })?;
    let mut buffer = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        match file.read_at(&mut buffer[filled..], start + filled as u64) {
            Ok(0) => {
                return Err(ReadError::PastEnd {
                    path: display(),
                    start,
                    end,
                    size: start + filled as u64,
                }
                .into());
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(ReadError::Io {
                    path: display(),
                    start,
                    end,
                    source,
                }
                .into());
            }
        }
    }
    Ok(buffer.into())
}

/// The metadata `LocalFileSystem` gives the same file (its ETag: inode, mtime, size).
#[cfg(unix)]
fn object_meta(location: &Path, metadata: &std::fs::Metadata) -> ObjectMeta {
    use std::os::unix::fs::MetadataExt;
    let mtime = metadata.modified().ok();
    let micros = mtime
        .and_then(|m| m.duration_since(std::time::SystemTime::UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_micros();
    ObjectMeta {
        location: location.clone(),
        last_modified: mtime.map(Into::into).unwrap_or_default(),
        size: metadata.len(),
        e_tag: Some(format!(
            "{:x}-{micros:x}-{:x}",
            metadata.ino(),
            metadata.len()
        )),
        version: None,
    }
}

#[async_trait]
impl ObjectStore for LocalFiles {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    /// A ranged GET without conditions is read here; anything else is `LocalFileSystem`'s.
    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        #[cfg(unix)]
        if let Some(range) = &options.range
            && !options.head
            && options.if_match.is_none()
            && options.if_none_match.is_none()
            && options.if_modified_since.is_none()
            && options.if_unmodified_since.is_none()
            && options.version.is_none()
        {
            let (file, path) = self.open(location)?;
            let metadata = file.metadata().map_err(|e| open_error(e, &path))?;
            if metadata.is_dir() {
                return Err(open_error(
                    io::Error::new(io::ErrorKind::NotFound, "is a directory"),
                    &path,
                ));
            }
            let meta = object_meta(location, &metadata);
            let range = range
                .as_range(meta.size)
                .map_err(|source| ReadError::Range {
                    path: path.display().to_string(),
                    source: Box::new(source),
                })?;
            let bytes = read_range(&file, &path, range.clone())?;
            return Ok(GetResult {
                payload: GetResultPayload::Stream(stream::once(async { Ok(bytes) }).boxed()),
                attributes: Default::default(),
                range,
                meta,
            });
        }
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        #[cfg(unix)]
        {
            let (file, path) = self.open(location)?;
            ranges
                .iter()
                .map(|range| read_range(&file, &path, range.clone()))
                .collect()
        }
        #[cfg(not(unix))]
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;
    use proptest::prelude::*;

    fn lake(bytes: &[u8]) -> (tempfile::TempDir, Path) {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("part-0.parquet");
        std::fs::write(&file, bytes).expect("write");
        let location = Path::from_absolute_path(&file).expect("absolute path");
        (dir, location)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("runtime")
    }

    proptest! {
        /// Any ranges, within the file or past its end, read as `LocalFileSystem` reads them:
        /// the same bytes, or an error where it errs; a ranged GET gives the same bytes, range
        /// and metadata.
        #[test]
        fn ranges_read_as_the_local_file_system_reads_them(
            size in 0usize..5_000,
            ranges in proptest::collection::vec((0u64..6_000, 0u64..6_000), 1..6),
        ) {
            let bytes: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            let (_dir, location) = lake(&bytes);
            let ranges: Vec<Range<u64>> = ranges.into_iter().map(|(a, b)| a..b).collect();
            let (ours, theirs) = (LocalFiles::new(), LocalFileSystem::new());
            runtime().block_on(async {
                let a = ours.get_ranges(&location, &ranges).await;
                let b = theirs.get_ranges(&location, &ranges).await;
                match (&a, &b) {
                    (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                    (Err(_), Err(_)) => {}
                    _ => prop_assert!(false, "ours {a:?}, LocalFileSystem's {b:?}"),
                }
                for range in &ranges {
                    let a = ours.get_range(&location, range.clone()).await;
                    let b = theirs.get_range(&location, range.clone()).await;
                    match (&a, &b) {
                        (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                        (Err(_), Err(_)) => {}
                        _ => prop_assert!(false, "{range:?}: ours {a:?}, theirs {b:?}"),
                    }
                    let options = || GetOptions::new().with_range(Some(range.clone()));
                    if let (Ok(a), Ok(b)) = (
                        ours.get_opts(&location, options()).await,
                        theirs.get_opts(&location, options()).await,
                    ) {
                        prop_assert_eq!(&a.meta, &b.meta);
                        prop_assert_eq!(&a.range, &b.range);
                    }
                }
                Ok(())
            })?;
        }
    }

    #[test]
    fn a_missing_file_is_not_found_and_a_short_one_says_where_it_ends() {
        let (dir, location) = lake(b"PAR1");
        let missing = Path::from_absolute_path(dir.path().join("gone.parquet")).expect("path");
        runtime().block_on(async {
            let store = LocalFiles::new();
            let error = store.get_ranges(&missing, &[0..2, 2..4]).await.unwrap_err();
            assert!(
                matches!(error, object_store::Error::NotFound { .. }),
                "{error}"
            );
            let error = store.get_range(&missing, 0..4).await.unwrap_err();
            assert!(
                matches!(error, object_store::Error::NotFound { .. }),
                "{error}"
            );
            let error = store
                .get_ranges(&location, &[0..2, 2..10])
                .await
                .unwrap_err();
            let message = error.to_string();
            assert!(
                message.contains("bytes 2..10") && message.contains("ends at byte 4"),
                "{message}"
            );
            assert!(message.contains("part-0.parquet"), "{message}");
        });
    }

    /// Threads a fresh runtime starts while `read` runs on it (its one worker included).
    fn threads_started(read: impl std::future::Future<Output = ()> + Send + 'static) -> usize {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let started = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&started);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .on_thread_start(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            })
            .build()
            .expect("runtime");
        runtime.block_on(async { tokio::spawn(read).await.expect("read") });
        drop(runtime);
        started.load(Ordering::SeqCst)
    }

    #[test]
    fn ranges_are_read_on_the_asking_thread_not_handed_to_the_blocking_pool() {
        let (_dir, location) = lake(&[7u8; 64]);
        let ours = {
            let location = location.clone();
            threads_started(async move {
                let store = LocalFiles::new();
                let read = store.get_ranges(&location, &[0..8, 8..64]).await;
                assert_eq!(read.expect("read")[1].len(), 56);
                store.get_range(&location, 3..9).await.expect("read");
            })
        };
        let theirs = threads_started(async move {
            let store = LocalFileSystem::new();
            store
                .get_ranges(&location, &[0..8, 8..64])
                .await
                .expect("read");
        });
        assert_eq!(ours, 1, "only the runtime's worker");
        assert!(
            theirs > 1,
            "LocalFileSystem hands its reads to the blocking pool"
        );
    }
}
