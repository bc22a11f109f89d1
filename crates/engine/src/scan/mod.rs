//! Reading catalog tables: one DataFusion `TableProvider` per table (`table`), the catalog and
//! schema providers that find them (`providers`), partition pruning from SQL filters
//! (`pruning`), the committed table states one query reads (`snapshot`), live tables
//! (`live`: a batch and a speed table united at the batch table's manifest; `side`), file sources whose errors name the object they came from (`naming`), and the
//! rules by which a file's columns read as the table's (`drift`).

pub(crate) mod drift;
pub(crate) mod footers;
mod live;
pub(crate) mod naming;
mod providers;
mod pruning;
pub(crate) mod readahead;
pub(crate) mod side;
pub(crate) mod snapshot;
mod table;

pub(crate) use providers::{CATALOG_NAME, MinervaCatalog, Planner, Tables};
pub use table::CatalogTable;
pub(crate) use table::{ChosenFiles, is_data_file};
