//! The catalog as DataFusion sees it: databases as schemas, tables opened on first use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::runtime_env::RuntimeEnv;
use minerva_catalog::Catalog;

use super::table::CatalogTable;
use crate::error::{EngineError, Result};

/// The name of the DataFusion catalog that holds every database.
pub(crate) const CATALOG_NAME: &str = "minerva";

/// DataFusion's metadata schema, present in every catalog.
const INFORMATION_SCHEMA: &str = "information_schema";

/// Shared by every schema: the catalog, and the tables opened so far (opening one may read a
/// file footer to learn its columns, so it is done once per session).
#[derive(Debug)]
pub(crate) struct Tables {
    catalog: RwLock<Arc<Catalog>>,
    runtime: Arc<RuntimeEnv>,
    opened: Mutex<HashMap<(String, String), Arc<CatalogTable>>>,
}

impl Tables {
    pub(crate) fn new(catalog: Arc<Catalog>, runtime: Arc<RuntimeEnv>) -> Self {
        Self {
            catalog: RwLock::new(catalog),
            runtime,
            opened: Mutex::default(),
        }
    }

    /// The catalog as last loaded.
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog.read().expect("catalog lock poisoned"))
    }

    /// Reads the catalog directory again after a statement changed it, and forgets the tables
    /// opened so far (their definitions may have changed).
    pub(crate) fn reload(&self) -> Result<()> {
        let root = self.catalog().root().to_path_buf();
        let fresh = Arc::new(Catalog::load(root)?);
        *self.catalog.write().expect("catalog lock poisoned") = fresh;
        self.opened.lock().expect("table cache poisoned").clear();
        Ok(())
    }

    /// Fails with the catalog's own error, naming the table and the catalog directory, when a
    /// statement reads a table the catalog does not have. (DataFusion would say "table
    /// 'minerva.default.x' not found", and it also asks schemas about table functions, so the
    /// schema provider itself must answer "none" rather than fail.)
    pub(crate) fn check_exist(
        &self,
        state: &datafusion::execution::SessionState,
        statement: &datafusion::sql::parser::Statement,
    ) -> Result<()> {
        for reference in state.resolve_table_references(statement)? {
            let is_table_function = reference.schema().is_none()
                && state.table_functions().contains_key(reference.table());
            let resolved = reference
                .clone()
                .resolve(CATALOG_NAME, minerva_catalog::DEFAULT_DATABASE);
            if is_table_function
                || resolved.catalog.as_ref() != CATALOG_NAME
                || resolved.schema.as_ref() == INFORMATION_SCHEMA
            {
                continue;
            }
            self.catalog().lookup(&resolved.schema, &resolved.table)?;
        }
        Ok(())
    }

    /// The table `database.name`, opened.
    pub(crate) async fn open(&self, database: &str, name: &str) -> Result<Arc<CatalogTable>> {
        let key = (database.to_string(), name.to_string());
        if let Some(table) = self.opened.lock().expect("table cache poisoned").get(&key) {
            return Ok(Arc::clone(table));
        }
        let catalog = self.catalog();
        let table = catalog.lookup(database, name)?;
        let opened = Arc::new(CatalogTable::open(table, catalog.root(), &self.runtime).await?);
        self.opened
            .lock()
            .expect("table cache poisoned")
            .insert(key, Arc::clone(&opened));
        Ok(opened)
    }
}

/// The whole catalog as one DataFusion catalog.
#[derive(Debug)]
pub(crate) struct MinervaCatalog {
    tables: Arc<Tables>,
}

impl MinervaCatalog {
    pub(crate) fn new(tables: Arc<Tables>) -> Self {
        Self { tables }
    }
}

impl CatalogProvider for MinervaCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .tables
            .catalog()
            .databases()
            .into_iter()
            .map(String::from)
            .collect();
        if !names.iter().any(|n| n == minerva_catalog::DEFAULT_DATABASE) {
            names.push(minerva_catalog::DEFAULT_DATABASE.to_string());
        }
        names.sort();
        names
    }

    /// Every name is a database, so that a table in an unknown one gets the catalog's own
    /// "not found" error, naming the table and the catalog directory.
    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        Some(Arc::new(Database {
            name: name.to_string(),
            tables: Arc::clone(&self.tables),
        }))
    }
}

/// One database of the catalog.
#[derive(Debug)]
struct Database {
    name: String,
    tables: Arc<Tables>,
}

#[async_trait]
impl SchemaProvider for Database {
    fn table_names(&self) -> Vec<String> {
        self.tables
            .catalog()
            .table_names(&self.name)
            .into_iter()
            .map(String::from)
            .collect()
    }

    /// `None` for a name the catalog does not have: DataFusion also asks about names that turn
    /// out to be table functions. A table whose file is broken, or that cannot be opened, fails.
    async fn table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>, DataFusionError> {
        if !self.table_exist(name) {
            return Ok(None);
        }
        let table: Arc<dyn TableProvider> = self
            .tables
            .open(&self.name, name)
            .await
            .map_err(EngineError::into_datafusion)?;
        Ok(Some(table))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.catalog().table(&self.name, name).is_some()
    }
}
