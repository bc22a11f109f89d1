//! Trino's "Array functions and operators" and "Map functions and operators"
//! (`functions/array.md`, `functions/map.md`) whose names DataFusion uses for something else, or
//! does not use: `contains`, `element_at` on maps, `reverse` and `concat` on arrays,
//! `array_position` (0 when absent), `slice`, `sequence`. Each is an `Overload`: typed here,
//! then rewritten during simplification to DataFusion's array functions, which do the work.
//! The rest (`cardinality`, `array_distinct`, `array_join`, `array_max`, `map_keys`, …) are
//! DataFusion's under the same names, or aliases registered in `super::ALIASES`.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, plan_err};
use datafusion::error::Result as DFResult;
use datafusion::functions_nested::expr_fn as nested;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, lit,
};

/// The functions of this family.
pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![
        Overload::udf("contains", &[2], contains_returns, contains),
        Overload::udf("element_at", &[2], element_at_returns, element_at),
        Overload::udf("reverse", &[1], same_as_first, reverse),
        Overload::udf("array_position", &[2], position_returns, array_position),
        Overload::udf("slice", &[3], same_as_first, slice),
        Overload::udf("sequence", &[2, 3], sequence_returns, sequence),
        Overload::udf("array_first", &[1], element_returns, |mut a, _| {
            // "Returns the first element of an array", NULL when it is empty.
            Ok(nested::array_element(a.remove(0), lit(1i64)))
        }),
        Overload::udf("array_last", &[1], element_returns, |mut a, _| {
            Ok(nested::array_element(a.remove(0), lit(-1i64)))
        }),
        Overload::udf("trim_array", &[2], same_as_first, |mut a, _| {
            // "Remove n elements from the end of array."
            let n = a.pop().expect("two arguments");
            let x = a.pop().expect("two arguments");
            let end = lit(-1i64) - n;
            Ok(nested::array_slice(x, lit(1i64), end, None))
        }),
        Overload::udf("array_sort", &[1], same_as_first, |mut a, _| {
            // "Null elements will be placed at the end of the returned array."
            Ok(nested::array_sort(
                a.remove(0),
                lit("ASC"),
                lit("NULLS LAST"),
            ))
        }),
        Overload::udf("repeat", &[2], repeat_returns, |mut a, _| {
            // "Repeat element for count times" — an array (DataFusion's repeat makes text).
            let count = a.pop().expect("two arguments");
            let element = a.pop().expect("two arguments");
            Ok(nested::array_repeat(element, count))
        }),
    ]
}

type Returns = fn(&[DataType]) -> DFResult<DataType>;
type Rewrite = fn(Vec<Expr>, &[DataType]) -> DFResult<Expr>;

/// A Trino function typed from its arguments and carried out by DataFusion expressions.
#[derive(Debug)]
struct Overload {
    name: &'static str,
    signature: Signature,
    returns: Returns,
    rewrite: Rewrite,
}

impl Overload {
    fn udf(name: &'static str, arity: &[usize], returns: Returns, rewrite: Rewrite) -> ScalarUDF {
        let signature = Signature::one_of(
            arity
                .iter()
                .map(|&n| datafusion::logical_expr::TypeSignature::Any(n))
                .collect(),
            Volatility::Immutable,
        );
        ScalarUDF::from(Self {
            name,
            signature,
            returns,
            rewrite,
        })
    }
}

impl PartialEq for Overload {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Overload {}

impl std::hash::Hash for Overload {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for Overload {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DFResult<DataType> {
        (self.returns)(args)
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> DFResult<ExprSimplifyResult> {
        let types = args
            .iter()
            .map(|a| info.get_data_type(a))
            .collect::<DFResult<Vec<_>>>()?;
        Ok(ExprSimplifyResult::Simplified((self.rewrite)(
            args, &types,
        )?))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        // Reached only where the optimizer did not simplify (never in a planned query).
        datafusion::common::exec_err!("{}() must be simplified before it runs", self.name)
    }
}

fn is_list(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
    )
}

fn element_type(ty: &DataType) -> Option<DataType> {
    match ty {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            Some(f.data_type().clone())
        }
        _ => None,
    }
}

fn element_returns(args: &[DataType]) -> DFResult<DataType> {
    match element_type(&args[0]) {
        Some(item) => Ok(item),
        None => plan_err!("takes an array, not {}", args[0]),
    }
}

fn repeat_returns(args: &[DataType]) -> DFResult<DataType> {
    Ok(DataType::List(std::sync::Arc::new(
        datafusion::arrow::datatypes::Field::new("item", args[0].clone(), true),
    )))
}

/// `value` (of type `ty`) as the type it is compared with, when the two are text or numbers of
/// different kinds (a `varchar` literal and a `Utf8View` column): DataFusion's array and map
/// functions compare values of one type only.
fn like(value: Expr, ty: &DataType, wanted: &DataType) -> Expr {
    if ty == wanted || ty.is_null() {
        return value;
    }
    datafusion::logical_expr::cast(value, wanted.clone())
}

fn same_as_first(args: &[DataType]) -> DFResult<DataType> {
    Ok(args[0].clone())
}

fn contains_returns(args: &[DataType]) -> DFResult<DataType> {
    match &args[0] {
        ty if is_list(ty) || ty.is_null() => Ok(DataType::Boolean),
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => Ok(DataType::Boolean),
        other => plan_err!("contains(x, element) takes an array, not {other}"),
    }
}

/// `contains(x, element)`: "Returns true if the array x contains the element." (On text,
/// DataFusion's meaning is kept: whether the second text is in the first.)
fn contains(mut args: Vec<Expr>, types: &[DataType]) -> DFResult<Expr> {
    let element = args.pop().expect("two arguments");
    let array = args.pop().expect("two arguments");
    if let Some(item) = element_type(&types[0]) {
        return Ok(nested::array_has(array, like(element, &types[1], &item)));
    }
    Ok(datafusion::functions::expr_fn::contains(array, element))
}

fn element_at_returns(args: &[DataType]) -> DFResult<DataType> {
    match &args[0] {
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(fields) if fields.len() == 2 => Ok(fields[1].data_type().clone()),
            _ => plan_err!("element_at(): a map without keys and values"),
        },
        ty => match element_type(ty) {
            Some(item) => Ok(item),
            None => plan_err!("element_at() takes an array or a map, not {ty}"),
        },
    }
}

