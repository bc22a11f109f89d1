//! Trino's SQL functions, as Athena runs them, one module per family as Trino's documentation
//! groups them (`docs/src/main/sphinx/functions/*.md`); each function's doc cites the section it
//! follows. Where DataFusion has a function of the same name with other semantics, Trino's wins.
//!
//! `syntax` rewrites Trino's syntax (`AT TIME ZONE`, `if`, `try`, `EXTRACT`, timestamp
//! literals, `WITH ORDINALITY`) before planning and makes a Trino function Minerva lacks a
//! clear error; `catalogue` is Trino's list of functions that check reads.

mod args;
pub(crate) mod catalogue;
mod datetime;
mod lenient;
mod syntax;
mod udf;

use std::sync::Arc;

use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

pub(crate) use syntax::rewrite;

/// Every scalar function this module adds to a session.
fn scalar_functions() -> Vec<ScalarUDF> {
    datetime::functions()
}

/// Adds Trino's functions to `ctx`, and the lenient form of every scalar function (Trino's
/// `try`).
pub(crate) fn register(ctx: &SessionContext) {
    for function in scalar_functions() {
        ctx.register_udf(function);
    }
    let state = ctx.state();
    let lenient: Vec<ScalarUDF> = state
        .udfs()
        .into_iter()
        .filter_map(|name| state.udf(&name).ok())
        .map(|udf: Arc<ScalarUDF>| lenient::Lenient::udf(udf))
        .collect();
    for function in lenient {
        ctx.register_udf(function);
    }
}
