//! An object store wrapper that records every request: how tests prove what a query touched.

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// What kind of request reached the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestKind {
    /// A recursive LIST under a prefix.
    List,
    /// A LIST of one level under a prefix (directories come back as common prefixes).
    ListWithDelimiter,
    /// A GET of a whole object or a byte range.
    Get,
    /// A HEAD (metadata only).
    Head,
    /// Several byte ranges of one object.
    GetRanges,
    /// A PUT, multipart upload, copy, rename or delete.
    Write,
}

/// One request: its kind and the path or prefix it named (empty for the store's root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// What was asked.
    pub kind: RequestKind,
    /// Of which path or prefix.
    pub path: String,
    /// For a GET that succeeded: the bytes served, and the object's size.
    pub served: Option<(Range<u64>, u64)>,
}

impl Request {
    /// Bytes the store served for this request.
    pub fn bytes(&self) -> u64 {
        self.served.as_ref().map_or(0, |(r, _)| r.end - r.start)
    }

    /// Whether this GET read the end of an object: a Parquet footer (data pages never end
    /// there, the footer follows them).
    pub fn reads_footer(&self) -> bool {
        self.served
            .as_ref()
            .is_some_and(|(range, size)| range.end == *size)
    }
}

/// Wraps a store and records each request made through it, in order.
#[derive(Debug, Clone)]
pub struct RecordingStore {
    inner: Arc<dyn ObjectStore>,
    log: Arc<Mutex<Vec<Request>>>,
}

impl RecordingStore {
    /// Records the requests made to `inner`.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self {
            inner,
            log: Arc::default(),
        }
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().expect("request log poisoned").clone()
    }

    /// Forgets the requests so far.
    pub fn clear(&self) {
        self.log.lock().expect("request log poisoned").clear();
    }

    fn record(&self, kind: RequestKind, path: Option<&Path>) {
        self.record_served(kind, path, None);
    }

    fn record_served(
        &self,
        kind: RequestKind,
        path: Option<&Path>,
        served: Option<(Range<u64>, u64)>,
    ) {
        let path = path.map(ToString::to_string).unwrap_or_default();
        self.log
            .lock()
            .expect("request log poisoned")
            .push(Request { kind, path, served });
    }
}

impl fmt::Display for RecordingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recording({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for RecordingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.record(RequestKind::Write, Some(location));
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.record(RequestKind::Write, Some(location));
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let kind = if options.head {
            RequestKind::Head
        } else {
            RequestKind::Get
        };
        let result = self.inner.get_opts(location, options).await;
        let served = result
            .as_ref()
            .ok()
            .filter(|_| kind == RequestKind::Get)
            .map(|r| (r.range.clone(), r.meta.size));
        self.record_served(kind, Some(location), served);
        result
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> Result<Vec<bytes::Bytes>> {
        self.record(RequestKind::GetRanges, Some(location));
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let this = self.clone();
        let recorded = locations.map(move |path| {
            if let Ok(path) = &path {
                this.record(RequestKind::Write, Some(path));
            }
            path
        });
        self.inner.delete_stream(recorded.boxed())
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.record(RequestKind::List, prefix);
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.record(RequestKind::List, prefix);
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.record(RequestKind::ListWithDelimiter, prefix);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.record(RequestKind::Write, Some(to));
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.record(RequestKind::Write, Some(to));
        self.inner.rename_opts(from, to, options).await
    }
}
