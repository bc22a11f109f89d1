//! From a query's filters to the partitions it needs.
//!
//! Two passes. First, simple predicates on partition columns (`=`, `IN`, ranges, `BETWEEN`,
//! `IS NULL`, and `OR`s of them on one column) become per-column [`Domain`]s, which the catalog
//! uses to choose prefixes before anything is listed. Second, every filter that mentions only
//! partition columns (whatever its shape: `month(dt) = 1`, `dt = d1 OR region = r`) is evaluated
//! on the candidate partitions' values, so the scan can promise DataFusion an exact result.

use std::ops::Bound;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, AsArray, RecordBatch, TimestampMillisecondArray};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::catalog::Session;
use datafusion::common::Column;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::datasource::listing::helpers::expr_applicable_for_cols;
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::utils::{conjunction, split_conjunction};
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};
use minerva_catalog::projection::{Rule, time_key};
use minerva_catalog::{ColumnType, DateFormat, Domain, Partition, PartitionFilter, Table, Value};

use crate::types::arrow_type;

/// The date format of a string partition column projected as dates, if `column` is one.
fn date_format<'a>(table: &'a Table, column: &str) -> Option<&'a DateFormat> {
    let projection = table.projection()?;
    table
        .partition_columns()
        .iter()
        .zip(projection.rules())
        .find_map(|(c, rule)| match rule {
            Rule::Date { format, .. } if c.name == column && c.ty == ColumnType::String => {
                Some(format)
            }
            _ => None,
        })
}

/// Rewrites range comparisons between a date-projected string column and a literal that reads
/// as a time in the column's format into comparisons of times (on the column's time key), so
/// that `dt >= '28-02-2024'` compares dates, not text. Equality and `IN` stay text comparisons:
/// they are exact either way for values spelled as the format writes them.
pub(crate) fn as_time_comparisons(table: &Table, filter: Expr) -> Expr {
    if table.projection().is_none() {
        return filter;
    }
    let as_time = |column: &Column, literal: &ScalarValue| -> Option<(Expr, Expr)> {
        let format = date_format(table, &column.name)?;
        let text = match literal {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)) => s,
            _ => return None,
        };
        let millis = format.parse_time(text)?.and_utc().timestamp_millis();
        Some((
            Expr::Column(Column::from_name(time_key(&column.name))),
            Expr::Literal(ScalarValue::TimestampMillisecond(Some(millis), None), None),
        ))
    };
    filter
        .transform(|expr| {
            let rewritten = match &expr {
                Expr::BinaryExpr(BinaryExpr { left, op, right })
                    if matches!(
                        op,
                        Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq
                    ) =>
                {
                    match (left.as_ref(), right.as_ref()) {
                        (Expr::Column(c), Expr::Literal(v, _)) => as_time(c, v).map(|(c, v)| {
                            Expr::BinaryExpr(BinaryExpr::new(c.into(), *op, v.into()))
                        }),
                        (Expr::Literal(v, _), Expr::Column(c)) => as_time(c, v).map(|(c, v)| {
                            Expr::BinaryExpr(BinaryExpr::new(v.into(), *op, c.into()))
                        }),
                        _ => None,
                    }
                }
                Expr::Between(Between {
                    expr: inner,
                    negated,
                    low,
                    high,
                }) => match (inner.as_ref(), low.as_ref(), high.as_ref()) {
                    (Expr::Column(c), Expr::Literal(l, _), Expr::Literal(h, _)) => {
                        as_time(c, l).zip(as_time(c, h)).map(|((c, l), (_, h))| {
                            Expr::Between(Between::new(c.into(), *negated, l.into(), h.into()))
                        })
                    }
                    _ => None,
                },
                _ => None,
            };
            Ok(match rewritten {
                Some(e) => Transformed::yes(e),
                None => Transformed::no(expr),
            })
        })
        .map(|t| t.data)
        .expect("the rewrite cannot fail")
}

/// Days from 0001-01-01 to 1970-01-01: Arrow's `Date32` counts from the latter.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Whether `filter` mentions only the table's partition columns (and so can be answered by
/// choosing partitions alone).
pub(crate) fn is_partition_only(table: &Table, filter: &Expr) -> bool {
    let names: Vec<&str> = table
        .partition_columns()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    !names.is_empty() && expr_applicable_for_cols(&names, filter)
}

/// The filters among `filters` that mention only the table's partition columns.
pub(crate) fn partition_only<'a>(table: &Table, filters: &'a [Expr]) -> Vec<&'a Expr> {
    filters
        .iter()
        .filter(|f| is_partition_only(table, f))
        .collect()
}

/// The per-column domains implied by `filters` (already simplified: literals folded).
pub(crate) fn partition_filter(table: &Table, filters: &[&Expr]) -> PartitionFilter {
    let mut filter = PartitionFilter::all();
    for conjunct in filters.iter().flat_map(|f| split_conjunction(f)) {
        if let Some((column, domain)) = domain_of(table, conjunct) {
            filter.and(&column, domain);
        }
    }
    filter
}

