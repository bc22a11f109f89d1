//! Trino's "Aggregate functions" (`functions/aggregate.md`) that DataFusion lacks or reads
//! otherwise. `count_if`, `approx_distinct(x, e)` and two-argument `max_by`/`min_by` are
//! rewritten to DataFusion's aggregates during simplification (so they keep its fast grouped
//! paths); `max_by`/`min_by` with `n`, `approx_percentile`, `histogram`, `map_agg` and
//! `geometric_mean` have accumulators here. `every` and `arbitrary` are DataFusion's
//! `bool_and` and `any_value` under Trino's names (`super::AGGREGATE_ALIASES`).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, MapArray, StructArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::kernels::cast::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result as DFResult;
use datafusion::functions_aggregate::first_last::first_value_udaf;
use datafusion::logical_expr::expr::{AggregateFunction, AggregateFunctionParams, Sort};
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Expr, Signature, TypeSignature, Volatility, lit,
    when,
};
use datafusion_functions_aggregate_common::tdigest::{Centroid, TDigest};

/// The functions of this family.
pub(super) fn functions() -> Vec<AggregateUDF> {
    vec![
        AggregateUDF::from(Trino::new("count_if", &[1], Kind::CountIf)),
        AggregateUDF::from(Trino::new("approx_distinct", &[1, 2], Kind::ApproxDistinct)),
        AggregateUDF::from(Trino::new("max_by", &[2, 3], Kind::By { max: true })),
        AggregateUDF::from(Trino::new("min_by", &[2, 3], Kind::By { max: false })),
        AggregateUDF::from(Trino::new("approx_percentile", &[2, 3], Kind::Percentile)),
        AggregateUDF::from(Trino::new("histogram", &[1], Kind::Histogram)),
        AggregateUDF::from(Trino::new("map_agg", &[2], Kind::MapAgg)),
        AggregateUDF::from(Trino::new("geometric_mean", &[1], Kind::GeometricMean)),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// "Returns the number of TRUE input values."
    CountIf,
    /// "Returns the approximate number of distinct input values" (the error bound argument is
    /// accepted; DataFusion's HyperLogLog has its own).
    ApproxDistinct,
    /// `max_by(x, y[, n])`: "Returns the value of x associated with the maximum value of y over
    /// all input values", or the `n` values of x for the `n` largest y, largest first.
    By { max: bool },
    /// `approx_percentile(x[, w], percentage | percentages)`.
    Percentile,
    /// "Returns a map containing the count of the number of times each input value occurs."
    Histogram,
    /// "Returns a map created from the input key / value pairs."
    MapAgg,
    /// "Returns the geometric mean of all input values."
    GeometricMean,
}

/// Whether `udaf` is one of Trino's aggregates that the planner rewrites into DataFusion's
/// (`approx_distinct`, `count_if`): a plan that runs never holds it.
pub(crate) fn rewritten_before_running(udaf: &AggregateUDF) -> bool {
    udaf.inner()
        .downcast_ref::<Trino>()
        .is_some_and(|t| matches!(t.kind, Kind::CountIf | Kind::ApproxDistinct))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Trino {
    name: &'static str,
    kind: Kind,
    signature: Signature,
}

impl Trino {
    fn new(name: &'static str, arity: &[usize], kind: Kind) -> Self {
        let signature = Signature::one_of(
            arity.iter().map(|&n| TypeSignature::Any(n)).collect(),
            Volatility::Immutable,
        );
        Self {
            name,
            kind,
            signature,
        }
    }
}

fn list_of(ty: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", ty, true)))
}

/// A map type as `MapArray` builds it here: `entries` of non-null `key` and nullable `value`.
fn map_of(key: DataType, value: DataType) -> DataType {
    DataType::Map(
        Arc::new(Field::new("entries", entries_type(key, value), false)),
        false,
    )
}

fn entries_type(key: DataType, value: DataType) -> DataType {
    DataType::Struct(Fields::from(vec![
        Field::new("key", key, false),
        Field::new("value", value, true),
    ]))
}

/// A percentile argument's type: a number, or an array of numbers.
fn percentiles_are_a_list(ty: &DataType) -> DFResult<bool> {
    match ty {
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => Ok(true),
        ty if ty.is_numeric() => Ok(false),
        other => plan_err!(
            "approx_percentile(): the percentage must be a number or an array, not {other}"
        ),
    }
}

impl AggregateUDFImpl for Trino {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DFResult<DataType> {
        Ok(match self.kind {
            Kind::CountIf => DataType::Int64,
            Kind::ApproxDistinct => DataType::UInt64,
            Kind::By { .. } if args.len() == 3 => list_of(args[0].clone()),
            Kind::By { .. } => args[0].clone(),
            Kind::Percentile => {
                let x = &args[0];
                if !x.is_numeric() {
                    return plan_err!("approx_percentile() takes numbers, not {x}");
                }
                match percentiles_are_a_list(args.last().expect("two or three arguments"))? {
                    true => list_of(x.clone()),
                    false => x.clone(),
                }
            }
            Kind::Histogram => map_of(args[0].clone(), DataType::Int64),
            Kind::MapAgg => map_of(args[0].clone(), args[1].clone()),
            Kind::GeometricMean => DataType::Float64,
        })
    }

    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        let kind = self.kind;
        match kind {
            Kind::CountIf | Kind::ApproxDistinct | Kind::By { .. } => {
                Some(Box::new(move |function, _| Ok(rewrite(kind, function))))
            }
            _ => None,
        }
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DFResult<Vec<FieldRef>> {
        let field = |name: &str, ty: DataType| {
            Arc::new(Field::new(format!("{}[{name}]", args.name), ty, true))
        };
        let input = |i: usize| args.input_fields[i].data_type().clone();
        Ok(match self.kind {
            Kind::By { .. } => vec![
                field("values", list_of(input(0))),
                field("keys", list_of(input(1))),
                field("n", DataType::Int64),
            ],
            Kind::Percentile => vec![
                field("max_size", DataType::UInt64),
                field("sum", DataType::Float64),
                field("count", DataType::Float64),
                field("max", DataType::Float64),
                field("min", DataType::Float64),
                field("centroids", list_of(DataType::Float64)),
                field("percentiles", list_of(DataType::Float64)),
                field("values", list_of(DataType::Float64)),
                field("weights", list_of(DataType::Float64)),
            ],
            Kind::Histogram => vec![
                field("keys", list_of(input(0))),
                field("counts", list_of(DataType::Int64)),
            ],
            Kind::MapAgg => vec![
                field("keys", list_of(input(0))),
                field("values", list_of(input(1))),
            ],
            Kind::GeometricMean => vec![
                field("sum_ln", DataType::Float64),
                field("count", DataType::Int64),
            ],
            Kind::CountIf | Kind::ApproxDistinct => {
                return exec_err!("{}() is rewritten before it runs", self.name);
            }
        })
    }

    fn accumulator(&self, args: AccumulatorArgs) -> DFResult<Box<dyn Accumulator>> {
        let returns = args.return_field.data_type().clone();
        let input = |i: usize| args.expr_fields[i].data_type().clone();
        Ok(match self.kind {
            Kind::By { max } => Box::new(TopBy::new(max, input(0), input(1))),
            Kind::Percentile => Box::new(Percentile::new(returns, args.expr_fields.len() == 3)),
            // The map is built with the types it was declared with.
            Kind::Histogram | Kind::MapAgg => {
                let (key, value) = map_types(&returns)?;
                Box::new(Pairs::new(key, value, self.kind == Kind::Histogram))
            }
            Kind::GeometricMean => Box::new(GeometricMean::default()),
            Kind::CountIf | Kind::ApproxDistinct => {
                return exec_err!("{}() is rewritten before it runs", self.name);
            }
        })
    }
}

/// The key and value types of map type `ty`.
fn map_types(ty: &DataType) -> DFResult<(DataType, DataType)> {
    match ty {
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(fields) if fields.len() == 2 => {
                Ok((fields[0].data_type().clone(), fields[1].data_type().clone()))
            }
            other => exec_err!("map entries of type {other}"),
        },
        other => exec_err!("not a map: {other}"),
    }
}

/// The DataFusion aggregate that computes `function` (of kind `kind`).
fn rewrite(kind: Kind, function: AggregateFunction) -> Expr {
    let AggregateFunctionParams {
        mut args,
        distinct,
        filter,
        order_by,
        null_treatment,
    } = function.params.clone();
    match kind {
        Kind::CountIf => {
            let condition = args.swap_remove(0);
            let counted = when(condition, lit(1i64)).end().unwrap_or(lit(1i64));
            Expr::AggregateFunction(AggregateFunction::new_udf(
                datafusion::functions_aggregate::count::count_udaf(),
                vec![counted],
                false,
                filter,
                vec![],
                None,
            ))
        }
        Kind::ApproxDistinct => {
            args.truncate(1);
            Expr::AggregateFunction(AggregateFunction::new_udf(
                datafusion::functions_aggregate::approx_distinct::approx_distinct_udaf(),
                args,
                distinct,
                filter,
                order_by,
                null_treatment,
            ))
        }
        Kind::By { max } if args.len() == 2 => {
            let key = args.pop().expect("two arguments");
            let value = args.pop().expect("two arguments");
            // Rows whose key is NULL take no part, as in Trino.
            let has_key = key.clone().is_not_null();
            let filter = Some(Box::new(match filter {
                Some(f) => f.as_ref().clone().and(has_key),
                None => has_key,
            }));
            Expr::AggregateFunction(AggregateFunction::new_udf(
                first_value_udaf(),
                vec![value],
                false,
                filter,
                vec![Sort::new(key, !max, false)],
                None,
            ))
        }
        // Three arguments: this module's accumulator.
        Kind::By { .. }
        | Kind::Percentile
        | Kind::Histogram
        | Kind::MapAgg
        | Kind::GeometricMean => Expr::AggregateFunction(function),
    }
}

/// The `n` values with the largest (or smallest) keys, for `max_by(x, y, n)`/`min_by`.
#[derive(Debug)]
struct TopBy {
    max: bool,
    value_type: DataType,
    key_type: DataType,
    n: Option<i64>,
    /// (key, value), best first.
    kept: Vec<(ScalarValue, ScalarValue)>,
}

impl TopBy {
    fn new(max: bool, value_type: DataType, key_type: DataType) -> Self {
        Self {
            max,
            value_type,
            key_type,
            n: None,
            kept: Vec::new(),
        }
    }

    fn offer(&mut self, key: ScalarValue, value: ScalarValue) {
        if key.is_null() {
            return;
        }
        let better = |a: &ScalarValue, b: &ScalarValue| {
            let order = a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal);
            if self.max {
                order.is_gt()
            } else {
                order.is_lt()
            }
        };
        let at = self
            .kept
            .iter()
            .position(|(k, _)| better(&key, k))
            .unwrap_or(self.kept.len());
        let n = usize::try_from(self.n.unwrap_or(1)).unwrap_or(usize::MAX);
        if at < n {
            self.kept.insert(at, (key, value));
            self.kept.truncate(n);
        }
    }

    fn set_n(&mut self, n: &ArrayRef, i: usize) -> DFResult<()> {
        if self.n.is_some() || n.is_null(i) {
            return Ok(());
        }
        let value = ScalarValue::try_from_array(n, i)?.cast_to(&DataType::Int64)?;
        let ScalarValue::Int64(Some(n)) = value else {
            return exec_err!("max_by/min_by(): n must be an integer");
        };
        if n <= 0 {
            return exec_err!("max_by/min_by(): n must be positive, not {n}");
        }
        self.n = Some(n);
        Ok(())
    }
}

