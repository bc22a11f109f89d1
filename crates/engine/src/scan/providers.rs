//! The catalog as DataFusion sees it: databases as schemas, tables opened on first use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::datasource::ViewTable;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::LogicalPlan;
use minerva_catalog::{Catalog, Entry};

use super::live::{LiveProvider, speed_query};
use super::table::CatalogTable;
use crate::error::{EngineError, Result};

/// Plans a query's SQL as a statement of the session would be (Trino's dialect, the session's
/// functions): how views and live tables become logical plans. The session provides it.
#[async_trait]
pub(crate) trait Planner: Send + Sync + std::fmt::Debug {
    /// The logical plan of the query `sql`.
    async fn plan_query(&self, sql: &str) -> Result<LogicalPlan>;
}

tokio::task_local! {
    /// The views being planned in this task, outermost first: a view that reads itself,
    /// directly or through others, is refused instead of planned forever.
    static PLANNING: Vec<String>;
}

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
    planner: OnceLock<Arc<dyn Planner>>,
}

impl Tables {
    pub(crate) fn new(catalog: Arc<Catalog>, runtime: Arc<RuntimeEnv>) -> Self {
        Self {
            catalog: RwLock::new(catalog),
            runtime,
            opened: Mutex::default(),
            planner: OnceLock::new(),
        }
    }

    /// Sets how views and live tables are planned (once, as the session is built).
    pub(crate) fn set_planner(&self, planner: Arc<dyn Planner>) {
        let _ = self.planner.set(planner);
    }

    fn planner(&self) -> &Arc<dyn Planner> {
        self.planner
            .get()
            .expect("the engine sets the planner as it builds the session")
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
            self.catalog().find(&resolved.schema, &resolved.table)?;
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

    /// What DataFusion reads for the name `database.name`: a table of files, a live table or
    /// a view.
    pub(crate) async fn provider(
        &self,
        database: &str,
        name: &str,
    ) -> Result<Arc<dyn TableProvider>> {
        match self.catalog().find(database, name)? {
            Entry::Table(_) => Ok(self.open(database, name).await?),
            Entry::Live(live) => {
                let (bdb, bname) = live.batch();
                let (sdb, sname) = live.speed();
                let batch = self.open(bdb, bname).await.map_err(|e| side(&live, e))?;
                let speed = self.open(sdb, sname).await.map_err(|e| side(&live, e))?;
                let sql = speed_query(&live, &batch, &speed)?;
                let plan = self
                    .planner()
                    .plan_query(&sql)
                    .await
                    .map_err(|e| side(&live, e))?;
                Ok(Arc::new(LiveProvider::new(
                    CATALOG_NAME,
                    &live,
                    &batch,
                    &speed,
                    plan,
                )?))
            }
            Entry::View(view) => {
                let plan = self.plan_view(&view).await?;
                Ok(Arc::new(ViewTable::new(plan, Some(view.sql().to_string()))))
            }
        }
    }

    /// The logical plan of `view`'s query; an error names the view, and a view that reads
    /// itself (directly or through others) is refused.
    pub(crate) async fn plan_view(&self, view: &minerva_catalog::View) -> Result<LogicalPlan> {
        let qualified = view.qualified_name();
        let mut stack = PLANNING.try_with(Clone::clone).unwrap_or_default();
        if stack.contains(&qualified) {
            stack.push(qualified.clone());
            return Err(EngineError::ViewCycle {
                view: qualified,
                cycle: stack.join(" → "),
            });
        }
        stack.push(qualified.clone());
        // A final line comment must not swallow what follows the view's text.
        let sql = format!("{}\n", view.sql());
        let planner = Arc::clone(self.planner());
        PLANNING
            .scope(stack, async move { planner.plan_query(&sql).await })
            .await
            .map_err(|source| match source {
                cycle @ EngineError::ViewCycle { .. } => cycle,
                source => EngineError::View {
                    view: qualified,
                    source: Box::new(source),
                },
            })
    }
}

/// An error opening one side of a live table, named with the live table.
fn side(live: &minerva_catalog::LiveTable, error: EngineError) -> EngineError {
    EngineError::Table {
        table: live.qualified_name(),
        problem: crate::error::TableProblem::LiveSide {
            source: Box::new(error),
        },
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
        let table = self
            .tables
            .provider(&self.name, name)
            .await
            .map_err(EngineError::into_datafusion)?;
        Ok(Some(table))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.catalog().entry(&self.name, name).is_some()
    }
}