/// `element_at(array, index)`: "Returns element of array at given index. If index > 0, …
/// counts from the first; if index < 0, from the last. NULL when beyond the array." And
/// `element_at(map, key)`: "Returns value for given key, or NULL if the key is not contained in
/// the map."
fn element_at(mut args: Vec<Expr>, types: &[DataType]) -> DFResult<Expr> {
    let key = args.pop().expect("two arguments");
    let x = args.pop().expect("two arguments");
    if let DataType::Map(entries, _) = &types[0] {
        let key = match entries.data_type() {
            DataType::Struct(fields) if !fields.is_empty() => {
                like(key, &types[1], fields[0].data_type())
            }
            _ => key,
        };
        return Ok(nested::array_element(
            nested::map_extract(x, key),
            lit(1i64),
        ));
    }
    Ok(nested::array_element(x, key))
}

/// `reverse(x)`: text reversed, or "Returns an array which has the reversed order of array x."
fn reverse(mut args: Vec<Expr>, types: &[DataType]) -> DFResult<Expr> {
    let x = args.pop().expect("one argument");
    if is_list(&types[0]) {
        return Ok(nested::array_reverse(x));
    }
    Ok(datafusion::functions::expr_fn::reverse(x))
}

fn position_returns(args: &[DataType]) -> DFResult<DataType> {
    match &args[0] {
        ty if is_list(ty) || ty.is_null() => Ok(DataType::UInt64),
        other => plan_err!("array_position() takes an array, not {other}"),
    }
}

/// `array_position(x, element)`: "Returns the position of the first occurrence of the element in
/// array x (or 0 if not found)." (DataFusion answers NULL when not found.)
fn array_position(mut args: Vec<Expr>, types: &[DataType]) -> DFResult<Expr> {
    let element = args.pop().expect("two arguments");
    let x = args.pop().expect("two arguments");
    let element = match element_type(&types[0]) {
        Some(item) => like(element, &types[1], &item),
        None => element,
    };
    let found = nested::array_position(x.clone(), element, lit(1i64));
    // NULL only for a NULL array; 0 for an element not found.
    Ok(Expr::Case(datafusion::logical_expr::Case {
        expr: None,
        when_then_expr: vec![(
            Box::new(x.is_null()),
            Box::new(lit(ScalarValue::UInt64(None))),
        )],
        else_expr: Some(Box::new(datafusion::functions::expr_fn::coalesce(vec![
            found,
            lit(0u64),
        ]))),
    }))
}

/// `slice(x, start, length)`: "Subsets array x starting from index start (or starting from the
/// end if start is negative) with a length of length."
fn slice(mut args: Vec<Expr>, _: &[DataType]) -> DFResult<Expr> {
    let length = args.pop().expect("three arguments");
    let start = args.pop().expect("three arguments");
    let x = args.pop().expect("three arguments");
    // DataFusion's array_slice takes an inclusive end index.
    let end = start.clone() + length - lit(1i64);
    Ok(nested::array_slice(x, start, end, None))
}

fn sequence_returns(args: &[DataType]) -> DFResult<DataType> {
    let item = match &args[0] {
        ty if ty.is_integer() => DataType::Int64,
        DataType::Date32 | DataType::Date64 => DataType::Date32,
        ty @ DataType::Timestamp(..) => ty.clone(),
        other => return plan_err!("sequence() takes integers, dates or timestamps, not {other}"),
    };
    Ok(DataType::List(std::sync::Arc::new(
        datafusion::arrow::datatypes::Field::new("item", item, true),
    )))
}