impl Accumulator for TopBy {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        let (x, y) = (&values[0], &values[1]);
        for i in 0..x.len() {
            if let Some(n) = values.get(2) {
                self.set_n(n, i)?;
            }
            self.offer(
                ScalarValue::try_from_array(y, i)?,
                ScalarValue::try_from_array(x, i)?,
            );
        }
        Ok(())
    }

    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        if self.kept.is_empty() {
            return ScalarValue::try_from(&list_of(self.value_type.clone()));
        }
        let values: Vec<ScalarValue> = self.kept.iter().map(|(_, v)| v.clone()).collect();
        Ok(ScalarValue::List(ScalarValue::new_list_nullable(
            &values,
            &self.value_type,
        )))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .kept
                .iter()
                .map(|(k, v)| k.size() + v.size())
                .sum::<usize>()
    }

    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        let values: Vec<ScalarValue> = self.kept.iter().map(|(_, v)| v.clone()).collect();
        let keys: Vec<ScalarValue> = self.kept.iter().map(|(k, _)| k.clone()).collect();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &self.value_type)),
            ScalarValue::List(ScalarValue::new_list_nullable(&keys, &self.key_type)),
            ScalarValue::Int64(self.n),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        let (values, keys, n) = (
            states[0].as_list::<i32>(),
            states[1].as_list::<i32>(),
            &states[2],
        );
        for row in 0..values.len() {
            self.set_n(n, row)?;
            if values.is_null(row) {
                continue;
            }
            let (vs, ks) = (values.value(row), keys.value(row));
            for j in 0..vs.len() {
                self.offer(
                    ScalarValue::try_from_array(&ks, j)?,
                    ScalarValue::try_from_array(&vs, j)?,
                );
            }
        }
        Ok(())
    }
}

