//! Trino's MySQL date functions ("Date and time functions", section "MySQL date functions").

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, plan_err};
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// The functions of this section.
pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![ScalarUDF::from(DateFormat::new())]
}

/// Athena's `date_format(timestamp, format)` with MySQL's specifiers (`%Y/%m/%d/%H`, `%i` for
/// minutes), as DataFusion's `to_char` with chrono's. Rewritten to `to_char` during
/// simplification, so that `date_format(now() - interval '1' hour, '%Y/%m/%d/%H')` folds to a
/// literal before partitions are chosen.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DateFormat {
    signature: Signature,
}

impl DateFormat {
    fn new() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

/// MySQL `date_format` specifiers as chrono's.
pub(super) fn chrono_format(mysql: &str) -> String {
    let mut out = String::with_capacity(mysql.len());
    let mut chars = mysql.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let spec = match chars.next() {
            Some('Y') => "%Y",
            Some('y') => "%y",
            Some('m') => "%m",
            Some('c') => "%-m",
            Some('d') => "%d",
            Some('e') => "%-d",
            Some('H') => "%H",
            Some('k') => "%-H",
            Some('h' | 'I') => "%I",
            Some('l') => "%-I",
            Some('i') => "%M",
            Some('s' | 'S') => "%S",
            Some('f') => "%6f",
            Some('p') => "%p",
            Some('j') => "%j",
            Some('M') => "%B",
            Some('b') => "%b",
            Some('W') => "%A",
            Some('a') => "%a",
            Some('T') => "%H:%M:%S",
            Some('r') => "%I:%M:%S %p",
            Some('%') | None => "%%",
            Some(other) => {
                // Not a specifier chrono shares: keep the text as written.
                out.push_str("%%");
                out.push(other);
                continue;
            }
        };
        out.push_str(spec);
    }
    out
}

fn literal_format(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(f))
            | ScalarValue::LargeUtf8(Some(f))
            | ScalarValue::Utf8View(Some(f)),
            _,
        ) => Some(f.clone()),
        _ => None,
    }
}

impl ScalarUDFImpl for DateFormat {
    fn name(&self) -> &str {
        "date_format"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn simplify(
        &self,
        mut args: Vec<Expr>,
        _info: &SimplifyContext,
    ) -> DFResult<ExprSimplifyResult> {
        let Some(format) = args.get(1).and_then(literal_format) else {
            return Ok(ExprSimplifyResult::Original(args));
        };
        let datetime = args.swap_remove(0);
        Ok(ExprSimplifyResult::Simplified(
            datafusion::functions::expr_fn::to_char(
                datetime,
                Expr::Literal(ScalarValue::Utf8(Some(chrono_format(&format))), None),
            ),
        ))
    }

    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        match args.args.get_mut(1) {
            Some(ColumnarValue::Scalar(
                ScalarValue::Utf8(Some(f))
                | ScalarValue::LargeUtf8(Some(f))
                | ScalarValue::Utf8View(Some(f)),
            )) => {
                *f = chrono_format(f);
            }
            _ => return plan_err!("date_format needs a constant format string"),
        }
        Arc::clone(&datafusion::functions::datetime::to_char()).invoke_with_args(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_specifiers_become_chrono_ones() {
        assert_eq!(chrono_format("%Y/%m/%d/%H"), "%Y/%m/%d/%H");
        assert_eq!(chrono_format("%Y-%m-%d %H:%i:%s"), "%Y-%m-%d %H:%M:%S");
        assert_eq!(chrono_format("100%% %Q"), "100%% %%Q");
    }
}