/// `sequence(start, stop[, step])`: "Generate a sequence of integers from start to stop,
/// incrementing by step" (1, or -1 when stop is smaller), or of dates and timestamps (a day by
/// default). Both ends are included. A month step counts from `start` each time (Jan 31 + 1
/// month is Feb 29, + 2 months is Mar 31), as Trino does.
fn sequence(mut args: Vec<Expr>, types: &[DataType]) -> DFResult<Expr> {
    if !types[0].is_integer() {
        if args.len() == 2 {
            args.push(lit(ScalarValue::new_interval_mdn(0, 1, 0)));
        }
        let returns = sequence_returns(types)?;
        let udf = super::udf::Simple::new("sequence", &[3], |_| Ok(DataType::Null), times)
            .returning(returns)
            .udf();
        return Ok(Expr::ScalarFunction(
            datafusion::logical_expr::expr::ScalarFunction::new_udf(std::sync::Arc::new(udf), args),
        ));
    }
    let step = if args.len() == 3 {
        args.pop().expect("three arguments")
    } else {
        let stop = args[1].clone();
        let start = args[0].clone();
        Expr::Case(datafusion::logical_expr::Case {
            expr: None,
            when_then_expr: vec![(Box::new(stop.lt(start)), Box::new(lit(-1i64)))],
            else_expr: Some(Box::new(lit(1i64))),
        })
    };
    let stop = args.pop().expect("two arguments");
    let start = args.pop().expect("two arguments");
    Ok(nested::gen_series(start, stop, step))
}

/// "The result of sequence function must not have more than 10000 entries" (Trino's limit).
const MAX_SEQUENCE: usize = 10_000;

/// The kernel of `sequence` over dates and timestamps: `start + k * step` for k = 0, 1, …
fn times(
    args: &[datafusion::arrow::array::ArrayRef],
    returns: &DataType,
) -> DFResult<datafusion::arrow::array::ArrayRef> {
    use chrono::{DateTime, Months, TimeDelta};
    use datafusion::arrow::array::{Array, AsArray, ListArray, TimestampMicrosecondArray};
    use datafusion::arrow::compute::kernels::cast::cast;
    use datafusion::arrow::datatypes::{
        IntervalMonthDayNanoType, IntervalUnit, TimeUnit, TimestampMicrosecondType,
    };
    let DataType::List(item) = returns else {
        return datafusion::common::exec_err!("sequence(): the answer is an array");
    };
    let micros = |a| cast(a, &DataType::Timestamp(TimeUnit::Microsecond, None));
    let (start, stop) = (micros(&args[0])?, micros(&args[1])?);
    let (start, stop) = (
        start.as_primitive::<TimestampMicrosecondType>(),
        stop.as_primitive::<TimestampMicrosecondType>(),
    );
    let step = cast(&args[2], &DataType::Interval(IntervalUnit::MonthDayNano))?;
    let step = step.as_primitive::<IntervalMonthDayNanoType>();
    let mut values: Vec<Option<i64>> = Vec::new();
    let mut offsets = vec![0i32];
    let mut valid = Vec::new();
    for row in 0..start.len() {
        if start.is_null(row) || stop.is_null(row) || step.is_null(row) {
            valid.push(false);
            offsets.push(values.len() as i32);
            continue;
        }
        let at = |v: i64| DateTime::from_timestamp_micros(v).map(|t| t.naive_utc());
        let (Some(first), Some(last)) = (at(start.value(row)), at(stop.value(row))) else {
            return datafusion::common::exec_err!("sequence(): a time out of range");
        };
        let step = step.value(row);
        let fixed =
            TimeDelta::days(i64::from(step.days)) + TimeDelta::nanoseconds(step.nanoseconds);
        let forward = step.months > 0 || (step.months == 0 && fixed > TimeDelta::zero());
        if step.months == 0 && fixed.is_zero() {
            return datafusion::common::exec_err!("sequence(): the step must not be zero");
        }
        if (forward && first > last) || (!forward && first < last) {
            return datafusion::common::exec_err!("sequence(): the step goes away from stop");
        }
        for k in 0.. {
            if k == MAX_SEQUENCE {
                return datafusion::common::exec_err!(
                    "sequence(): more than {MAX_SEQUENCE} entries"
                );
            }
            let months = i64::from(step.months) * k as i64;
            let shifted = match months {
                0 => Some(first),
                m if m > 0 => first.checked_add_months(Months::new(m as u32)),
                m => first.checked_sub_months(Months::new((-m) as u32)),
            };
            let Some(value) = shifted.and_then(|t| t.checked_add_signed(fixed * k as i32)) else {
                break;
            };
            if (forward && value > last) || (!forward && value < last) {
                break;
            }
            values.push(Some(value.and_utc().timestamp_micros()));
        }
        valid.push(true);
        offsets.push(values.len() as i32);
    }
    let values: datafusion::arrow::array::ArrayRef =
        std::sync::Arc::new(TimestampMicrosecondArray::from(values));
    let values = cast(&values, item.data_type())?;
    Ok(std::sync::Arc::new(ListArray::try_new(
        std::sync::Arc::clone(item),
        datafusion::arrow::buffer::OffsetBuffer::new(offsets.into()),
        values,
        Some(valid.into()),
    )?))
}
