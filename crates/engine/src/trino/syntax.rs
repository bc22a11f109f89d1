//! Trino's syntax where DataFusion's differs, rewritten in the parsed statement before it is
//! planned, and the check that makes a Trino function Minerva lacks a clear error.
//!
//! - `x AT TIME ZONE zone` is `at_timezone(x, zone)`: a `timestamp` is read in the session zone
//!   (UTC, as in Athena) and shown in `zone`. DataFusion would read it as a wall-clock time in
//!   `zone` instead (Trino: "AT TIME ZONE operator").
//! - `if(c, a[, b])` is `CASE WHEN c THEN a [ELSE b] END`, evaluated lazily as Trino does
//!   (Trino: "Conditional expressions").
//! - `try(x)` is `x` with each function call in it made lenient (a row where the function fails
//!   is NULL), each `CAST` a `TRY_CAST`, and each division by zero NULL (Trino: "try").
//! - `EXTRACT(field FROM x)` is the extraction function of that field: `DOW` is 1 (Monday) to 7
//!   as in Trino, not DataFusion's 0 (Sunday) to 6.
//! - `TIMESTAMP '2024-01-01 00:00'` (no seconds) and `TIMESTAMP '… Asia/Seoul'` (a zone) are
//!   Trino timestamp literals; the second is a `timestamp with time zone`.
//! - `substr(x, start[, length])` and `SUBSTRING(x FROM start FOR length)` are Trino's `substr`
//!   (a negative start counts from the end).
//! - `JSON '…'` is `json_parse('…')` and `CAST(x AS JSON)` is `json_cast(x)`: a JSON value is
//!   its canonical text.
//! - `FROM t CROSS JOIN UNNEST(t.a) AS u(x)` is a derived table adding `unnest(t.a) AS x` to
//!   `t` (DataFusion cannot plan the lateral join).
//! - `UNNEST(m) AS t(key, value)` of a map is `UNNEST(map_keys(m), map_values(m))`.
//! - `UNNEST(a, …) WITH ORDINALITY` gets its ordinal column as one more unnested array.

use std::ops::ControlFlow;

use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    self, BinaryOperator, CaseWhen, CastKind, DateTimeField, Expr, Function, FunctionArg,
    FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident, Join, JoinConstraint,
    JoinOperator, ObjectName, ObjectNamePart, Query, Select, SetExpr, TableFactor, Value, VisitMut,
    VisitorMut, visit_expressions_mut,
};

use super::catalogue;
use crate::error::EngineError;

/// The name under which the lenient form of scalar function `name` is registered: the function
/// `try(…)` calls instead (a quoted identifier no one types).
pub(crate) fn lenient_name(name: &str) -> String {
    format!("$try:{name}")
}

/// Rewrites `statement` from Trino's syntax to DataFusion's, then fails with
/// [`EngineError::UnsupportedFunction`] if it calls a Trino function that `is_function` (the
/// session's registry) does not know.
pub(crate) fn rewrite(
    statement: &mut Statement,
    is_function: &dyn Fn(&str) -> bool,
) -> Result<(), EngineError> {
    let inner = match statement {
        Statement::Statement(inner) => inner.as_mut(),
        Statement::Explain(explain) => return rewrite(&mut explain.statement, is_function),
        _ => return Ok(()),
    };
    session_property(inner);
    let mut rewriter = Rewriter { is_function };
    match inner.visit(&mut rewriter) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(error) => Err(error),
    }
}

/// Trino's session properties that Minerva has, as `minerva.<name>` settings.
const SESSION_PROPERTIES: [&str; 1] = ["max_recursion_depth"];