/// `approx_percentile`: exact over the first [`EXACT_UP_TO`] values (a value of the data, the
/// first whose cumulative weight reaches the percentage, as Trino's digest answers on small
/// inputs); a t-digest of them all beyond that.
#[derive(Debug)]
struct Percentile {
    returns: DataType,
    weighted: bool,
    digest: TDigest,
    /// (value, weight) pairs not yet in the digest.
    buffer: Vec<(f64, f64)>,
    percentiles: Option<Vec<f64>>,
}

const DIGEST_SIZE: usize = 100;

/// How many values a group keeps exactly before it summarizes them in a t-digest.
const EXACT_UP_TO: usize = 10_000;

impl Percentile {
    fn new(returns: DataType, weighted: bool) -> Self {
        Self {
            returns,
            weighted,
            digest: TDigest::new(DIGEST_SIZE),
            buffer: Vec::new(),
            percentiles: None,
        }
    }

    fn read_percentiles(&mut self, p: &ArrayRef) -> DFResult<()> {
        if self.percentiles.is_some() || p.is_empty() || p.is_null(0) {
            return Ok(());
        }
        let values: Vec<f64> = match p.data_type() {
            DataType::List(_) => {
                let items = cast(&p.as_list::<i32>().value(0), &DataType::Float64)?;
                items
                    .as_primitive::<Float64Type>()
                    .iter()
                    .flatten()
                    .collect()
            }
            _ => {
                let items = cast(&p.slice(0, 1), &DataType::Float64)?;
                items
                    .as_primitive::<Float64Type>()
                    .iter()
                    .flatten()
                    .collect()
            }
        };
        if let Some(bad) = values.iter().find(|v| !(0.0..=1.0).contains(*v)) {
            return exec_err!("approx_percentile(): percentage must be between 0 and 1, not {bad}");
        }
        self.percentiles = Some(values);
        Ok(())
    }

