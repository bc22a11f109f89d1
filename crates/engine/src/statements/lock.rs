//! The catalog's edit lock, as statements take it.

use minerva_catalog::Catalog;

use crate::error::{EngineError, Result};
use crate::scan::Tables;

/// Takes the catalog's edit lock, then reads the catalog as the last edit left it.
pub(super) async fn lock_catalog(tables: &Tables) -> Result<minerva_catalog::CatalogLock> {
    let root = tables.catalog().root().to_path_buf();
    let lock = tokio::task::spawn_blocking(move || Catalog::lock(&root).map_err(Box::new))
        .await
        .map_err(|e| EngineError::Query(datafusion::error::DataFusionError::External(Box::new(e))))?
        .map_err(|e| EngineError::from(*e))?;
    tables.reload()?;
    Ok(lock)
}
