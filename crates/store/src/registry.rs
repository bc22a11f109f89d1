//! The session's object stores: local files, stores handed in by the embedder, and one S3
//! client per bucket, built on first use from the catalog's `storage.toml` and the standard AWS
//! credential chain (see [`crate::s3`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use minerva_catalog::{CatalogError, StorageSettings};
use object_store::ObjectStore;
use url::Url;

use crate::error::StoreError;
use crate::local::LocalFiles;
use crate::resume::ResumingStore;
use crate::s3::s3_store;

/// Every store a session reads from, by `scheme://authority`.
#[derive(Debug)]
pub struct Stores {
    known: RwLock<HashMap<String, Arc<dyn ObjectStore>>>,
    storage: Result<StorageSettings, Arc<CatalogError>>,
    profile: Option<String>,
    building: Mutex<()>,
}

impl Stores {
    /// Local files, and S3 buckets set up by `storage` (if it could be read) with `profile`
    /// before the rest of the AWS chain.
    pub fn new(
        storage: Result<StorageSettings, Arc<CatalogError>>,
        profile: Option<String>,
    ) -> Self {
        let local: Arc<dyn ObjectStore> = Arc::new(LocalFiles::new());
        Self {
            known: RwLock::new(HashMap::from([("file://".to_string(), local)])),
            storage,
            profile,
            building: Mutex::new(()),
        }
    }

    /// Serves every location under `url` from `store`; returns the store it replaces.
    pub fn register(&self, url: &Url, store: Arc<dyn ObjectStore>) -> Option<Arc<dyn ObjectStore>> {
        self.known
            .write()
            .expect("store registry poisoned")
            .insert(key(url), store)
    }

    /// The store for `url`: registered, or an S3 client built now (one per bucket, even when
    /// several scans ask at once).
    pub fn get(&self, url: &Url) -> Result<Arc<dyn ObjectStore>, StoreError> {
        let key = key(url);
        if let Some(store) = self.lookup(&key) {
            return Ok(store);
        }
        if url.scheme() != "s3" {
            return Err(StoreError::NoStore { url: key });
        }
        let _building = self.building.lock().expect("store registry poisoned");
        if let Some(store) = self.lookup(&key) {
            return Ok(store);
        }
        let store = self.build_s3(url)?;
        self.register(url, Arc::clone(&store));
        Ok(store)
    }

    fn lookup(&self, key: &str) -> Option<Arc<dyn ObjectStore>> {
        let known = self.known.read().expect("store registry poisoned");
        known.get(key).cloned()
    }

    fn build_s3(&self, url: &Url) -> Result<Arc<dyn ObjectStore>, StoreError> {
        let storage = self
            .storage
            .as_ref()
            .map_err(|e| StoreError::Settings(Arc::clone(e)))?;
        let bucket = url.host_str().unwrap_or_default();
        let settings = storage.for_bucket(bucket);
        let profile_name = self.profile.clone().or_else(|| settings.profile.clone());
        let retries = settings.retries.unwrap_or(crate::s3::DEFAULT_RETRIES);
        let s3 = Arc::new(s3_store(bucket, &settings, profile_name)?);
        Ok(Arc::new(ResumingStore::new(s3, retries)))
    }
}

/// `s3://bucket` of `s3://bucket/a/b`; `file://` for local paths (DataFusion's key).
fn key(url: &Url) -> String {
    format!(
        "{}://{}",
        url.scheme(),
        &url[url::Position::BeforeHost..url::Position::AfterPort]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_files_are_known_and_other_schemes_are_not() {
        let stores = Stores::new(Ok(StorageSettings::default()), None);
        let file = Url::parse("file:///tmp/lake/views").unwrap();
        assert!(stores.get(&file).is_ok());
        let gcs = Url::parse("gs://bucket/views").unwrap();
        assert_eq!(
            stores.get(&gcs).unwrap_err().to_string(),
            "no object store for 'gs://bucket' (supported: local paths, file:// and s3:// URLs)"
        );
        let memory: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        assert!(stores.register(&gcs, memory).is_none());
        assert!(
            stores
                .get(&Url::parse("gs://bucket/other").unwrap())
                .is_ok()
        );
    }
}
