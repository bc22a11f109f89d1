//! The lenient form of every scalar function, for Trino's `try(…)`: "Evaluate an expression and
//! handle certain types of errors by returning NULL" (Trino: "Conditional expressions").
//!
//! A lenient function runs its function over the whole batch; only when that fails does it run
//! row by row, and each row that fails is NULL. `syntax` rewrites the calls inside `try(…)` to
//! the lenient names.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, new_null_array};
use datafusion::arrow::compute::concat;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};

/// `function`, answering NULL for the rows where it fails.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Lenient {
    name: String,
    inner: Arc<ScalarUDF>,
}

impl Lenient {
    pub(crate) fn udf(name: String, inner: Arc<ScalarUDF>) -> ScalarUDF {
        ScalarUDF::from(Self { name, inner })
    }
}

impl ScalarUDFImpl for Lenient {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, args: &[DataType]) -> DFResult<DataType> {
        self.inner.return_type(args)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DFResult<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, args: &[DataType]) -> DFResult<Vec<DataType>> {
        self.inner.coerce_types(args)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let whole = ScalarFunctionArgs {
            args: args.args.clone(),
            arg_fields: args.arg_fields.clone(),
            number_rows: args.number_rows,
            return_field: Arc::clone(&args.return_field),
            config_options: Arc::clone(&args.config_options),
        };
        if let Ok(answer) = self.inner.invoke_with_args(whole) {
            return Ok(answer);
        }
        let returns = args.return_field.data_type();
        let rows = (0..args.number_rows)
            .map(|row| {
                let one = ScalarFunctionArgs {
                    args: args
                        .args
                        .iter()
                        .map(|a| match a {
                            ColumnarValue::Array(array) => {
                                ColumnarValue::Array(array.slice(row, 1))
                            }
                            scalar => scalar.clone(),
                        })
                        .collect(),
                    arg_fields: args.arg_fields.clone(),
                    number_rows: 1,
                    return_field: Arc::clone(&args.return_field),
                    config_options: Arc::clone(&args.config_options),
                };
                match self.inner.invoke_with_args(one) {
                    Ok(value) => value.to_array(1),
                    Err(_) => Ok(new_null_array(returns, 1)),
                }
            })
            .collect::<DFResult<Vec<ArrayRef>>>()?;
        let rows: Vec<&dyn datafusion::arrow::array::Array> =
            rows.iter().map(|a| a.as_ref()).collect();
        if rows.is_empty() {
            return Ok(ColumnarValue::Array(new_null_array(returns, 0)));
        }
        Ok(ColumnarValue::Array(concat(&rows)?))
    }
}
