//! The emulated `pg_catalog`: what psql's `\dt` and `\d`, DBeaver, Metabase, Superset and
//! Tableau ask at connect time, answered from Minerva's catalog by datafusion-pg-catalog.
//! Databases are schemas, tables are tables, partition columns are ordinary columns.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProviderList, SchemaProvider,
};
use datafusion::error::Result as DataFusionResult;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use minerva_engine::Engine;

use crate::error::ServerError;

/// The version string clients parse (SQLAlchemy, JDBC): Postgres's shape, then ours.
pub(crate) fn version() -> String {
    format!(
        "PostgreSQL 16.6 (Minerva {}) on the Postgres wire protocol",
        env!("CARGO_PKG_VERSION")
    )
}

/// The value of a Postgres setting that is the same for every connection, as `SHOW` and
/// `current_setting()` answer it.
pub(crate) fn setting(name: &str) -> Option<&'static str> {
    Some(match name {
        "server_version" => "16.6",
        "server_version_num" => "160006",
        "server_encoding" | "client_encoding" => "UTF8",
        "datestyle" => "ISO, MDY",
        "intervalstyle" => "postgres",
        "timezone" | "time zone" => "UTC",
        "standard_conforming_strings" | "integer_datetimes" => "on",
        "transaction_isolation" | "default_transaction_isolation" => "read committed",
        "max_identifier_length" => "63",
        "lc_collate" | "lc_ctype" => "C",
        "is_superuser" => "off",
        "application_name" => "",
        "bytea_output" => "hex",
        "extra_float_digits" => "1",
        "max_index_keys" => "32",
        "block_size" => "8192",
        _ => return None,
    })
}

/// One per server: a DataFusion session over the engine's catalog plus `pg_catalog`.
pub(crate) struct PgCatalog {
    ctx: SessionContext,
    parser: PostgresCompatibilityParser,
    /// Functions only this session has (`format_type`, `pg_get_userbyid`, …), lower case.
    functions: HashSet<String>,
    /// The catalog's default database: Postgres's `current_schema()`.
    default_schema: String,
}

impl std::fmt::Debug for PgCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCatalog").finish_non_exhaustive()
    }
}

impl PgCatalog {
    pub(crate) async fn new(engine: &Engine) -> Result<Self, ServerError> {
        let state = engine.session().state();
        let options = state.config().options();
        let catalog_name = options.catalog.default_catalog.clone();
        let default_schema = options.catalog.default_schema.clone();
        // A catalog list of this session's own, so that pg_catalog becomes a schema of the
        // engine's catalog here without changing the engine's.
        let list = MemoryCatalogProviderList::new();
        for name in state.catalog_list().catalog_names() {
            if let Some(catalog) = state.catalog_list().catalog(&name) {
                list.register_catalog(name, Arc::new(WithExtraSchemas::new(catalog)));
            }
        }
        let engine_functions: HashSet<String> = state.scalar_functions().keys().cloned().collect();
        let state = SessionStateBuilder::new_from_existing(state)
            .with_catalog_list(Arc::new(list))
            .build();
        let ctx = SessionContext::new_with_state(state);
        datafusion_pg_catalog::setup_pg_catalog(&ctx, &catalog_name, EmptyContextProvider)
            .map_err(ServerError::PgCatalog)?;
        ctx.register_udf(constant_text("version", version()));
        ctx.register_udf(to_regtype(&ctx).await?);
        for visible in [
            "pg_collation_is_visible",
            "pg_type_is_visible",
            "pg_function_is_visible",
        ] {
            ctx.register_udf(always_true(visible));
        }
        ctx.register_udf(no_sequence());
        ctx.register_udf(current_setting());
        ctx.register_udf(json_build_object());
        ctx.register_udf(constant_text("current_schema", default_schema.clone()));
        let functions = ctx
            .state()
            .scalar_functions()
            .keys()
            .filter(|name| !engine_functions.contains(*name))
            .cloned()
            .chain(["version", "current_schema"].map(String::from))
            .collect();
        Ok(Self {
            ctx,
            parser: PostgresCompatibilityParser::new(),
            functions,
            default_schema,
        })
    }

