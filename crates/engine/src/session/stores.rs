//! The store crate's registry and accounting as DataFusion asks for stores.

use std::sync::Arc;

use datafusion::error::Result as DFResult;
use datafusion::execution::object_store::ObjectStoreRegistry;
use minerva_store::{AccountedStore, ListingCache, Stores};
use object_store::ObjectStore;
use url::Url;

use crate::error::EngineError;
use crate::report::QueryStats;

/// The session's stores.
#[derive(Debug)]
pub(crate) struct SessionStores(pub(crate) Stores);

impl ObjectStoreRegistry for SessionStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.0.register(url, store)
    }

    fn get_store(&self, url: &Url) -> DFResult<Arc<dyn ObjectStore>> {
        self.0
            .get(url)
            .map_err(|e| EngineError::from(e).into_datafusion())
    }
}

/// The session's stores as one query sees them: each wrapped to count into its stats.
#[derive(Debug)]
pub(crate) struct QueryStores {
    pub(crate) base: Arc<dyn ObjectStoreRegistry>,
    pub(crate) stats: Arc<QueryStats>,
    pub(crate) listings: Arc<ListingCache>,
}

impl ObjectStoreRegistry for QueryStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.base.register_store(url, store)
    }

    fn get_store(&self, url: &Url) -> DFResult<Arc<dyn ObjectStore>> {
        let inner = self.base.get_store(url)?;
        Ok(Arc::new(AccountedStore::new(
            inner,
            url,
            Arc::clone(self.stats.meter()),
            Arc::clone(&self.listings),
        )))
    }
}
