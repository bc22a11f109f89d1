//! Arguments in, answers out: every argument as an array, and an answer that is a scalar when
//! every argument was one (so constant expressions fold to constants).

use datafusion::arrow::array::ArrayRef;
use datafusion::common::ScalarValue;
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};

/// Every argument as an array of the batch's rows, and whether all were scalars.
pub(crate) fn arrays(args: &ScalarFunctionArgs) -> DFResult<(Vec<ArrayRef>, bool)> {
    let scalar = args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let arrays = args
        .args
        .iter()
        .map(|a| a.to_array(args.number_rows))
        .collect::<DFResult<Vec<_>>>()?;
    Ok((arrays, scalar))
}

/// `array` as the function's answer: its first value when every argument was a scalar.
pub(crate) fn answer(array: ArrayRef, scalar: bool) -> DFResult<ColumnarValue> {
    if scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &array, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(array))
    }
}