    /// The session that answers catalog questions.
    pub(crate) fn session(&self) -> &SessionContext {
        &self.ctx
    }

    /// The catalog question `sql` is, parsed and rewritten for DataFusion; `None` when it is
    /// not one (or not Postgres SQL: then the engine answers, or says what is wrong).
    pub(crate) fn question(&self, sql: &str) -> Option<SqlStatement> {
        // Decided on the statement as written: the rewrite may replace a question whose
        // tables the emulation lacks (psql's `pg_policy`) by an answer without them.
        let written = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
        let [written] = written.as_slice() else {
            return None;
        };
        if !crate::route::reads_pg_catalog(written, &self.functions) {
            return None;
        }
        let mut statements = self.parser.parse(sql).ok()?;
        if statements.len() != 1 {
            return None;
        }
        let mut statement = statements.remove(0);
        backslash_escapes(&mut statement);
        subqueries_in_case_as_null(&mut statement);
        aggregate_scalar_subqueries(&mut statement);
        Some(statement)
    }

    /// The schema unqualified names resolve in.
    pub(crate) fn default_schema(&self) -> &str {
        &self.default_schema
    }
}

/// `name(args…)` as SQL.
fn call(
    name: &str,
    args: Vec<datafusion::sql::sqlparser::ast::Expr>,
) -> datafusion::sql::sqlparser::ast::Expr {
    use datafusion::sql::sqlparser::ast::{
        Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments,
        Ident, ObjectName,
    };
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// `x LIKE p ESCAPE '/'` as `x LIKE p' ESCAPE '\'`, with `p'` the pattern in backslash escapes
/// (DataFusion's only escape character; SQLAlchemy escapes with `/`).
fn backslash_escapes(statement: &mut SqlStatement) {
    use datafusion::sql::sqlparser::ast::{Expr, Value, visit_expressions_mut};
    let text = |s: &str| Expr::value(Value::SingleQuotedString(s.to_string()));
    let replace =
        |input: Expr, from: &str, to: &str| call("replace", vec![input, text(from), text(to)]);
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Like {
            pattern,
            escape_char,
            ..
        }
        | Expr::ILike {
            pattern,
            escape_char,
            ..
        } = expr
            && let Some(escape) = escape_char
                .as_ref()
                .and_then(|v| v.value.clone().into_string())
            && escape != "\\"
            && escape.chars().count() == 1
        {
            let original = std::mem::replace(pattern.as_mut(), text(""));
            let doubled = replace(original, "\\", "\\\\");
            **pattern = replace(doubled, &escape, "\\");
            *escape_char = Some(Value::SingleQuotedString("\\".to_string()).into());
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// A scalar subquery over `pg_catalog` as a result of `CASE` is NULL: DataFusion cannot plan a
/// subquery there, and what clients look up that way (SQLAlchemy's column reflection: a
/// column's default from `pg_attrdef`, its identity options, its collation from
/// `pg_collation`) lake tables never have. Only questions about the catalog are rewritten,
/// never a query of data.
fn subqueries_in_case_as_null(statement: &mut SqlStatement) {
    use datafusion::sql::sqlparser::ast::{CaseWhen, Expr, Value, visit_expressions_mut};
    let null = || Expr::value(Value::Null);
    let is_subquery = |e: &Expr| matches!(e, Expr::Subquery(_));
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Case {
            conditions,
            else_result,
            ..
        } = expr
        {
            for CaseWhen { result, .. } in conditions.iter_mut() {
                if is_subquery(result) {
                    *result = null();
                }
            }
            if let Some(other) = else_result
                && is_subquery(other)
            {
                **other = null();
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `(SELECT e FROM … WHERE <correlated>)` as `(SELECT max(e) FROM …)`: DataFusion plans a
/// correlated scalar subquery only when it is aggregated. A scalar subquery has at most one
/// row, so its `max` is its value (NULL for none) — what SQLAlchemy's column reflection asks.
fn aggregate_scalar_subqueries(statement: &mut SqlStatement) {
    use datafusion::sql::sqlparser::ast::{
        Expr, GroupByExpr, SelectItem, SetExpr, visit_expressions_mut,
    };
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Subquery(query) = expr
            && query.limit_clause.is_none()
            && let SetExpr::Select(select) = query.body.as_mut()
            && select.selection.is_some()
            && matches!(&select.group_by, GroupByExpr::Expressions(keys, _) if keys.is_empty())
            && select.having.is_none()
            && select.distinct.is_none()
            && let [item] = select.projection.as_mut_slice()
        {
            let (value, alias) = match item {
                SelectItem::UnnamedExpr(e) => (e, None),
                SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.clone())),
                _ => return std::ops::ControlFlow::<()>::Continue(()),
            };
            const AGGREGATES: &[&str] = &[
                "max",
                "min",
                "count",
                "sum",
                "avg",
                "array_agg",
                "string_agg",
                "bool_and",
                "bool_or",
                "every",
                "json_agg",
                "jsonb_agg",
            ];
            if let Expr::Function(function) = value
                && function
                    .name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .is_some_and(|name| AGGREGATES.contains(&name.value.to_lowercase().as_str()))
            {
                // Already aggregated: left alone.
                return std::ops::ControlFlow::Continue(());
            }
            let inner = std::mem::replace(
                value,
                Expr::value(datafusion::sql::sqlparser::ast::Value::Null),
            );
            let max = call("max", vec![inner]);
            *item = match alias {
                Some(alias) => SelectItem::ExprWithAlias { expr: max, alias },
                None => SelectItem::UnnamedExpr(max),
            };
        }
        std::ops::ControlFlow::Continue(())
    });
}

/// `to_regtype(name)`: the oid of the type called `name` in `pg_type`, NULL if there is none
/// (drivers ask for extension types, `hstore`, at connect time).
async fn to_regtype(
    ctx: &SessionContext,
) -> Result<datafusion::logical_expr::ScalarUDF, ServerError> {
    use datafusion::arrow::array::{Array, AsArray, Int32Array};
    use datafusion::arrow::datatypes::Int32Type;
    let types = async {
        ctx.sql("SELECT typname, CAST(oid AS INT) FROM pg_catalog.pg_type")
            .await?
            .collect()
            .await
    }
    .await
    .map_err(|e| ServerError::PgCatalog(Box::new(e)))?;
    let mut oids = HashMap::new();
    for batch in &types {
        let names = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8)
            .map_err(|e| ServerError::PgCatalog(Box::new(e.into())))?;
        let names = names.as_string::<i32>();
        let values = batch.column(1).as_primitive::<Int32Type>();
        for i in 0..batch.num_rows() {
            if names.is_valid(i) && values.is_valid(i) {
                oids.insert(names.value(i).to_string(), values.value(i));
            }
        }
    }
    Ok(create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let names = datafusion::arrow::compute::cast(&arrays[0], &DataType::Utf8)?;
            let names = names.as_string::<i32>();
            let oids: Int32Array = names
                .iter()
                .map(|name| {
                    name.and_then(|n| oids.get(n.trim_start_matches("pg_catalog.")).copied())
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(oids)))
        }),
    ))
}