/// Trino's `SET SESSION max_recursion_depth = 20` is `SET minerva.max_recursion_depth = 20`.
fn session_property(statement: &mut ast::Statement) {
    if let ast::Statement::Set(ast::Set::SingleAssignment {
        scope, variable, ..
    }) = statement
        && matches!(scope, None | Some(ast::ContextModifier::Session))
        && let [ast::ObjectNamePart::Identifier(name)] = variable.0.as_slice()
        && SESSION_PROPERTIES.contains(&name.value.to_ascii_lowercase().as_str())
    {
        let name = name.value.to_ascii_lowercase();
        *variable = ast::ObjectName::from(vec![Ident::new("minerva"), Ident::new(name)]);
        *scope = None;
    }
}

struct Rewriter<'a> {
    is_function: &'a dyn Fn(&str) -> bool,
}

impl VisitorMut for Rewriter<'_> {
    type Break = EngineError;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<EngineError> {
        let renames = match query.body.as_mut() {
            SetExpr::Select(select) => lateral_unnest(select),
            _ => Vec::new(),
        };
        if !renames.is_empty() {
            let _ = visit_expressions_mut(query, |expr| {
                if let Expr::CompoundIdentifier(parts) = expr
                    && let [relation, _] = parts.as_mut_slice()
                    && let Some((_, to)) = renames.iter().find(|(from, _)| from == &relation.value)
                {
                    *relation = to.clone();
                }
                ControlFlow::<()>::Continue(())
            });
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<EngineError> {
        if let Some(new) = self.rewritten(expr) {
            *expr = new;
        }
        if let Expr::Function(function) = expr
            && let Some(name) = plain_name(&function.name)
            && !(self.is_function)(&name)
            && let Some(topic) = catalogue::topic(&name)
        {
            return ControlFlow::Break(EngineError::UnsupportedFunction { name, topic });
        }
        ControlFlow::Continue(())
    }

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<EngineError> {
        if let TableFactor::UNNEST {
            array_exprs,
            with_ordinality,
            alias,
            ..
        } = factor
        {
            let names = alias.as_ref().map_or(0, |a| a.columns.len());
            expand_map(array_exprs, names, *with_ordinality);
        }
        if let TableFactor::UNNEST {
            array_exprs,
            with_ordinality,
            ..
        } = factor
            && *with_ordinality
        {
            let longest = match array_exprs.as_slice() {
                [one] => call("cardinality", vec![one.clone()]),
                many => call(
                    "greatest",
                    many.iter()
                        .map(|a| call("cardinality", vec![a.clone()]))
                        .collect(),
                ),
            };
            array_exprs.push(call("generate_series", vec![number(1), longest]));
            *with_ordinality = false;
        }
        ControlFlow::Continue(())
    }
}

impl Rewriter<'_> {
    /// What `expr` becomes, if it is Trino syntax that DataFusion reads otherwise.
    fn rewritten(&self, expr: &mut Expr) -> Option<Expr> {
        match expr {
            Expr::AtTimeZone {
                timestamp,
                time_zone,
            } => Some(call("at_timezone", vec![take(timestamp), take(time_zone)])),
            // `substr(x, start, length)` and `SUBSTRING(x FROM start FOR length)` parse to one
            // node, which DataFusion plans with its own `substr` (Postgres's negative starts).
            Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![take(expr)];
                args.push(substring_from.as_mut().map_or(number(1), take));
                args.extend(substring_for.as_mut().map(take));
                Some(call("substr", args))
            }
            Expr::Extract { field, expr, .. } => {
                let name = extraction(field)?;
                Some(call(name, vec![take(expr)]))
            }
            // JSON values are their canonical text.
            Expr::TypedString(typed) if matches!(typed.data_type, ast::DataType::JSON) => {
                let literal = Expr::value(typed.value.value.clone());
                Some(call("json_parse", vec![literal]))
            }
            Expr::Cast {
                expr,
                data_type: ast::DataType::JSON,
                ..
            } => Some(call("json_cast", vec![take(expr)])),
            Expr::TypedString(typed) if matches!(typed.data_type, ast::DataType::Timestamp(..)) => {
                let Value::SingleQuotedString(text) = &typed.value.value else {
                    return None;
                };
                let (local, zone) = timestamp_literal(text)?;
                let mut literal = typed.clone();
                literal.value.value = Value::SingleQuotedString(local);
                let literal = Expr::TypedString(literal);
                Some(match zone {
                    Some(zone) => call("with_timezone", vec![literal, string(&zone)]),
                    None => literal,
                })
            }
            Expr::Function(function) => {
                let name = plain_name(&function.name)?;
                let mut args = plain_args(function)?;
                match (name.as_str(), args.len()) {
                    ("if", 2 | 3) => {
                        let otherwise = (args.len() == 3).then(|| Box::new(args.pop().unwrap()));
                        let then = args.pop().unwrap();
                        let condition = args.pop().unwrap();
                        Some(Expr::Case {
                            case_token: AttachedToken::empty(),
                            end_token: AttachedToken::empty(),
                            operand: None,
                            conditions: vec![CaseWhen {
                                condition,
                                result: then,
                            }],
                            else_result: otherwise,
                        })
                    }
                    ("try", 1) => {
                        let mut inner = args.pop().unwrap();
                        let _ = inner.visit(&mut Lenient {
                            is_function: self.is_function,
                        });
                        Some(Expr::Nested(Box::new(inner)))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// Trino's `FROM t CROSS JOIN UNNEST(t.tags) AS u(tag)` (or `FROM t, UNNEST(…) AS u(tag)`): a
/// row of `t` for each element, which DataFusion cannot plan as a lateral join. Each UNNEST
/// becomes a derived table named as `t` that adds the elements as columns (`SELECT *,
/// unnest(t.tags) AS tag FROM t`), nested once per UNNEST so that two of them multiply as in
/// Trino; references to `u.tag` are renamed to `t.tag`. Returns those renames. Only a single
/// table (or derived table) followed by UNNESTs with column aliases is rewritten.
fn lateral_unnest(select: &mut Select) -> Vec<(String, Ident)> {
    if select.from.len() >= 2
        && select.from[1..]
            .iter()
            .all(|f| f.joins.is_empty() && matches!(f.relation, TableFactor::UNNEST { .. }))
    {
        let rest: Vec<_> = select.from.drain(1..).collect();
        for factor in rest {
            select.from[0].joins.push(Join {
                relation: factor.relation,
                global: false,
                join_operator: JoinOperator::CrossJoin(JoinConstraint::None),
            });
        }
    }
    let [from] = select.from.as_mut_slice() else {
        return Vec::new();
    };
    let is_unnest = |join: &Join| {
        matches!(join.join_operator, JoinOperator::CrossJoin(_))
            && matches!(&join.relation, TableFactor::UNNEST { alias: Some(a), .. } if !a.columns.is_empty())
    };
    if from.joins.is_empty() || !from.joins.iter().all(is_unnest) {
        return Vec::new();
    }
    let name = match &from.relation {
        TableFactor::Table { alias: Some(a), .. } | TableFactor::Derived { alias: Some(a), .. } => {
            a.name.clone()
        }
        TableFactor::Table {
            name, alias: None, ..
        } => match name.0.last() {
            Some(ObjectNamePart::Identifier(ident)) => ident.clone(),
            _ => return Vec::new(),
        },
        // An unnamed subquery: its columns are named without a qualifier.
        TableFactor::Derived { alias: None, .. } => Ident::new("unnested"),
        _ => return Vec::new(),
    };
    let mut renames = Vec::new();
    let mut relation = from.relation.clone();
    for join in std::mem::take(&mut from.joins) {
        let TableFactor::UNNEST {
            alias: Some(alias),
            mut array_exprs,
            with_ordinality,
            ..
        } = join.relation
        else {
            unreachable!("checked above");
        };
        expand_map(&mut array_exprs, alias.columns.len(), with_ordinality);
        let mut items: Vec<String> = array_exprs
            .iter()
            .zip(&alias.columns)
            .map(|(e, c)| format!("unnest({e}) AS {}", c.name))
            .collect();
        if with_ordinality && let Some(c) = alias.columns.get(array_exprs.len()) {
            let sizes: Vec<String> = array_exprs
                .iter()
                .map(|e| format!("cardinality({e})"))
                .collect();
            let longest = match sizes.as_slice() {
                [one] => one.clone(),
                many => format!("greatest({})", many.join(", ")),
            };
            items.push(format!(
                "unnest(generate_series(1, CAST({longest} AS BIGINT))) AS {}",
                c.name
            ));
        }
        let sql = format!(
            "SELECT * FROM (SELECT *, {} FROM {relation}) AS {name}",
            items.join(", ")
        );
        let Some(derived) = parse_from(&sql) else {
            return Vec::new();
        };
        relation = derived;
        renames.push((alias.name.value.clone(), name.clone()));
    }
    from.relation = relation;
    renames
}

/// Trino's `UNNEST(m) AS t(key, value)` of a map: one expression named by two columns (three
/// with ordinality) is a map, unnested as its keys and values side by side.
fn expand_map(array_exprs: &mut Vec<Expr>, names: usize, with_ordinality: bool) {
    let columns = names - usize::from(with_ordinality && names > 0);
    if let [map] = array_exprs.as_slice()
        && columns == 2
    {
        let map = map.clone();
        *array_exprs = vec![
            call("map_keys", vec![map.clone()]),
            call("map_values", vec![map]),
        ];
    }
}

/// The first relation of `SELECT * FROM <relation>` in `sql`, parsed.
fn parse_from(sql: &str) -> Option<TableFactor> {
    let dialect = datafusion::sql::sqlparser::dialect::GenericDialect {};
    let mut statements =
        datafusion::sql::sqlparser::parser::Parser::parse_sql(&dialect, sql).ok()?;
    let ast::Statement::Query(query) = statements.pop()? else {
        return None;
    };
    let SetExpr::Select(select) = *query.body else {
        return None;
    };
    select.from.into_iter().next().map(|f| f.relation)
}

/// Makes what can fail in an expression give NULL instead: for `try(…)`.
struct Lenient<'a> {
    is_function: &'a dyn Fn(&str) -> bool,
}

impl VisitorMut for Lenient<'_> {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Cast { kind, .. }
                if *kind == CastKind::Cast || *kind == CastKind::DoubleColon =>
            {
                *kind = CastKind::TryCast;
            }
            Expr::BinaryOp {
                op: BinaryOperator::Divide | BinaryOperator::Modulo,
                right,
                ..
            } => {
                let divisor = take(right);
                **right = call("nullif", vec![divisor, number(0)]);
            }
            Expr::Function(function) => {
                if let Some(name) = plain_name(&function.name) {
                    let lenient = lenient_name(&name);
                    if (self.is_function)(&lenient) {
                        function.name = ObjectName(vec![ObjectNamePart::Identifier(
                            Ident::with_quote('"', lenient),
                        )]);
                    }
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// The extraction function that reads `field` as Trino's `EXTRACT` does.
fn extraction(field: &DateTimeField) -> Option<&'static str> {
    Some(match field {
        DateTimeField::Year => "year",
        DateTimeField::Quarter => "quarter",
        DateTimeField::Month => "month",
        DateTimeField::Week(None) => "week",
        DateTimeField::Day => "day",
        DateTimeField::DayOfWeek | DateTimeField::Dow => "day_of_week",
        DateTimeField::DayOfYear | DateTimeField::Doy => "day_of_year",
        DateTimeField::Hour => "hour",
        DateTimeField::Minute => "minute",
        DateTimeField::Second => "second",
        DateTimeField::TimezoneHour => "timezone_hour",
        DateTimeField::TimezoneMinute => "timezone_minute",
        DateTimeField::Custom(ident) => match ident.value.to_ascii_lowercase().as_str() {
            "year_of_week" | "yow" => "year_of_week",
            "day_of_month" => "day",
            _ => return None,
        },
        _ => return None,
    })
}

/// A Trino timestamp literal's text as DataFusion reads it (seconds added when missing), and its
/// zone when it has one (`2001-08-22 03:04:05.321 America/Los_Angeles`, `… UTC`, `… +09:00`).
/// `None` when the text is not of that shape (DataFusion then says what is wrong with it).
fn timestamp_literal(text: &str) -> Option<(String, Option<String>)> {
    let text = text.trim();
    let (date, rest) = text.split_at(text.find([' ', 'T']).unwrap_or(text.len()));
    let rest = rest.get(1..).unwrap_or("").trim();
    let (time, zone) = match rest.find([' ', '+', '-', 'Z']) {
        Some(at) if !rest.is_empty() => (rest[..at].trim(), Some(rest[at..].trim())),
        _ => (rest, None),
    };
    let colons = time.matches(':').count();
    let time = match (time.is_empty(), colons) {
        (true, _) => "00:00:00".to_string(),
        (false, 1) => format!("{time}:00"),
        (false, 2) => time.to_string(),
        _ => return None,
    };
    let zone = zone.filter(|z| !z.is_empty()).map(|z| match z {
        "Z" => "UTC".to_string(),
        z => z.to_string(),
    });
    if zone.is_none() && colons == 2 {
        return None; // already DataFusion's shape: leave it as written
    }
    Some((format!("{date} {time}"), zone))
}

/// The lower-case name of an unqualified function call.
fn plain_name(name: &ObjectName) -> Option<String> {
    match name.0.as_slice() {
        [ObjectNamePart::Identifier(ident)] if ident.quote_style.is_none() => {
            Some(ident.value.to_ascii_lowercase())
        }
        _ => None,
    }
}

/// The arguments of a plain call `f(a, b)`: no `DISTINCT`, `ORDER BY`, `FILTER` or `OVER`.
fn plain_args(function: &Function) -> Option<Vec<Expr>> {
    if function.filter.is_some() || function.over.is_some() || !function.within_group.is_empty() {
        return None;
    }
    let FunctionArguments::List(list) = &function.args else {
        return None;
    };
    if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
        return None;
    }
    list.args
        .iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// The call `name(args)`.
fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(name))]),
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

fn number(n: i64) -> Expr {
    Expr::value(Value::Number(n.to_string(), false))
}

fn string(s: &str) -> Expr {
    Expr::value(Value::SingleQuotedString(s.to_string()))
}

/// The expression out of `boxed`, leaving a placeholder (the box is overwritten after).
fn take(boxed: &mut Box<Expr>) -> Expr {
    std::mem::replace(boxed.as_mut(), Expr::value(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trino_timestamp_literals_are_read() {
        assert_eq!(
            timestamp_literal("2012-10-31 01:00"),
            Some(("2012-10-31 01:00:00".to_string(), None))
        );
        assert_eq!(
            timestamp_literal("2012-10-31 01:00 UTC"),
            Some(("2012-10-31 01:00:00".to_string(), Some("UTC".to_string())))
        );
        assert_eq!(
            timestamp_literal("2001-08-22 03:04:05.321 America/Los_Angeles"),
            Some((
                "2001-08-22 03:04:05.321".to_string(),
                Some("America/Los_Angeles".to_string())
            ))
        );
        assert_eq!(
            timestamp_literal("2001-08-22 03:04:05+09:00"),
            Some((
                "2001-08-22 03:04:05".to_string(),
                Some("+09:00".to_string())
            ))
        );
        assert_eq!(
            timestamp_literal("2001-08-22"),
            Some(("2001-08-22 00:00:00".to_string(), None))
        );
        assert_eq!(timestamp_literal("2001-08-22 03:04:05"), None);
    }
}
