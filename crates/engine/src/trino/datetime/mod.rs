//! Trino's "Date and time functions and operators" (`functions/datetime.md`): the convenience
//! extraction functions and `date`, `last_day_of_month` here; the interval functions
//! (`date_add`, `date_diff`) in `interval`; the MySQL date functions in `mysql`.
//!
//! Values of `timestamp with time zone` are read in their own zone, as Trino does.

mod convert;
mod interval;
mod mysql;
mod zone;

use std::sync::Arc;

use crate::trino::args::{answer, arrays};
use crate::trino::udf::Simple;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Array};
use datafusion::arrow::compute::kernels::cast::cast;
use datafusion::arrow::compute::kernels::temporal::{DatePart, date_part};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::plan_err;
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    Cast, ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The functions of this family.
pub(super) fn functions() -> Vec<ScalarUDF> {
    let mut all: Vec<ScalarUDF> = EXTRACTIONS
        .iter()
        .map(|&(name, aliases, part)| ScalarUDF::from(Extract::new(name, aliases, part)))
        .collect();
    all.push(ScalarUDF::from(ToDate::new()));
    all.push(last_day_of_month());
    all.extend(interval::functions());
    all.extend(mysql::functions());
    all.extend(zone::functions());
    all.extend(convert::functions());
    all
}

/// "Convenience extraction functions": each returns a `bigint` field of a date or timestamp.
const EXTRACTIONS: &[(&str, &[&str], DatePart)] = &[
    ("year", &[], DatePart::Year),
    ("quarter", &[], DatePart::Quarter),
    ("month", &[], DatePart::Month),
    // "Returns the ISO week of the year from x."
    ("week", &["week_of_year"], DatePart::WeekISO),
    // "Returns the year of the ISO week from x."
    ("year_of_week", &["yow"], DatePart::YearISO),
    ("day", &["day_of_month"], DatePart::Day),
    // "Returns the ISO day of the week from x. The value ranges from 1 (Monday) to 7 (Sunday)."
    ("day_of_week", &["dow"], DatePart::DayOfWeekMonday1),
    ("day_of_year", &["doy"], DatePart::DayOfYear),
    ("hour", &[], DatePart::Hour),
    ("minute", &[], DatePart::Minute),
    ("second", &[], DatePart::Second),
    // "Returns the millisecond of the second from x."
    ("millisecond", &[], DatePart::Millisecond),
];

/// Whether `ty` is a date or a timestamp, the types these functions read.
fn is_datetime(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
    )
}

/// `year(x)`, `month(x)`, `day_of_week(x)`, … (Trino: "Convenience extraction functions").
#[derive(Debug)]
struct Extract {
    name: &'static str,
    aliases: Vec<String>,
    part: DatePart,
    signature: Signature,
}

impl Extract {
    fn new(name: &'static str, aliases: &[&str], part: DatePart) -> Self {
        Self {
            name,
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            part,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

// A function is its name: arrow's `DatePart` does not hash.
impl PartialEq for Extract {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Extract {}

impl std::hash::Hash for Extract {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for Extract {
    fn name(&self) -> &str {
        self.name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DFResult<DataType> {
        match &args[0] {
            ty if is_datetime(ty) || ty.is_null() => Ok(DataType::Int64),
            ty => plan_err!("{}() takes a date or a timestamp, not {ty}", self.name),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let (mut arrays, scalar) = arrays(&args)?;
        let array = arrays.swap_remove(0);
        if array.data_type().is_null() {
            return answer(
                Arc::new(datafusion::arrow::array::Int64Array::new_null(array.len())),
                scalar,
            );
        }
        let parts = date_part(&array, self.part)?;
        answer(cast(&parts, &DataType::Int64)?, scalar)
    }
}

/// `date(x)`: "an alias for `CAST(x AS date)`" (Trino: "Date and time functions"). Rewritten to
/// the cast itself, so pruning and constant folding see a cast.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ToDate {
    signature: Signature,
}

impl ToDate {
    fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ToDate {
    fn name(&self) -> &str {
        "date"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Date32)
    }

    fn simplify(
        &self,
        mut args: Vec<Expr>,
        _info: &SimplifyContext,
    ) -> DFResult<ExprSimplifyResult> {
        let x = args.swap_remove(0);
        Ok(ExprSimplifyResult::Simplified(Expr::Cast(Cast::new(
            Box::new(x),
            DataType::Date32,
        ))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let (mut arrays, scalar) = arrays(&args)?;
        let array = arrays.swap_remove(0);
        answer(cast(&array, &DataType::Date32)?, scalar)
    }
}

/// `last_day_of_month(x)`: "Returns the last day of the month." (Trino: "Date and time
/// functions").
fn last_day_of_month() -> ScalarUDF {
    Simple::new(
        "last_day_of_month",
        &[1],
        |args| match &args[0] {
            ty if is_datetime(ty) || ty.is_null() => Ok(DataType::Date32),
            ty => plan_err!("last_day_of_month() takes a date or a timestamp, not {ty}"),
        },
        |args, _| {
            let dates = cast(&args[0], &DataType::Date32)?;
            let last: Date32Array = dates
                .as_primitive::<datafusion::arrow::datatypes::Date32Type>()
                .iter()
                .map(|day| day.and_then(interval::last_day_of_month))
                .collect();
            Ok(Arc::new(last) as ArrayRef)
        },
    )
    .udf()
}
