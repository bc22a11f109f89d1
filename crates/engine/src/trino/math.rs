//! Trino's "Mathematical functions and operators" (`functions/math.md`) that DataFusion lacks or
//! reads otherwise: `mod`, `random`/`rand` with bounds, `width_bucket`, `from_base`, `to_base`,
//! `e`, `infinity`, `nan`, `is_finite`, `is_infinite`. (`truncate`, `ceiling`, `sign`, `is_nan` are
//! DataFusion's `trunc`, `ceil`, `signum`, `isnan` under Trino's names: `super::ALIASES`.)

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, StringArray,
};
use datafusion::arrow::compute::kernels::cast::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::{ScalarUDF, Signature, TypeSignature, Volatility};
use rand::Rng;

use super::args::{check, int64s, utf8};
use super::udf::Simple;

/// The functions of this family.
pub(super) fn functions() -> Vec<ScalarUDF> {
    vec![
        Simple::new("mod", &[2], mod_returns, modulo).udf(),
        Simple::with_signature(
            "random",
            Signature::one_of(
                vec![
                    TypeSignature::Nullary,
                    TypeSignature::Any(1),
                    TypeSignature::Any(2),
                ],
                Volatility::Volatile,
            ),
            random_returns,
            random,
        )
        .aliases(&["rand"])
        .udf(),
        Simple::new(
            "width_bucket",
            &[2, 4],
            |_| Ok(DataType::Int64),
            width_bucket,
        )
        .udf(),
        Simple::new(
            "from_base",
            &[2],
            |args| check("from_base", args, &[0]).map(|_| DataType::Int64),
            from_base,
        )
        .udf(),
        Simple::new(
            "to_base",
            &[2],
            |args| check("to_base", args, &[]).map(|_| DataType::Utf8),
            to_base,
        )
        .udf(),
        Simple::with_signature(
            "infinity",
            Signature::nullary(Volatility::Immutable),
            |_| Ok(DataType::Float64),
            |_, _| Ok(Arc::new(Float64Array::from(vec![f64::INFINITY]))),
        )
        .udf(),
        Simple::with_signature(
            "e",
            Signature::nullary(Volatility::Immutable),
            |_| Ok(DataType::Float64),
            |_, _| Ok(Arc::new(Float64Array::from(vec![std::f64::consts::E]))),
        )
        .udf(),
        Simple::with_signature(
            "nan",
            Signature::nullary(Volatility::Immutable),
            |_| Ok(DataType::Float64),
            |_, _| Ok(Arc::new(Float64Array::from(vec![f64::NAN]))),
        )
        .udf(),
        Simple::new(
            "is_finite",
            &[1],
            |_| Ok(DataType::Boolean),
            |a, _| floats(&a[0], f64::is_finite),
        )
        .udf(),
        Simple::new(
            "is_infinite",
            &[1],
            |_| Ok(DataType::Boolean),
            |a, _| floats(&a[0], f64::is_infinite),
        )
        .udf(),
    ]
}

fn floats(array: &ArrayRef, test: fn(f64) -> bool) -> DFResult<ArrayRef> {
    let values = cast(array, &DataType::Float64)?;
    let out: BooleanArray = values
        .as_primitive::<Float64Type>()
        .iter()
        .map(|v| v.map(test))
        .collect();
    Ok(Arc::new(out))
}

fn mod_returns(args: &[DataType]) -> DFResult<DataType> {
    match (&args[0], &args[1]) {
        (a, b) if (a.is_integer() || a.is_null()) && (b.is_integer() || b.is_null()) => {
            Ok(DataType::Int64)
        }
        (a, b) if (a.is_numeric() || a.is_null()) && (b.is_numeric() || b.is_null()) => {
            Ok(DataType::Float64)
        }
        (a, b) => plan_err!("mod() takes numbers, not {a} and {b}"),
    }
}

/// `mod(n, m)`: "Returns the modulus (remainder) of n divided by m" — with the sign of `n`.
fn modulo(args: &[ArrayRef], returns: &DataType) -> DFResult<ArrayRef> {
    if *returns == DataType::Int64 {
        let (n, m) = (int64s(&args[0])?, int64s(&args[1])?);
        let out = n
            .iter()
            .zip(m.iter())
            .map(|(n, m)| match (n, m) {
                (Some(_), Some(0)) => exec_err!("mod(): division by zero"),
                (Some(n), Some(m)) => Ok(Some(n.wrapping_rem(m))),
                _ => Ok(None),
            })
            .collect::<DFResult<Int64Array>>()?;
        return Ok(Arc::new(out));
    }
    let n = cast(&args[0], &DataType::Float64)?;
    let m = cast(&args[1], &DataType::Float64)?;
    let out: Float64Array = n
        .as_primitive::<Float64Type>()
        .iter()
        .zip(m.as_primitive::<Float64Type>().iter())
        .map(|(n, m)| Some(n? % m?))
        .collect();
    Ok(Arc::new(out))
}

fn random_returns(args: &[DataType]) -> DFResult<DataType> {
    match args {
        [] => Ok(DataType::Float64),
        args if args.iter().all(|t| t.is_integer() || t.is_null()) => Ok(DataType::Int64),
        args => plan_err!("random() takes integer bounds, not {args:?}"),
    }
}