    fn add(&mut self, value: f64, weight: f64) {
        if weight > 0.0 && !value.is_nan() {
            self.buffer.push((value, weight));
        }
        if self.buffer.len() > EXACT_UP_TO
            || (!self.digest_is_empty() && self.buffer.len() > DIGEST_SIZE)
        {
            self.flush();
        }
    }

    fn digest_is_empty(&self) -> bool {
        self.digest.count() == 0.0
    }

    /// Moves the buffered values into the digest.
    fn flush(&mut self) {
        let buffer = std::mem::take(&mut self.buffer);
        if buffer.iter().all(|(_, w)| *w == 1.0) {
            let values = buffer.into_iter().map(|(v, _)| v).collect();
            self.digest = self.digest.merge_unsorted_f64(values);
            return;
        }
        let mut digests = vec![self.digest.clone()];
        digests.extend(
            buffer
                .into_iter()
                .map(|(v, w)| TDigest::new_with_centroid(DIGEST_SIZE, Centroid::new(v, w))),
        );
        self.digest = TDigest::merge_digests(&digests);
    }

    /// The percentile `q` of what was seen, or None when nothing was.
    fn estimate(&mut self, q: f64) -> Option<f64> {
        if self.digest_is_empty() {
            let mut sorted = self.buffer.clone();
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
            let total: f64 = sorted.iter().map(|(_, w)| w).sum();
            let target = q * total;
            let mut seen = 0.0;
            for (v, w) in &sorted {
                seen += w;
                if seen >= target {
                    return Some(*v);
                }
            }
            return sorted.last().map(|(v, _)| *v);
        }
        if !self.buffer.is_empty() {
            self.flush();
        }
        Some(self.digest.estimate_quantile(q))
    }
}

