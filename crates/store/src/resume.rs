//! Listings that survive a response cut mid-body.
//!
//! object_store retries a request that fails before its response (a refused connection, a
//! 503) and a GET whose body breaks off (from the byte it reached). A LIST whose body breaks
//! off mid-page it reports as a failure. This store resumes such a listing after the last key
//! it returned (S3's `start-after`), within the request retry budget; past it, the error says
//! how far the listing got and how often it was tried.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::client::{HttpError, HttpErrorKind};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};

/// A listing that broke off after `retries` resumptions.
#[derive(Debug, thiserror::Error)]
#[error("the listing broke off after {listed} objects and {retries} retries: {source}")]
pub struct ListingInterrupted {
    /// Objects the listing had returned.
    pub listed: usize,
    /// How many times it was resumed.
    pub retries: usize,
    /// The last failure.
    #[source]
    pub source: object_store::Error,
}

/// Wraps a remote store so that its listings resume where a cut response left them.
pub(crate) struct ResumingStore {
    inner: Arc<dyn ObjectStore>,
    retries: usize,
}

impl ResumingStore {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, retries: usize) -> Self {
        Self { inner, retries }
    }

    fn resuming(
        &self,
        prefix: Option<&Path>,
        offset: Option<&Path>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let state = Resumable {
            inner: Arc::clone(&self.inner),
            prefix: prefix.cloned(),
            after: offset.cloned(),
            stream: None,
            listed: 0,
            retries: 0,
            budget: self.retries,
            done: false,
        };
        futures::stream::unfold(state, |mut state| async move {
            let item = state.next().await?;
            Some((item, state))
        })
        .boxed()
    }
}

impl fmt::Debug for ResumingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResumingStore")
            .field("inner", &self.inner)
            .field("retries", &self.retries)
            .finish()
    }
}

impl fmt::Display for ResumingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inner)
    }
}

struct Resumable {
    inner: Arc<dyn ObjectStore>,
    prefix: Option<Path>,
    /// List keys after this one (the offset asked for, then the last key returned).
    after: Option<Path>,
    stream: Option<BoxStream<'static, object_store::Result<ObjectMeta>>>,
    listed: usize,
    retries: usize,
    budget: usize,
    done: bool,
}

impl Resumable {
    async fn next(&mut self) -> Option<object_store::Result<ObjectMeta>> {
        if self.done {
            return None;
        }
        loop {
            let stream = self.stream.get_or_insert_with(|| match &self.after {
                Some(after) => self.inner.list_with_offset(self.prefix.as_ref(), after),
                None => self.inner.list(self.prefix.as_ref()),
            });
            match stream.next().await {
                Some(Ok(meta)) => {
                    self.after = Some(meta.location.clone());
                    self.listed += 1;
                    return Some(Ok(meta));
                }
                Some(Err(error)) if is_cut(&error) && self.retries < self.budget => {
                    self.retries += 1;
                    self.stream = None;
                    tokio::time::sleep(backoff(self.retries)).await;
                }
                Some(Err(error)) => {
                    self.done = true;
                    if self.retries == 0 || !is_cut(&error) || !broke_off(&error) {
                        return Some(Err(error));
                    }
                    return Some(Err(object_store::Error::Generic {
                        store: "S3",
                        source: Box::new(ListingInterrupted {
                            listed: self.listed,
                            retries: self.retries,
                            source: error,
                        }),
                    }));
                }
                None => {
                    self.done = true;
                    return None;
                }
            }
        }
    }
}

/// The kind of the HTTP error in `error`'s chain.
fn http_kind(error: &object_store::Error) -> Option<HttpErrorKind> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(http) = current.downcast_ref::<HttpError>() {
            return Some(http.kind());
        }
        cause = current.source();
    }
    None
}

/// Whether `error` is a response that broke off or stalled after the connection was made:
/// worth resuming. Decided by the kind of the HTTP error in its chain, never by its text. (A
/// connection that cannot be made object_store has retried already.)
pub(crate) fn is_cut(error: &object_store::Error) -> bool {
    matches!(
        http_kind(error),
        Some(
            HttpErrorKind::Request
                | HttpErrorKind::Interrupted
                | HttpErrorKind::Decode
                | HttpErrorKind::Timeout
        )
    )
}

/// Whether a listing that failed with `error` after resumptions broke off (rather than timed
/// out, which is reported as a timeout).
fn broke_off(error: &object_store::Error) -> bool {
    !matches!(http_kind(error), Some(HttpErrorKind::Timeout))
}

/// 100 ms, 200 ms, 400 ms, … at most 2 s.
fn backoff(retry: usize) -> Duration {
    Duration::from_millis(100u64 << retry.min(5).saturating_sub(1)).min(Duration::from_secs(2))
}

#[async_trait]
impl ObjectStore for ResumingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[std::ops::Range<u64>],
    ) -> object_store::Result<Vec<bytes::Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.resuming(prefix, None)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.resuming(prefix, Some(offset))
    }

    /// One page of keys and prefixes: asked again whole when its response breaks off.
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let mut retries = 0;
        loop {
            match self.inner.list_with_delimiter(prefix).await {
                Err(error) if is_cut(&error) && retries < self.retries => {
                    retries += 1;
                    tokio::time::sleep(backoff(retries)).await;
                }
                Err(error) if retries > 0 && is_cut(&error) && broke_off(&error) => {
                    return Err(object_store::Error::Generic {
                        store: "S3",
                        source: Box::new(ListingInterrupted {
                            listed: 0,
                            retries,
                            source: error,
                        }),
                    });
                }
                other => return other,
            }
        }
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}
