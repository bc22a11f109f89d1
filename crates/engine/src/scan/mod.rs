//! Reading catalog tables: one DataFusion `TableProvider` per table (`table`), the catalog and
//! schema providers that find them (`providers`), partition pruning from SQL filters
//! (`pruning`), and JSON/CSV sources that name the object a read error came from
//! (`text_source`).

mod providers;
mod pruning;
mod table;
mod text_source;

pub(crate) use providers::{MinervaCatalog, Tables};
pub use table::CatalogTable;