/// The domain one predicate gives one partition column, if it is of a shape we understand.
/// Anything else gives `None`, which prunes nothing: never a wrong answer, only more reading.
///
/// Long by design: one match arm per predicate shape (comparison, BETWEEN, IN, IS NULL, …).
fn domain_of(table: &Table, expr: &Expr) -> Option<(String, Domain)> {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: op @ (Operator::And | Operator::Or),
            right,
        }) => {
            let (lc, ld) = domain_of(table, left)?;
            let (rc, rd) = domain_of(table, right)?;
            (lc == rc).then(|| {
                (
                    lc,
                    if *op == Operator::And {
                        ld.intersect(&rd)
                    } else {
                        ld.union(&rd)
                    },
                )
            })
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (column, value, op) = match (left.as_ref(), right.as_ref()) {
                (Expr::Column(c), Expr::Literal(v, _)) => (c, v, *op),
                (Expr::Literal(v, _), Expr::Column(c)) => (c, v, op.swap()?),
                _ => return None,
            };
            let value = literal_value(table, &column.name, value)?;
            let domain = match op {
                Operator::Eq | Operator::IsNotDistinctFrom => Domain::point(value),
                Operator::NotEq => Domain::range(Bound::Unbounded, Bound::Excluded(value.clone()))
                    .union(&Domain::range(Bound::Excluded(value), Bound::Unbounded)),
                Operator::Lt => Domain::range(Bound::Unbounded, Bound::Excluded(value)),
                Operator::LtEq => Domain::range(Bound::Unbounded, Bound::Included(value)),
                Operator::Gt => Domain::range(Bound::Excluded(value), Bound::Unbounded),
                Operator::GtEq => Domain::range(Bound::Included(value), Bound::Unbounded),
                _ => return None,
            };
            Some((column.name.clone(), domain))
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => {
            let (Expr::Column(column), Expr::Literal(low, _), Expr::Literal(high, _)) =
                (expr.as_ref(), low.as_ref(), high.as_ref())
            else {
                return None;
            };
            let low = literal_value(table, &column.name, low)?;
            let high = literal_value(table, &column.name, high)?;
            Some((
                column.name.clone(),
                Domain::range(Bound::Included(low), Bound::Included(high)),
            ))
        }
        Expr::InList(list) if !list.negated => {
            let Expr::Column(column) = list.expr.as_ref() else {
                return None;
            };
            let values = list
                .list
                .iter()
                .map(|e| match e {
                    Expr::Literal(v, _) => literal_value(table, &column.name, v),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some((column.name.clone(), Domain::points(values)))
        }
        Expr::IsNull(inner) => match inner.as_ref() {
            Expr::Column(column) => Some((column.name.clone(), Domain::point(Value::Null))),
            _ => None,
        },
        Expr::IsNotNull(inner) => match inner.as_ref() {
            Expr::Column(column) => Some((
                column.name.clone(),
                Domain::range(Bound::Unbounded, Bound::Unbounded),
            )),
            _ => None,
        },
        _ => None,
    }
}

/// A literal compared with partition column `column`, as a catalog value of its type.
/// `None` for NULL literals and for types that do not match the column's.
fn literal_value(table: &Table, column: &str, literal: &ScalarValue) -> Option<Value> {
    if table
        .partition_columns()
        .iter()
        .any(|c| time_key(&c.name) == column)
    {
        return match literal {
            ScalarValue::TimestampMillisecond(Some(millis), None) => Some(Value::Int(*millis)),
            _ => None,
        };
    }
    let ty = &table.partition_column(column)?.ty;
    let value = match literal {
        ScalarValue::Date32(Some(days)) => Value::Date(NaiveDate::from_num_days_from_ce_opt(
            days.checked_add(EPOCH_DAYS_FROM_CE)?,
        )?),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Value::String(s.clone()),
        ScalarValue::Boolean(Some(b)) => Value::Boolean(*b),
        ScalarValue::Int8(Some(v)) => Value::Int((*v).into()),
        ScalarValue::Int16(Some(v)) => Value::Int((*v).into()),
        ScalarValue::Int32(Some(v)) => Value::Int((*v).into()),
        ScalarValue::Int64(Some(v)) => Value::Int(*v),
        ScalarValue::UInt8(Some(v)) => Value::Int((*v).into()),
        ScalarValue::UInt16(Some(v)) => Value::Int((*v).into()),
        ScalarValue::UInt32(Some(v)) => Value::Int((*v).into()),
        _ => return None,
    };
    // The literal must be of the column's kind: a date compared with a date, and so on.
    Value::parse(&value.to_string(), ty).filter(|parsed| *parsed == value)
}

/// A partition value as a DataFusion scalar of the column's Arrow type.
pub(crate) fn scalar(value: &Value, column: &minerva_catalog::Column) -> DFResult<ScalarValue> {
    let ty = arrow_type(&column.ty);
    let scalar = match value {
        Value::Null => return ScalarValue::try_from(&ty),
        Value::Boolean(b) => ScalarValue::Boolean(Some(*b)),
        Value::Int(i) => ScalarValue::Int64(Some(*i)),
        Value::Date(d) => ScalarValue::Date32(Some(d.num_days_from_ce() - EPOCH_DAYS_FROM_CE)),
        Value::String(s) => ScalarValue::Utf8View(Some(s.clone())),
    };
    scalar.cast_to(&ty)
}

/// Keeps the partitions whose values satisfy every partition-only filter.
pub(crate) fn retain_matching(
    session: &dyn Session,
    table: &Table,
    partitions: Vec<Partition>,
    filters: &[&Expr],
) -> DFResult<Vec<Partition>> {
    let Some(predicate) = conjunction(filters.iter().map(|f| (*f).clone())) else {
        return Ok(partitions);
    };
    if partitions.is_empty() {
        return Ok(partitions);
    }
    let mut fields: Vec<Field> = table
        .partition_columns()
        .iter()
        .map(|c| Field::new(&c.name, arrow_type(&c.ty), true))
        .collect();
    let mut columns = table
        .partition_columns()
        .iter()
        .enumerate()
        .map(|(i, column)| {
            ScalarValue::iter_to_array(
                partitions
                    .iter()
                    .map(|p| scalar(&p.values[i], column))
                    .collect::<DFResult<Vec<_>>>()?,
            )
        })
        .collect::<DFResult<Vec<_>>>()?;
    // Date-projected string columns also as times, for comparisons rewritten onto time keys.
    for (i, column) in table.partition_columns().iter().enumerate() {
        let Some(format) = date_format(table, &column.name) else {
            continue;
        };
        let times: TimestampMillisecondArray = partitions
            .iter()
            .map(|p| match &p.values[i] {
                Value::String(s) => format.parse_time(s).map(|t| t.and_utc().timestamp_millis()),
                _ => None,
            })
            .collect();
        fields.push(Field::new(
            time_key(&column.name),
            times.data_type().clone(),
            true,
        ));
        columns.push(Arc::new(times));
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    let df_schema = DFSchema::try_from(schema)?;
    let physical = session.create_physical_expr(unnormalize_col(predicate), &df_schema)?;
    let mask = physical.evaluate(&batch)?.into_array(batch.num_rows())?;
    let mask = mask.as_boolean();
    Ok(partitions
        .into_iter()
        .enumerate()
        .filter(|(i, _)| mask.is_valid(*i) && mask.value(*i))
        .map(|(_, p)| p)
        .collect())
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{col, lit};
    use minerva_catalog::{Column, ColumnType, Format, Location, TableDefinition};

    use super::*;

    fn table() -> Table {
        let base = std::path::Path::new("/");
        let location = Location::parse("memory:///t", base).unwrap();
        let mut definition = TableDefinition::new("default", "t", location, Format::Parquet);
        definition.partition_columns = vec![
            Column::new("dt", ColumnType::Date),
            Column::new("region", ColumnType::String),
        ];
        Table::new(definition, base).unwrap()
    }

    fn date(s: &str) -> ScalarValue {
        ScalarValue::Date32(Some(
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .unwrap()
                .num_days_from_ce()
                - EPOCH_DAYS_FROM_CE,
        ))
    }

    fn filter_of(exprs: &[Expr]) -> String {
        let t = table();
        partition_filter(&t, &partition_only(&t, exprs)).to_string()
    }

    #[test]
    fn comparisons_become_domains() {
        let exprs = [
            col("dt").gt_eq(lit(date("2024-01-01"))),
            lit(date("2024-01-07")).gt(col("dt")),
            col("region").in_list(vec![lit("b"), lit("a")], false),
            col("price").gt(lit(5)),
        ];
        assert_eq!(
            filter_of(&exprs),
            "dt ∈ [2024-01-01, 2024-01-07) AND region ∈ {a} ∪ {b}"
        );
    }

    #[test]
    fn between_or_and_not_equal() {
        let between = Expr::Between(Between::new(
            Box::new(col("dt")),
            false,
            Box::new(lit(date("2024-01-01"))),
            Box::new(lit(date("2024-01-03"))),
        ));
        assert_eq!(filter_of(&[between]), "dt ∈ [2024-01-01, 2024-01-03]");
        let either = col("dt")
            .eq(lit(date("2024-01-01")))
            .or(col("dt").eq(lit(date("2024-02-01"))));
        assert_eq!(filter_of(&[either]), "dt ∈ {2024-01-01} ∪ {2024-02-01}");
        assert_eq!(
            filter_of(&[col("region").not_eq(lit("x"))]),
            "region ∈ (-∞, x) ∪ (x, ∞)"
        );
    }

    #[test]
    fn shapes_it_does_not_understand_prune_nothing() {
        let across = col("dt")
            .eq(lit(date("2024-01-01")))
            .or(col("region").eq(lit("a")));
        let mismatched = col("dt").eq(lit(5));
        assert_eq!(filter_of(&[across, mismatched]), "all partitions");
    }
}