/// `pg_*_is_visible(oid)`: everything in the emulated catalog is on the search path.
fn always_true(name: &str) -> datafusion::logical_expr::ScalarUDF {
    use datafusion::arrow::array::BooleanArray;
    create_udf(
        name,
        vec![DataType::Int32],
        DataType::Boolean,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let rows = ColumnarValue::values_to_arrays(args)?[0].len();
            Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(vec![
                true;
                rows
            ]))))
        }),
    )
}

/// `current_setting(name)`: the server's settings (a connection's own `SET`s are answered by
/// `SHOW`).
fn current_setting() -> datafusion::logical_expr::ScalarUDF {
    use datafusion::arrow::array::AsArray;
    create_udf(
        "current_setting",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let names = ColumnarValue::values_to_arrays(args)?;
            let names = datafusion::arrow::compute::cast(&names[0], &DataType::Utf8)?;
            let values: StringArray = names
                .as_string::<i32>()
                .iter()
                .map(|name| name.and_then(|n| setting(&n.to_lowercase())))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(values)))
        }),
    )
}

/// `pg_get_serial_sequence(table, column)`: lake tables have no sequences.
fn no_sequence() -> datafusion::logical_expr::ScalarUDF {
    create_udf(
        "pg_get_serial_sequence",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let rows = ColumnarValue::values_to_arrays(args)?[0].len();
            Ok(ColumnarValue::Array(Arc::new(StringArray::from(vec![
                None::<
                    &str,
                >;
                rows
            ]))))
        }),
    )
}

