//! A store that counts each request of one query into its [`Meter`], enforces the query's scan
//! limit before a byte is fetched, and answers repeated listings of remote stores from the
//! shared [`ListingCache`].
//!
//! Counting at this layer (not from plan estimates) makes the figures what the server actually
//! served, like Athena's "Data scanned"; footers that a metadata cache answers never reach it.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};
use url::Url;

use crate::listings::{Listing, ListingCache, ListingKey};
use crate::meter::{InFlight, Meter, ScanLimitExceeded};

/// How many keys one S3 LIST request returns at most: a longer listing is several requests.
const LIST_PAGE: u64 = 1000;

/// The widest gap between two byte ranges that one request covers (object_store's rule).
const COALESCE_GAP: u64 = object_store::OBJECT_STORE_COALESCE_DEFAULT;

/// One store, counting into one query's meter.
#[derive(Debug)]
pub struct AccountedStore {
    inner: Arc<dyn ObjectStore>,
    store: String,
    meter: Arc<Meter>,
    /// Remote stores only: a local listing is a directory read, cheap and always current.
    listings: Option<Arc<ListingCache>>,
}

impl fmt::Display for AccountedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Accounted({})", self.inner)
    }
}

impl AccountedStore {
    /// `inner`, the store of `url` (`scheme://authority`), counting into `meter`. Listings of a
    /// remote store are answered from `listings` while they are fresh.
    pub fn new(
        inner: Arc<dyn ObjectStore>,
        url: &Url,
        meter: Arc<Meter>,
        listings: Arc<ListingCache>,
    ) -> Self {
        let remote = url.scheme() != "file";
        Self {
            inner,
            store: format!("{}://{}", url.scheme(), url.authority()),
            meter,
            listings: remote.then_some(listings),
        }
    }

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

    /// A write starts or ends: the store's listings are forgotten, and no listing that
    /// overlapped the write is kept (a listing made during it may have missed what it wrote).
    fn written(&self) {
        self.on_written()();
    }

    /// Runs `write`, with the store's listings forgotten as it starts and as it ends.
    async fn writing<T>(
        &self,
        write: impl Future<Output = object_store::Result<T>>,
    ) -> object_store::Result<T> {
        self.written();
        let result = write.await;
        self.written();
        result
    }

    /// [`Self::written`], for a write that ends later (a stream of deletes, an upload).
    fn on_written(&self) -> impl Fn() + Send + Sync + 'static {
        let listings = self.listings.clone();
        let store = self.store.clone();
        move || {
            if let Some(cache) = &listings {
                cache.forget_store(&store);
            }
        }
    }
}

/// `result`, its request counted in flight until its body has been read (or dropped).
fn in_flight_until_read(mut result: GetResult, request: InFlight) -> GetResult {
    if let GetResultPayload::Stream(stream) = result.payload {
        result.payload = GetResultPayload::Stream(InFlightStream::new(stream, request).boxed());
    }
    result
}

/// A response's stream, its request in flight until the stream ends, fails or is dropped.
struct InFlightStream<T> {
    inner: BoxStream<'static, object_store::Result<T>>,
    request: Option<InFlight>,
}

impl<T> InFlightStream<T> {
    fn new(inner: BoxStream<'static, object_store::Result<T>>, request: InFlight) -> Self {
        Self {
            inner,
            request: Some(request),
        }
    }
}

impl<T> futures::Stream for InFlightStream<T> {
    type Item = object_store::Result<T>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let polled = this.inner.poll_next_unpin(cx);
        if let std::task::Poll::Ready(None | Some(Err(_))) = &polled {
            this.request = None;
        }
        polled
    }
}

/// A multipart upload whose end, too, forgets the store's listings.
struct Upload<F> {
    inner: Box<dyn MultipartUpload>,
    done: F,
}

impl<F> fmt::Debug for Upload<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("inner", &self.inner)
            .finish()
    }
}