impl Accumulator for Percentile {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        self.read_percentiles(values.last().expect("a percentage"))?;
        let x = cast(&values[0], &DataType::Float64)?;
        let x = x.as_primitive::<Float64Type>();
        let w = if self.weighted {
            Some(cast(&values[1], &DataType::Float64)?)
        } else {
            None
        };
        let w = w.as_ref().map(|w| w.as_primitive::<Float64Type>());
        for i in 0..x.len() {
            let weight = match w {
                Some(w) if w.is_null(i) => continue,
                Some(w) => w.value(i),
                None => 1.0,
            };
            if x.is_valid(i) {
                self.add(x.value(i), weight);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        let item = match &self.returns {
            DataType::List(f) => f.data_type().clone(),
            other => other.clone(),
        };
        let percentiles = self.percentiles.clone().unwrap_or_default();
        let returns = self.returns.clone();
        let mut estimate = |q: f64| -> DFResult<ScalarValue> {
            match self.estimate(q) {
                None => ScalarValue::try_from(&item),
                Some(v) => {
                    let v = if item.is_integer() { v.round() } else { v };
                    ScalarValue::Float64(Some(v)).cast_to(&item)
                }
            }
        };
        match &returns {
            DataType::List(_) => {
                let values = percentiles
                    .iter()
                    .map(|q| estimate(*q))
                    .collect::<DFResult<Vec<_>>>()?;
                if values.iter().all(ScalarValue::is_null) {
                    return ScalarValue::try_from(&returns);
                }
                Ok(ScalarValue::List(ScalarValue::new_list_nullable(
                    &values, &item,
                )))
            }
            _ => estimate(percentiles.first().copied().unwrap_or(0.5)),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.digest.size() + self.buffer.capacity() * 16
    }

    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        let floats = |values: Vec<f64>| {
            let values: Vec<ScalarValue> = values
                .into_iter()
                .map(|v| ScalarValue::Float64(Some(v)))
                .collect();
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Float64))
        };
        let mut state = self.digest.to_scalar_state();
        state.push(match &self.percentiles {
            Some(ps) => floats(ps.clone()),
            None => ScalarValue::try_from(&list_of(DataType::Float64))?,
        });
        state.push(floats(self.buffer.iter().map(|(v, _)| *v).collect()));
        state.push(floats(self.buffer.iter().map(|(_, w)| *w).collect()));
        Ok(state)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        let (digest_states, rest) = states.split_at(states.len() - 3);
        let (percentiles, values, weights) = (
            rest[0].as_list::<i32>(),
            rest[1].as_list::<i32>(),
            rest[2].as_list::<i32>(),
        );
        if self.percentiles.is_none()
            && let Some(row) = (0..percentiles.len()).find(|&r| percentiles.is_valid(r))
        {
            let items = percentiles.value(row);
            self.percentiles = Some(
                items
                    .as_primitive::<Float64Type>()
                    .iter()
                    .flatten()
                    .collect(),
            );
        }
        let mut digests = vec![self.digest.clone()];
        for row in 0..digest_states[0].len() {
            let state = digest_states
                .iter()
                .map(|s| ScalarValue::try_from_array(s, row))
                .collect::<DFResult<Vec<_>>>()?;
            let digest = TDigest::from_scalar_state(&state);
            if digest.count() > 0.0 {
                digests.push(digest);
            }
            if values.is_valid(row) {
                let (vs, ws) = (values.value(row), weights.value(row));
                let (vs, ws) = (
                    vs.as_primitive::<Float64Type>(),
                    ws.as_primitive::<Float64Type>(),
                );
                for (v, w) in vs.iter().zip(ws.iter()) {
                    if let (Some(v), Some(w)) = (v, w) {
                        self.add(v, w);
                    }
                }
            }
        }
        if digests.len() > 1 {
            self.digest = TDigest::merge_digests(&digests);
        }
        Ok(())
    }
}

/// `histogram(x)` (counts per value) and `map_agg(key, value)` (one value per key, the first
/// seen): the answer's keys are sorted.
#[derive(Debug)]
struct Pairs {
    key_type: DataType,
    value_type: DataType,
    counting: bool,
    index: HashMap<ScalarValue, usize>,
    keys: Vec<ScalarValue>,
    values: Vec<ScalarValue>,
}

