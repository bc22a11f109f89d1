//! The wrappers are object stores in their own right: object_store's own conformance suite
//! (`object_store::integration`) runs through them, over memory and the local file system.
//! The accounted store caches listings of remote stores, so the suite also proves that a write
//! through it is never followed by a stale listing.

use std::sync::Arc;

use minerva_store::{AccountedStore, ListingCache, LocalFiles, Meter, RecordingStore};
use object_store::integration::*;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{DynObjectStore, ObjectStore};
use url::Url;

async fn suite(store: &DynObjectStore) {
    put_get_delete_list(store).await;
    put_get_attributes(store).await;
    get_opts(store).await;
    put_opts(store, true).await;
    list_uses_directories_correctly(store).await;
    list_with_delimiter(store).await;
    rename_and_copy(store).await;
    copy_if_not_exists(store).await;
    copy_rename_nonexistent_object(store).await;
    stream_get(store).await;
    list_with_offset_exclusivity(store).await;
}

fn accounted(inner: Arc<dyn ObjectStore>, url: &str) -> (AccountedStore, Arc<Meter>) {
    let meter = Arc::new(Meter::new(None));
    let listings = Arc::new(ListingCache::new(ListingCache::DEFAULT_TTL));
    let store = AccountedStore::new(
        inner,
        &Url::parse(url).unwrap(),
        Arc::clone(&meter),
        listings,
    );
    (store, meter)
}

#[tokio::test]
async fn accounted_store_over_memory_with_a_listing_cache() {
    let (store, meter) = accounted(Arc::new(InMemory::new()), "s3://lake");
    suite(&store).await;
    let usage = meter.usage();
    assert!(usage.get_requests > 0 && usage.list_requests > 0 && usage.bytes > 0);
}

#[tokio::test]
async fn accounted_store_over_the_local_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
    let (store, _) = accounted(Arc::new(local), "file://");
    put_get_delete_list(&store).await;
    list_uses_directories_correctly(&store).await;
    list_with_delimiter(&store).await;
    rename_and_copy(&store).await;
    copy_if_not_exists(&store).await;
    stream_get(&store).await;
}

#[tokio::test]
async fn recording_store_over_memory() {
    let store = RecordingStore::new(Arc::new(InMemory::new()));
    suite(&store).await;
    assert!(!store.requests().is_empty());
}

/// Local files read on the asking thread behave as `LocalFileSystem` does, ranged and
/// conditional GETs included, on their own and through the accounting.
#[tokio::test]
async fn local_files_read_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalFiles::with_prefix(dir.path()).unwrap();
    put_get_delete_list(&local).await;
    get_opts(&local).await;
    list_uses_directories_correctly(&local).await;
    list_with_delimiter(&local).await;
    rename_and_copy(&local).await;
    copy_if_not_exists(&local).await;
    copy_rename_nonexistent_object(&local).await;
    stream_get(&local).await;
    list_with_offset_exclusivity(&local).await;
    let dir = tempfile::tempdir().unwrap();
    let local = LocalFiles::with_prefix(dir.path()).unwrap();
    let (store, meter) = accounted(Arc::new(local), "file://");
    put_get_delete_list(&store).await;
    stream_get(&store).await;
    assert!(meter.usage().get_requests > 0);
}