#[async_trait]
impl<F: Fn() + Send + Sync + 'static> MultipartUpload for Upload<F> {
    fn put_part(&mut self, data: PutPayload) -> object_store::UploadPart {
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let result = self.inner.complete().await;
        (self.done)();
        result
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

/// A listing in progress: counts its pages, and caches it once it has run to its end.
struct Listed {
    inner: BoxStream<'static, object_store::Result<ObjectMeta>>,
    meter: Arc<Meter>,
    /// In flight until the listing ends (its pages follow one another).
    request: Option<InFlight>,
    seen: u64,
    keep: Option<Keep>,
}

/// What a listing collects to be cached: where, the store's write count when it started, and
/// the objects so far.
struct Keep {
    cache: Arc<ListingCache>,
    key: ListingKey,
    writes: u64,
    objects: Vec<ObjectMeta>,
}

impl Listed {
    async fn next(&mut self) -> Option<object_store::Result<ObjectMeta>> {
        match self.inner.next().await {
            Some(Ok(meta)) => {
                self.seen += 1;
                if self.seen.is_multiple_of(LIST_PAGE) {
                    self.meter.listed(1);
                }
                if let Some(keep) = &mut self.keep {
                    keep.objects.push(meta.clone());
                }
                Some(Ok(meta))
            }
            Some(Err(error)) => {
                self.keep = None;
                self.request = None;
                Some(Err(error))
            }
            None => {
                self.request = None;
                if let Some(keep) = self.keep.take() {
                    let listing = Listing {
                        at: Instant::now(),
                        objects: Arc::new(keep.objects),
                        common_prefixes: Arc::default(),
                    };
                    keep.cache.put(keep.key, listing, keep.writes);
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
        self.writing(self.inner.put_opts(location, payload, opts))
            .await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.written();
        let upload = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(Upload {
            inner: upload,
            done: self.on_written(),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let request = self.meter.begin();
        if options.head {
            self.meter.headed();
            return self.inner.get_opts(location, options).await;
        }
        let known = match &options.range {
            Some(GetRange::Bounded(range)) => range.end - range.start,
            _ => 0,
        };
        self.meter.admit(known).map_err(Self::limit_error)?;
        let result = match self.inner.get_opts(location, options).await {
            Ok(result) => result,
            Err(error) => {
                self.meter.release(known);
                return Err(error);
            }
        };
        self.meter.fetched(location, 1);
        let bytes = result.range.end - result.range.start;
        if bytes < known {
            self.meter.release(known - bytes);
        } else {
            // A suffix or open-ended read: its size is known only now.
            self.meter.admit(bytes - known).map_err(Self::limit_error)?;
        }
        Ok(in_flight_until_read(result, request))
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
        self.meter.admit(bytes).map_err(Self::limit_error)?;
        let _request = self.meter.begin();
        let fetched = self
            .inner
            .get_ranges(location, ranges)
            .await
            .inspect_err(|_| self.meter.release(bytes))?;
        self.meter.fetched(location, ranges.len() as u64);
        Ok(fetched)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.written();
        let done = self.on_written();
        self.inner
            .delete_stream(locations)
            .inspect(move |_| done())
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let key = self.key(prefix, false);
        let cache = self.listings.clone();
        let max_age = self.meter.max_listing_age(&key.store, &key.prefix);
        if let Some(listing) = cache.as_ref().and_then(|c| c.get(&key, max_age)) {
            let objects = Arc::unwrap_or_clone(listing.objects);
            return futures::stream::iter(objects.into_iter().map(Ok)).boxed();
        }
        self.meter.listed(1);
        let listing = Listed {
            inner: self.inner.list(prefix),
            request: Some(self.meter.begin()),
            meter: Arc::clone(&self.meter),
            seen: 0,
            // Collected while it streams; kept only if the listing runs to its end.
            keep: cache.map(|cache| Keep {
                writes: cache.writes(&self.store),
                cache,
                key,
                objects: Vec::new(),
            }),
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
        self.meter.listed(1);
        let request = self.meter.begin();
        InFlightStream::new(self.inner.list_with_offset(prefix, offset), request).boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let key = self.key(prefix, true);
        let max_age = self.meter.max_listing_age(&key.store, &key.prefix);
        if let Some(cache) = &self.listings
            && let Some(listing) = cache.get(&key, max_age)
        {
            return Ok(ListResult {
                common_prefixes: Arc::unwrap_or_clone(listing.common_prefixes),
                objects: Arc::unwrap_or_clone(listing.objects),
            });
        }
        let writes = self.listings.as_ref().map(|c| c.writes(&self.store));
        let request = self.meter.begin();
        let result = self.inner.list_with_delimiter(prefix).await?;
        drop(request);
        let keys = (result.objects.len() + result.common_prefixes.len()) as u64;
        self.meter.listed(keys.div_ceil(LIST_PAGE).max(1));
        if let (Some(cache), Some(writes)) = (&self.listings, writes) {
            let listing = Listing {
                at: Instant::now(),
                objects: Arc::new(result.objects.clone()),
                common_prefixes: Arc::new(result.common_prefixes.clone()),
            };
            cache.put(key, listing, writes);
        }
        Ok(result)
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.writing(self.inner.copy_opts(from, to, options)).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.writing(self.inner.rename_opts(from, to, options))
            .await
    }
}