impl Pairs {
    fn new(key_type: DataType, value_type: DataType, counting: bool) -> Self {
        Self {
            key_type,
            value_type,
            counting,
            index: HashMap::new(),
            keys: Vec::new(),
            values: Vec::new(),
        }
    }

    fn add(&mut self, key: ScalarValue, value: ScalarValue) -> DFResult<()> {
        if key.is_null() {
            return Ok(());
        }
        // Input may arrive as another spelling of the declared type (Utf8View for Utf8).
        let key = key.cast_to(&self.key_type)?;
        let value = value.cast_to(&self.value_type)?;
        match self.index.get(&key) {
            Some(&at) if self.counting => {
                self.values[at] = self.values[at].add(&value)?;
            }
            Some(_) => {}
            None => {
                self.index.insert(key.clone(), self.keys.len());
                self.keys.push(key);
                self.values.push(value);
            }
        }
        Ok(())
    }
}

impl Accumulator for Pairs {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        for i in 0..values[0].len() {
            let key = ScalarValue::try_from_array(&values[0], i)?;
            let value = if self.counting {
                ScalarValue::Int64(Some(1))
            } else {
                ScalarValue::try_from_array(&values[1], i)?
            };
            self.add(key, value)?;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        if self.keys.is_empty() {
            return ScalarValue::try_from(&map_of(self.key_type.clone(), self.value_type.clone()));
        }
        // Keys in order, so that the same input prints the same map.
        let mut order: Vec<usize> = (0..self.keys.len()).collect();
        order.sort_by(|&a, &b| {
            self.keys[a]
                .partial_cmp(&self.keys[b])
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let keys = ScalarValue::iter_to_array(order.iter().map(|&i| self.keys[i].clone()))?;
        let keys = cast(&keys, &self.key_type)?;
        let values = if self.values.iter().all(ScalarValue::is_null) {
            datafusion::arrow::array::new_null_array(&self.value_type, self.values.len())
        } else {
            let values = ScalarValue::iter_to_array(order.iter().map(|&i| self.values[i].clone()))?;
            cast(&values, &self.value_type)?
        };
        let DataType::Struct(fields) = entries_type(self.key_type.clone(), self.value_type.clone())
        else {
            return exec_err!("map entries are a struct");
        };
        let entries = StructArray::try_new(fields, vec![keys, values], None)?;
        let offsets = OffsetBuffer::from_lengths([entries.len()]);
        let field = Arc::new(Field::new("entries", entries.data_type().clone(), false));
        let map = MapArray::try_new(field, offsets, entries, None, false)?;
        ScalarValue::try_from_array(&map, 0)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.keys.iter().map(|k| 2 * k.size()).sum::<usize>()
            + self.values.iter().map(ScalarValue::size).sum::<usize>()
    }

    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&self.keys, &self.key_type)),
            ScalarValue::List(ScalarValue::new_list_nullable(
                &self.values,
                &self.value_type,
            )),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        let (keys, values) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for row in 0..keys.len() {
            if keys.is_null(row) {
                continue;
            }
            let (ks, vs) = (keys.value(row), values.value(row));
            for j in 0..ks.len() {
                self.add(
                    ScalarValue::try_from_array(&ks, j)?,
                    ScalarValue::try_from_array(&vs, j)?,
                )?;
            }
        }
        Ok(())
    }
}

/// `geometric_mean(x)`: exp of the mean of ln(x).
#[derive(Debug, Default)]
struct GeometricMean {
    sum_ln: f64,
    count: i64,
}

impl Accumulator for GeometricMean {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        let x = cast(&values[0], &DataType::Float64)?;
        for v in x.as_primitive::<Float64Type>().iter().flatten() {
            self.sum_ln += v.ln();
            self.count += 1;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        Ok(ScalarValue::Float64(
            (self.count > 0).then(|| (self.sum_ln / self.count as f64).exp()),
        ))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::Float64(Some(self.sum_ln)),
            ScalarValue::Int64(Some(self.count)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        let sums = states[0].as_primitive::<Float64Type>();
        let counts = states[1].as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        for (s, c) in sums.iter().zip(counts.iter()) {
            self.sum_ln += s.unwrap_or(0.0);
            self.count += c.unwrap_or(0);
        }
        Ok(())
    }
}
