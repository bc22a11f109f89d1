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
    if is_list(&types[0]) {
        return Ok(nested::array_has(array, element));
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
    if matches!(types[0], DataType::Map(..)) {
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
fn array_position(mut args: Vec<Expr>, _: &[DataType]) -> DFResult<Expr> {
    let element = args.pop().expect("two arguments");
    let x = args.pop().expect("two arguments");
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
/// default). Both ends are included.
fn sequence(mut args: Vec<Expr>, types: &[DataType]) -> DFResult<Expr> {
    let step = if args.len() == 3 {
        args.pop().expect("three arguments")
    } else if types[0].is_integer() {
        let stop = args[1].clone();
        let start = args[0].clone();
        Expr::Case(datafusion::logical_expr::Case {
            expr: None,
            when_then_expr: vec![(Box::new(stop.lt(start)), Box::new(lit(-1i64)))],
            else_expr: Some(Box::new(lit(1i64))),
        })
    } else {
        lit(ScalarValue::new_interval_mdn(0, 1, 0))
    };
    let stop = args.pop().expect("two arguments");
    let start = args.pop().expect("two arguments");
    let (start, stop) = match &types[0] {
        DataType::Date64 => (
            datafusion::logical_expr::cast(start, DataType::Date32),
            datafusion::logical_expr::cast(stop, DataType::Date32),
        ),
        _ => (start, stop),
    };
    Ok(nested::gen_series(start, stop, step))
}
