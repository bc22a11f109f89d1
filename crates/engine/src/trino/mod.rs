//! Trino's SQL functions, as Athena runs them, one module per family as Trino's documentation
//! groups them (`docs/src/main/sphinx/functions/*.md`); each function's doc cites the section it
//! follows. Where DataFusion has a function of the same name with other semantics, Trino's wins.

mod datetime;

use datafusion::logical_expr::ScalarUDF;

/// Every function this module adds to a session.
pub(crate) fn functions() -> Vec<ScalarUDF> {
    datetime::functions()
}