/// `random()`: "a pseudo-random value in the range 0.0 <= x < 1.0"; `random(n)`: "between 0
/// and n (exclusive)"; `random(m, n)`: "between m and n (exclusive)".
fn random(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let mut rng = rand::rng();
    if args.is_empty() {
        return Ok(Arc::new(Float64Array::from(vec![rng.random::<f64>()])));
    }
    let (low, high) = match args {
        [n] => (None, int64s(n)?),
        [m, n] => (Some(int64s(m)?), int64s(n)?),
        _ => return exec_err!("random() takes at most two arguments"),
    };
    let out = (0..high.len())
        .map(|i| {
            let lo = match &low {
                Some(l) if l.is_null(i) => return Ok(None),
                Some(l) => l.value(i),
                None => 0,
            };
            if high.is_null(i) {
                return Ok(None);
            }
            let hi = high.value(i);
            if hi <= lo {
                return exec_err!("random(): the upper bound must be greater than the lower");
            }
            Ok(Some(rng.random_range(lo..hi)))
        })
        .collect::<DFResult<Int64Array>>()?;
    Ok(Arc::new(out))
}

/// `width_bucket(x, bound1, bound2, n)`: "the bin number of x in an equi-width histogram with
/// the specified bound1 and bound2 bounds and n number of buckets" (0 below, n + 1 above);
/// `width_bucket(x, bins)`: "the bin number of x according to the bins specified by the array
/// bins" (sorted ascending).
fn width_bucket(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let x = cast(&args[0], &DataType::Float64)?;
    let x = x.as_primitive::<Float64Type>();
    if let [_, bins] = args {
        let bins = cast(
            bins,
            &DataType::List(Arc::new(datafusion::arrow::datatypes::Field::new(
                "item",
                DataType::Float64,
                true,
            ))),
        )?;
        let bins = bins.as_list::<i32>();
        let out: Int64Array = (0..x.len())
            .map(|i| {
                if x.is_null(i) || bins.is_null(i) {
                    return None;
                }
                let edges = bins.value(i);
                let edges = edges.as_primitive::<Float64Type>();
                let v = x.value(i);
                Some(edges.values().iter().take_while(|&&e| e <= v).count() as i64)
            })
            .collect();
        return Ok(Arc::new(out));
    }
    let [b1, b2, n] = [&args[1], &args[2], &args[3]]
        .map(|a| cast(a, &DataType::Float64).map(|c| c.as_primitive::<Float64Type>().clone()));
    let (b1, b2, n) = (b1?, b2?, n?);
    let out = (0..x.len())
        .map(|i| {
            let (Some(v), Some(lo), Some(hi), Some(n)) = (
                x.is_valid(i).then(|| x.value(i)),
                b1.is_valid(i).then(|| b1.value(i)),
                b2.is_valid(i).then(|| b2.value(i)),
                n.is_valid(i).then(|| n.value(i)),
            ) else {
                return Ok(None);
            };
            if n <= 0.0 || lo == hi {
                return exec_err!("width_bucket(): need n > 0 buckets between different bounds");
            }
            let (below, above) = if lo < hi {
                (v < lo, v >= hi)
            } else {
                (v > lo, v <= hi)
            };
            Ok(Some(if below {
                0
            } else if above {
                n as i64 + 1
            } else {
                ((v - lo) / (hi - lo) * n).floor() as i64 + 1
            }))
        })
        .collect::<DFResult<Int64Array>>()?;
    Ok(Arc::new(out))
}

fn radix(value: i64) -> DFResult<u32> {
    match u32::try_from(value) {
        Ok(r @ 2..=36) => Ok(r),
        _ => exec_err!("radix must be between 2 and 36, not {value}"),
    }
}

/// `from_base(string, radix)`: "Returns the value of string interpreted as a base-radix
/// number."
fn from_base(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let text = utf8(&args[0])?;
    let radixes = int64s(&args[1])?;
    let out = text
        .as_string::<i32>()
        .iter()
        .zip(radixes.iter())
        .map(|(s, r)| match (s, r) {
            (Some(s), Some(r)) => i64::from_str_radix(s, radix(r)?)
                .map(Some)
                .or_else(|_| exec_err!("from_base(): '{s}' is not a base-{r} number")),
            _ => Ok(None),
        })
        .collect::<DFResult<Int64Array>>()?;
    Ok(Arc::new(out))
}

/// `to_base(x, radix)`: "Returns the base-radix representation of x."
fn to_base(args: &[ArrayRef], _: &DataType) -> DFResult<ArrayRef> {
    let (x, radixes) = (int64s(&args[0])?, int64s(&args[1])?);
    let out = x
        .iter()
        .zip(radixes.iter())
        .map(|(x, r)| match (x, r) {
            (Some(x), Some(r)) => Ok(Some(in_base(x, radix(r)?))),
            _ => Ok(None),
        })
        .collect::<DFResult<StringArray>>()?;
    Ok(Arc::new(out))
}

fn in_base(x: i64, radix: u32) -> String {
    let mut n = x.unsigned_abs();
    let mut digits = Vec::new();
    loop {
        digits.push(std::char::from_digit((n % u64::from(radix)) as u32, radix).unwrap_or('?'));
        n /= u64::from(radix);
        if n == 0 {
            break;
        }
    }
    if x < 0 {
        digits.push('-');
    }
    digits.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_round_trip() {
        assert_eq!(in_base(255, 16), "ff");
        assert_eq!(in_base(-10, 2), "-1010");
        assert_eq!(in_base(0, 36), "0");
        assert_eq!(i64::from_str_radix("ff", 16).unwrap(), 255);
    }
}
