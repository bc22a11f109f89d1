//! Trino's SQL functions, as Athena runs them, one module per family as Trino's documentation
//! groups them (`docs/src/main/sphinx/functions/*.md`); each function's doc cites the section it
//! follows. Where DataFusion has a function of the same name with other semantics, Trino's wins.
//!
//! `syntax` rewrites Trino's syntax (`AT TIME ZONE`, `if`, `try`, `EXTRACT`, timestamp
//! literals, `WITH ORDINALITY`) before planning and makes a Trino function Minerva lacks a
//! clear error; `catalogue` is Trino's list of functions that check reads.

mod aggregate;
mod args;
mod array;
pub(crate) mod catalogue;
mod conditional;
mod datetime;
mod json;
mod lenient;
mod math;
mod regexp;
mod string;
mod syntax;
mod udf;
mod url;

use std::sync::Arc;

use std::collections::HashMap;

use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

pub(crate) use aggregate::rewritten_before_running;
pub(crate) use syntax::rewrite;

/// Every scalar function this module adds to a session.
fn scalar_functions() -> Vec<ScalarUDF> {
    let mut all = datetime::functions();
    all.extend(string::functions());
    all.extend(regexp::functions());
    all.extend(url::functions());
    all.extend(math::functions());
    all.extend(conditional::functions());
    all.extend(array::functions());
    all.extend(json::functions());
    all
}

/// DataFusion functions that mean what Trino's function of another name means: (DataFusion's
/// name, Trino's names).
const ALIASES: &[(&str, &[&str])] = &[
    ("trunc", &["truncate"]),
    ("ceil", &["ceiling"]),
    ("signum", &["sign"]),
    ("isnan", &["is_nan"]),
    // Trino's array_remove removes every occurrence; DataFusion's, only the first.
    ("array_remove_all", &["array_remove"]),
];

/// Aggregate functions of DataFusion under Trino's names.
const AGGREGATE_ALIASES: &[(&str, &[&str])] = &[
    ("bool_and", &["every"]),
    // "Returns an arbitrary non-null value of x, if one exists."
    ("any_value", &["arbitrary"]),
];

/// `state` with Trino's functions, DataFusion's under Trino's names, and the lenient form of
/// every scalar function under `$try:<name>` (Trino's `try`). Each name belongs to one function
/// (see [`udf::Registered`]).
pub(crate) fn install(state: SessionState) -> SessionState {
    let mut names: HashMap<String, Arc<ScalarUDF>> = state.scalar_functions().clone();
    for function in scalar_functions() {
        let function = Arc::new(function);
        for name in
            std::iter::once(function.name()).chain(function.aliases().iter().map(String::as_str))
        {
            names.insert(name.to_string(), Arc::clone(&function));
        }
    }
    for (name, aliases) in ALIASES {
        if let Some(udf) = names.get(*name).cloned() {
            for alias in *aliases {
                names.insert(alias.to_string(), Arc::clone(&udf));
            }
        }
    }
    let lenient: Vec<(String, Arc<ScalarUDF>)> = names
        .iter()
        .map(|(name, udf)| {
            let name = syntax::lenient_name(name);
            (
                name.clone(),
                Arc::new(lenient::Lenient::udf(name, Arc::clone(udf))),
            )
        })
        .collect();
    names.extend(lenient);
    let scalars = one_function_per_name(names);

    let mut aggregates: HashMap<String, Arc<AggregateUDF>> = state.aggregate_functions().clone();
    for function in aggregate::functions() {
        let function = Arc::new(function);
        for name in
            std::iter::once(function.name()).chain(function.aliases().iter().map(String::as_str))
        {
            aggregates.insert(name.to_string(), Arc::clone(&function));
        }
    }
    for (name, aliases) in AGGREGATE_ALIASES {
        if let Some(udaf) = aggregates.get(*name) {
            let udaf = Arc::new(udaf.as_ref().clone().with_aliases(aliases.iter().copied()));
            for key in std::iter::once(udaf.name()).chain(udaf.aliases().iter().map(String::as_str))
            {
                aggregates.insert(key.to_string(), Arc::clone(&udaf));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    let aggregates: Vec<Arc<AggregateUDF>> = aggregates
        .into_values()
        .filter(|f| seen.insert(Arc::as_ptr(f)))
        .collect();
    SessionStateBuilder::new_from_existing(state)
        .with_scalar_functions(scalars)
        .with_aggregate_functions(aggregates)
        .build()
}

/// The functions of `names`, each registered under exactly the names that map to it.
fn one_function_per_name(names: HashMap<String, Arc<ScalarUDF>>) -> Vec<Arc<ScalarUDF>> {
    let mut groups: HashMap<*const ScalarUDF, (Arc<ScalarUDF>, Vec<String>)> = HashMap::new();
    for (name, udf) in names {
        groups
            .entry(Arc::as_ptr(&udf))
            .or_insert_with(|| (Arc::clone(&udf), Vec::new()))
            .1
            .push(name);
    }
    groups
        .into_values()
        .map(|(udf, mut keys)| {
            keys.sort();
            let own_name = udf.name().to_string();
            let mut own: Vec<String> = std::iter::once(own_name.clone())
                .chain(udf.aliases().iter().cloned())
                .collect();
            own.sort();
            if keys == own {
                return udf;
            }
            let primary = if keys.contains(&own_name) {
                own_name
            } else {
                keys[0].clone()
            };
            let aliases = keys.into_iter().filter(|k| *k != primary).collect();
            Arc::new(udf::Registered::udf(primary, aliases, udf))
        })
        .collect()
}

/// Whether `state` has a scalar, aggregate or window function called `name`.
pub(crate) fn is_function(state: &datafusion::execution::SessionState, name: &str) -> bool {
    state.scalar_functions().contains_key(name)
        || state.aggregate_functions().contains_key(name)
        || state.window_functions().contains_key(name)
        || state.table_functions().contains_key(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed() -> SessionState {
        install(SessionStateBuilder::new().with_default_features().build())
    }

    /// A session rebuilt from its functions (as every query's is) resolves each name to the
    /// same function: no two functions claim one name.
    #[test]
    fn every_name_belongs_to_one_function() {
        let state = installed();
        for (name, udf) in state.scalar_functions() {
            assert!(
                udf.name() == name || udf.aliases().contains(name),
                "'{name}' resolves to '{}', which does not claim it",
                udf.name()
            );
        }
        for _ in 0..3 {
            let rebuilt = SessionStateBuilder::new_from_existing(state.clone()).build();
            for name in [
                "element_at",
                "substr",
                "substring",
                "contains",
                "array_remove",
                "date_trunc",
            ] {
                assert_eq!(
                    rebuilt.scalar_functions()[name].name(),
                    state.scalar_functions()[name].name(),
                    "{name}"
                );
            }
        }
        assert!(state.scalar_functions()["element_at"].name() == "element_at");
        assert!(state.aggregate_functions().contains_key("every"));
    }

    /// Every Trino function this module has is in Trino's list, under the topic it is in.
    #[test]
    fn our_functions_are_trino_functions() {
        let state = installed();
        for udf in scalar_functions() {
            assert!(
                catalogue::topic(udf.name()).is_some() || udf.name() == "json_cast",
                "{} is not a Trino function",
                udf.name()
            );
            assert!(state.scalar_functions().contains_key(udf.name()));
        }
        for udf in aggregate::functions() {
            assert_eq!(
                catalogue::topic(udf.name()),
                Some("aggregate"),
                "{}",
                udf.name()
            );
        }
    }
}
