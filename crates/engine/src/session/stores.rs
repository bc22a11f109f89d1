//! The store crate's registry and accounting as DataFusion asks for stores.

use std::sync::Arc;

use datafusion::error::Result as DFResult;
use datafusion::execution::object_store::ObjectStoreRegistry;
use minerva_store::{AccountedStore, ListingCache, Meter, Stores};
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

/// Stores as one query (or one worker's share of it) sees them: each wrapped to count into a
/// meter, which also holds the scan limit.
#[derive(Debug)]
pub struct CountingStores {
    base: Arc<dyn ObjectStoreRegistry>,
    meter: Arc<Meter>,
    listings: Arc<ListingCache>,
}

impl CountingStores {
    /// `base`'s stores, counting into `meter`; remote listings cached in `listings`.
    pub fn new(
        base: Arc<dyn ObjectStoreRegistry>,
        meter: Arc<Meter>,
        listings: Arc<ListingCache>,
    ) -> Self {
        Self {
            base,
            meter,
            listings,
        }
    }

    /// The stores of a query counting into its stats.
    pub(crate) fn of_query(
        base: Arc<dyn ObjectStoreRegistry>,
        stats: &QueryStats,
        listings: Arc<ListingCache>,
    ) -> Self {
        Self::new(base, Arc::clone(stats.meter()), listings)
    }
}

impl ObjectStoreRegistry for CountingStores {
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
            Arc::clone(&self.meter),
            Arc::clone(&self.listings),
        )))
    }
}
