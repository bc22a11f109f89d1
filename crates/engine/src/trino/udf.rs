//! One shape for the many Trino functions that are a name, a signature, a return type worked out
//! from the argument types, and a kernel over whole arrays: `Simple` holds those four, so each
//! function is its kernel and nothing else.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{answer, arrays};

/// The return type of a function, from its argument types (an error names what is wrong).
pub(crate) type Returns = fn(&[DataType]) -> DFResult<DataType>;

/// A function's kernel: the arguments as arrays of the batch's rows, and the return type.
pub(crate) type Kernel = fn(&[ArrayRef], &DataType) -> DFResult<ArrayRef>;

/// A scalar function made of a name, a signature, a return type rule and a kernel.
#[derive(Debug)]
pub(crate) struct Simple {
    name: &'static str,
    aliases: Vec<String>,
    signature: Signature,
    returns: Returns,
    kernel: Kernel,
    fixed: Option<DataType>,
}

impl Simple {
    /// An immutable function taking any types in `arity` (checked by `returns`).
    pub(crate) fn new(
        name: &'static str,
        arity: &[usize],
        returns: Returns,
        kernel: Kernel,
    ) -> Self {
        let signature = match arity {
            [n] => Signature::any(*n, Volatility::Immutable),
            many => Signature::one_of(
                many.iter()
                    .map(|&n| datafusion::logical_expr::TypeSignature::Any(n))
                    .collect(),
                Volatility::Immutable,
            ),
        };
        Self::with_signature(name, signature, returns, kernel)
    }

    /// A function with its own signature (its coercions, its volatility).
    pub(crate) fn with_signature(
        name: &'static str,
        signature: Signature,
        returns: Returns,
        kernel: Kernel,
    ) -> Self {
        Self {
            name,
            aliases: Vec::new(),
            signature,
            returns,
            kernel,
            fixed: None,
        }
    }

    /// The same function with a fixed return type (for a function built for one call).
    pub(crate) fn returning(mut self, ty: DataType) -> Self {
        self.fixed = Some(ty);
        self
    }

    /// The same function under more names.
    pub(crate) fn aliases(mut self, names: &[&str]) -> Self {
        self.aliases = names.iter().map(|n| n.to_string()).collect();
        self
    }

    pub(crate) fn udf(self) -> ScalarUDF {
        ScalarUDF::from(self)
    }
}

// A function is its name (and its fixed type): two functions of one name are one function.
impl PartialEq for Simple {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.fixed == other.fixed
    }
}

impl Eq for Simple {}

impl std::hash::Hash for Simple {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for Simple {
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
        match &self.fixed {
            Some(ty) => Ok(ty.clone()),
            None => (self.returns)(args),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let returns = args.return_field.data_type().clone();
        let (arrays, scalar) = arrays(&args)?;
        let out = (self.kernel)(&arrays, &returns)?;
        answer(out, scalar)
    }
}

/// A function under exactly the names given: DataFusion's functions carry aliases that Trino's
/// functions take over (`element_at` is an alias of `map_extract`), and a session rebuilt from
/// its functions registers each under its name and aliases in no fixed order, so no two
/// functions may claim one name. Everything else is the inner function's.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Registered {
    name: String,
    aliases: Vec<String>,
    inner: Arc<ScalarUDF>,
}

impl Registered {
    pub(crate) fn udf(name: String, aliases: Vec<String>, inner: Arc<ScalarUDF>) -> ScalarUDF {
        ScalarUDF::from(Self {
            name,
            aliases,
            inner,
        })
    }

    fn of(&self) -> &dyn ScalarUDFImpl {
        self.inner.inner().as_ref()
    }
}

impl ScalarUDFImpl for Registered {
    fn name(&self) -> &str {
        &self.name
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn schema_name(&self, args: &[datafusion::logical_expr::Expr]) -> DFResult<String> {
        self.of().schema_name(args)
    }
    fn signature(&self) -> &Signature {
        self.of().signature()
    }
    fn return_type(&self, args: &[DataType]) -> DFResult<DataType> {
        self.of().return_type(args)
    }
    fn with_updated_config(&self, config: &datafusion::config::ConfigOptions) -> Option<ScalarUDF> {
        self.of().with_updated_config(config)
    }
    fn return_field_from_args(
        &self,
        args: datafusion::logical_expr::ReturnFieldArgs,
    ) -> DFResult<datafusion::arrow::datatypes::FieldRef> {
        self.of().return_field_from_args(args)
    }
    fn is_strict(&self) -> bool {
        self.of().is_strict()
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        self.of().invoke_with_args(args)
    }
    fn simplify(
        &self,
        args: Vec<datafusion::logical_expr::Expr>,
        info: &datafusion::logical_expr::simplify::SimplifyContext,
    ) -> DFResult<datafusion::logical_expr::simplify::ExprSimplifyResult> {
        self.of().simplify(args, info)
    }
    fn short_circuits(&self) -> bool {
        self.of().short_circuits()
    }
    fn evaluate_bounds(
        &self,
        input: &[&datafusion::logical_expr::interval_arithmetic::Interval],
    ) -> DFResult<datafusion::logical_expr::interval_arithmetic::Interval> {
        self.of().evaluate_bounds(input)
    }
    fn propagate_constraints(
        &self,
        interval: &datafusion::logical_expr::interval_arithmetic::Interval,
        inputs: &[&datafusion::logical_expr::interval_arithmetic::Interval],
    ) -> DFResult<Option<Vec<datafusion::logical_expr::interval_arithmetic::Interval>>> {
        self.of().propagate_constraints(interval, inputs)
    }
    fn output_ordering(
        &self,
        inputs: &[datafusion::logical_expr::sort_properties::ExprProperties],
    ) -> DFResult<datafusion::logical_expr::sort_properties::SortProperties> {
        self.of().output_ordering(inputs)
    }
    fn preserves_lex_ordering(
        &self,
        inputs: &[datafusion::logical_expr::sort_properties::ExprProperties],
    ) -> DFResult<bool> {
        self.of().preserves_lex_ordering(inputs)
    }
    fn coerce_types(&self, args: &[DataType]) -> DFResult<Vec<DataType>> {
        self.of().coerce_types(args)
    }
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        self.of().documentation()
    }
}