/// `json_build_object(key, value, …)`: a JSON object as text, its values rendered as text.
fn json_build_object() -> datafusion::logical_expr::ScalarUDF {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    use datafusion::logical_expr::{ScalarUDF, Signature, TypeSignature};
    let function = Arc::new(|args: &[ColumnarValue]| {
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let rows = arrays.first().map_or(1, |a| a.len());
        let options = FormatOptions::default().with_null("null");
        let formatters = arrays
            .iter()
            .map(|a| ArrayFormatter::try_new(a.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let objects: StringArray = (0..rows)
            .map(|row| {
                let pairs: Vec<String> = formatters
                    .chunks(2)
                    .zip(arrays.chunks(2))
                    .map(|(f, a)| {
                        let key = quote(&f[0].value(row).to_string());
                        let value = match (f.get(1), a.get(1)) {
                            (Some(_), Some(array)) if array.is_null(row) => "null".to_string(),
                            (Some(format), Some(_)) => quote(&format.value(row).to_string()),
                            _ => "null".to_string(),
                        };
                        format!("{key}: {value}")
                    })
                    .collect();
                Some(format!("{{{}}}", pairs.join(", ")))
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(objects) as ArrayRef))
    });
    ScalarUDF::from(
        datafusion::logical_expr::SimpleScalarUDF::new_with_signature(
            "json_build_object",
            Signature::new(TypeSignature::VariadicAny, Volatility::Immutable),
            DataType::Utf8,
            function,
        ),
    )
}

/// A function without arguments that answers `value`.
fn constant_text(name: &str, value: String) -> datafusion::logical_expr::ScalarUDF {
    create_udf(
        name,
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |_args: &[ColumnarValue]| {
            let array: ArrayRef = Arc::new(StringArray::from(vec![value.clone()]));
            Ok(ColumnarValue::Array(array))
        }),
    )
}

/// A catalog with more schemas than its provider has (`pg_catalog`).
#[derive(Debug)]
struct WithExtraSchemas {
    inner: Arc<dyn CatalogProvider>,
    extra: RwLock<HashMap<String, Arc<dyn SchemaProvider>>>,
}

impl WithExtraSchemas {
    fn new(inner: Arc<dyn CatalogProvider>) -> Self {
        Self {
            inner,
            extra: RwLock::new(HashMap::new()),
        }
    }
}

impl CatalogProvider for WithExtraSchemas {
    fn schema_names(&self) -> Vec<String> {
        let extra = self.extra.read().expect("schema lock poisoned");
        let mut names = self.inner.schema_names();
        names.extend(extra.keys().cloned());
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        let extra = self.extra.read().expect("schema lock poisoned");
        extra.get(name).cloned().or_else(|| self.inner.schema(name))
    }

    fn register_schema(
        &self,
        name: &str,
        schema: Arc<dyn SchemaProvider>,
    ) -> DataFusionResult<Option<Arc<dyn SchemaProvider>>> {
        let mut extra = self.extra.write().expect("schema lock poisoned");
        Ok(extra.insert(name.to_string(), schema))
    }
}
