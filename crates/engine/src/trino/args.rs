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

/// `array` as UTF-8 text (`Utf8`), to read with `.as_string::<i32>()`.
pub(crate) fn utf8(array: &ArrayRef) -> DFResult<ArrayRef> {
    Ok(datafusion::arrow::compute::kernels::cast::cast(
        array,
        &datafusion::arrow::datatypes::DataType::Utf8,
    )?)
}

/// `array` as 64-bit integers.
pub(crate) fn int64s(array: &ArrayRef) -> DFResult<datafusion::arrow::array::Int64Array> {
    use datafusion::arrow::array::AsArray;
    let ints = datafusion::arrow::compute::kernels::cast::cast(
        array,
        &datafusion::arrow::datatypes::DataType::Int64,
    )?;
    Ok(ints
        .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
        .clone())
}

/// Whether `ty` is text (or NULL, which every text argument accepts).
pub(crate) fn is_text(ty: &datafusion::arrow::datatypes::DataType) -> bool {
    use datafusion::arrow::datatypes::DataType;
    matches!(
        ty,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null
    )
}

/// A return type rule's check: every argument in `text` positions is text, every other is an
/// integer (or NULL).
pub(crate) fn check(
    name: &str,
    args: &[datafusion::arrow::datatypes::DataType],
    text: &[usize],
) -> DFResult<()> {
    for (i, ty) in args.iter().enumerate() {
        let ok = if text.contains(&i) {
            is_text(ty)
        } else {
            ty.is_integer() || ty.is_null()
        };
        if !ok {
            let wanted = if text.contains(&i) {
                "text"
            } else {
                "an integer"
            };
            return datafusion::common::plan_err!(
                "{name}(): argument {} must be {wanted}, not {ty}",
                i + 1
            );
        }
    }
    Ok(())
}
