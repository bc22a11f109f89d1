//! A table: where its files are, how they are stored, its columns and its partitioning.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::column::Column;
use crate::domain::{Domain, PartitionFilter};
use crate::error::ValueError;
use crate::layout::Layout;
use crate::location::Location;
use crate::partition::{Partition, hive_prefix};
use crate::projection::{Projection, PropertyProblem};
use crate::types::ColumnType;
use crate::value::Value;

/// The database a table belongs to when a name does not say (Athena's default).
pub const DEFAULT_DATABASE: &str = "default";

/// How a table's files are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Apache Parquet.
    Parquet,
    /// JSON lines, one object per line.
    Json,
    /// Comma-separated values.
    Csv,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "parquet" => Ok(Self::Parquet),
            "json" => Ok(Self::Json),
            "csv" => Ok(Self::Csv),
            other => Err(format!(
                "unknown format '{other}' (expected parquet, json or csv)"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Parquet => "parquet",
            Self::Json => "json",
            Self::Csv => "csv",
        })
    }
}

/// How rows are encoded in a text table's files: Hive's SerDe (serializer/deserializer) class
/// and its properties, kept as written so that `SHOW CREATE TABLE` gives them back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Serde {
    /// The SerDe class (`org.openx.data.jsonserde.JsonSerDe`, `…LazySimpleSerDe`, …).
    pub library: String,
    /// `WITH SERDEPROPERTIES (…)`: `field.delim`, `separatorChar`, `quoteChar`, …
    pub properties: BTreeMap<String, String>,
}

impl Serde {
    /// Athena's SerDe for JSON lines.
    pub const JSON: &str = "org.openx.data.jsonserde.JsonSerDe";
    /// Hive's delimited-text SerDe (`ROW FORMAT DELIMITED`).
    pub const LAZY_SIMPLE: &str = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe";
    /// Athena's SerDe for quoted CSV.
    pub const OPEN_CSV: &str = "org.apache.hadoop.hive.serde2.OpenCSVSerde";

    fn is_open_csv(&self) -> bool {
        self.library.ends_with("OpenCSVSerde")
    }
}

/// What a table is declared as: its name, location, format, columns, properties and SerDe.
///
/// Plain data: any combination can be written down, and [`Table::new`] says whether it makes a
/// table. What is derived from it (partition projection) and what is found about it (its
/// registered partitions) live only in [`Table`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    /// The database (a directory of the catalog).
    pub database: String,
    /// The table's name (its file's stem).
    pub name: String,
    /// Where its files are.
    pub location: Location,
    /// How its files are encoded.
    pub format: Format,
    /// Declared data columns; `None` means they are read from the first data file.
    pub columns: Option<Vec<Column>>,
    /// Partition columns, outermost directory level first.
    pub partition_columns: Vec<Column>,
    /// Free-form table properties (Athena's TBLPROPERTIES), kept verbatim.
    pub properties: BTreeMap<String, String>,
    /// Free text for people.
    pub comment: Option<String>,
    /// The SerDe of a text (JSON or CSV) table, when one was declared.
    pub serde: Option<Serde>,
}

impl TableDefinition {
    /// `database.name`.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.database, self.name)
    }

    /// A table of `format` at `location` with no columns declared, no partitions, properties
    /// or SerDe: the fields say the rest.
    pub fn new(database: &str, name: &str, location: Location, format: Format) -> Self {
        Self {
            database: database.to_string(),
            name: name.to_string(),
            location,
            format,
            columns: None,
            partition_columns: Vec::new(),
            properties: BTreeMap::new(),
            comment: None,
            serde: None,
        }
    }
}

/// Why a definition does not make a table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DefinitionError {
    /// Two columns (data or partition) share a name.
    #[error("column '{column}' is declared twice")]
    DuplicateColumn {
        /// The name.
        column: String,
    },
    /// A partition column of a type that cannot be spelled in a path.
    #[error(
        "partition column '{column}' has type {ty}: partition columns must be string, an integer type, date or boolean"
    )]
    PartitionType {
        /// The column.
        column: String,
        /// Its type.
        ty: ColumnType,
    },
    /// A property Minerva reads (`max_scan`, `projection.*`, …) whose value it cannot use.
    #[error("property '{property}': {message}")]
    Property {
        /// The property.
        property: String,
        /// What is wrong with its value.
        message: String,
    },
}

/// A table in the catalog: a checked [`TableDefinition`], its partition projection (derived from
/// its properties) and its registered partitions, if any. Built only by [`Table::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    definition: TableDefinition,
    projection: Option<Projection>,
    registry: Option<Arc<Vec<Partition>>>,
}

impl Table {
    /// Checks `definition` (distinct column names, partition column types, the values of the
    /// properties Minerva reads) and derives its partition projection. `base` anchors relative
    /// locations in `storage.location.template`.
    pub fn new(definition: TableDefinition, base: &Path) -> Result<Self, DefinitionError> {
        let mut seen = std::collections::HashSet::new();
        let all_columns = definition.columns.iter().flatten();
        for column in all_columns.chain(&definition.partition_columns) {
            if !seen.insert(column.name.as_str()) {
                return Err(DefinitionError::DuplicateColumn {
                    column: column.name.clone(),
                });
            }
        }
        if let Some(column) = definition
            .partition_columns
            .iter()
            .find(|c| !c.ty.is_partition_type())
        {
            return Err(DefinitionError::PartitionType {
                column: column.name.clone(),
                ty: column.ty.clone(),
            });
        }
        let checks = [
            (
                MAX_SCAN,
                check_byte_size as fn(&str) -> Result<(), ValueError>,
            ),
            (REQUIRE_PARTITION_FILTER, check_bool),
        ];
        for (property, check) in checks {
            if let Some(value) = definition.properties.get(property) {
                check(value).map_err(|e| DefinitionError::Property {
                    property: property.to_string(),
                    message: e.to_string(),
                })?;
            }
        }
        let projection = Projection::from_properties(
            &definition.properties,
            &definition.partition_columns,
            &definition.location,
            base,
        )
        .map_err(
            |PropertyProblem { property, message }| DefinitionError::Property { property, message },
        )?;
        Ok(Self {
            definition,
            projection,
            registry: None,
        })
    }

    /// The table with `partitions` as its registered partitions (`MSCK REPAIR TABLE`, `ALTER
    /// TABLE … ADD PARTITION`): its partitions are then these, not what a listing finds.
    pub fn with_registry(mut self, partitions: Vec<Partition>) -> Self {
        self.registry = Some(Arc::new(partitions));
        self
    }

    /// What the table was declared as.
    pub fn definition(&self) -> &TableDefinition {
        &self.definition
    }

    /// The database (a directory of the catalog).
    pub fn database(&self) -> &str {
        &self.definition.database
    }

    /// The table's name (its file's stem).
    pub fn name(&self) -> &str {
        &self.definition.name
    }

    /// Where its files are.
    pub fn location(&self) -> &Location {
        &self.definition.location
    }

    /// How its files are encoded.
    pub fn format(&self) -> Format {
        self.definition.format
    }

    /// Declared data columns; `None` means they are read from the first data file.
    pub fn columns(&self) -> Option<&[Column]> {
        self.definition.columns.as_deref()
    }

    /// Partition columns, outermost directory level first.
    pub fn partition_columns(&self) -> &[Column] {
        &self.definition.partition_columns
    }

    /// Free-form table properties (Athena's TBLPROPERTIES), kept verbatim.
    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.definition.properties
    }

    /// Free text for people.
    pub fn comment(&self) -> Option<&str> {
        self.definition.comment.as_deref()
    }

    /// The SerDe of a text (JSON or CSV) table, when one was declared.
    pub fn serde(&self) -> Option<&Serde> {
        self.definition.serde.as_ref()
    }

    /// Partition projection (`projection.enabled = true`): partitions are computed, not listed.
    pub fn projection(&self) -> Option<&Projection> {
        self.projection.as_ref()
    }

    /// Registered partitions, when the table has a registry.
    pub fn registry(&self) -> Option<&Arc<Vec<Partition>>> {
        self.registry.as_ref()
    }

    /// `database.name`.
    pub fn qualified_name(&self) -> String {
        self.definition.qualified_name()
    }

    /// The table's name, location and partition columns.
    pub fn layout(&self) -> Layout<'_> {
        Layout {
            database: &self.definition.database,
            name: &self.definition.name,
            location: &self.definition.location,
            partition_columns: &self.definition.partition_columns,
        }
    }

    /// Where a partition with these values lives in the table's Hive layout:
    /// `<location>/k1=v1/k2=v2`.
    pub(crate) fn hive_prefix(&self, values: &[Value]) -> object_store::path::Path {
        hive_prefix(
            self.definition.location.prefix(),
            &self.definition.partition_columns,
            values,
        )
    }

    /// The partition a write of rows with partition values `values` goes to: the prefix the
    /// projection's template names (failing when the projection never yields those values),
    /// the registered location, or the Hive directory under the table's location.
    pub fn write_partition(
        &self,
        values: &[Value],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Partition, crate::error::CatalogError> {
        if let Some(projection) = &self.projection
            && !self.definition.partition_columns.is_empty()
        {
            let mut filter = PartitionFilter::all();
            for (column, value) in self.definition.partition_columns.iter().zip(values) {
                filter.and(&column.name, Domain::point(value.clone()));
            }
            return projection
                .partitions(&self.layout(), &filter, now)?
                .into_iter()
                .find(|p| p.values == values)
                .ok_or_else(|| crate::error::CatalogError::NotProjected {
                    table: self.qualified_name(),
                    partition: self
                        .definition
                        .partition_columns
                        .iter()
                        .zip(values)
                        .map(|(c, v)| format!("{} = '{v}'", c.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
        }
        if let Some(registered) = self
            .registry
            .as_ref()
            .and_then(|r| r.iter().find(|p| p.values == values))
        {
            return Ok(registered.clone());
        }
        Ok(Partition {
            values: values.to_vec(),
            prefix: self.hive_prefix(values),
        })
    }

    /// The partition column called `name`, if any.
    pub fn partition_column(&self, name: &str) -> Option<&Column> {
        self.definition
            .partition_columns
            .iter()
            .find(|c| c.name == name)
    }

    /// The most a query may read from this table (`max_scan` property, e.g. `'100GB'`).
    pub fn max_scan(&self) -> Option<u64> {
        self.definition
            .properties
            .get(MAX_SCAN)
            .and_then(|v| parse_byte_size(v).ok())
    }

    /// Whether a query must filter on a partition column (`require_partition_filter`
    /// property): a guard against scanning every partition of a huge table by mistake.
    pub fn requires_partition_filter(&self) -> bool {
        !self.definition.partition_columns.is_empty()
            && self
                .properties()
                .get(REQUIRE_PARTITION_FILTER)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The field separator of a CSV table: the SerDe's `field.delim` or `separatorChar`, else
    /// Hive's defaults (`,` for OpenCSVSerde, `\x01` for other SerDes, `,` without one).
    pub fn csv_delimiter(&self) -> u8 {
        let Some(serde) = &self.definition.serde else {
            return b',';
        };
        ["field.delim", "separatorChar"]
            .iter()
            .find_map(|k| serde.properties.get(*k))
            .and_then(|d| d.bytes().next())
            .unwrap_or(if serde.is_open_csv() { b',' } else { 1 })
    }

    /// The quote character of a CSV table: OpenCSVSerde's `quoteChar` (default `"`), `"` without
    /// a SerDe, and none for Hive's delimited text, which does not quote.
    pub fn csv_quote(&self) -> Option<u8> {
        match &self.definition.serde {
            None => Some(b'"'),
            Some(serde) if serde.is_open_csv() => serde
                .properties
                .get("quoteChar")
                .and_then(|q| q.bytes().next())
                .or(Some(b'"')),
            Some(_) => None,
        }
    }

    /// Whether CSV files of this table start with a header line (Athena's
    /// `skip.header.line.count` table property).
    pub fn has_header(&self) -> bool {
        self.definition
            .properties
            .get("skip.header.line.count")
            .is_some_and(|n| n.trim() != "0")
    }
}

/// The shape of a table file on disk.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TableFile {
    location: Spanned<String>,
    #[serde(default = "default_format")]
    format: Spanned<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    columns: Vec<ColumnFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    partition_columns: Vec<ColumnFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    serde: Option<SerdeFile>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    properties: BTreeMap<String, Spanned<String>>,
}

/// The table property that caps the bytes one query may read from the table.
pub const MAX_SCAN: &str = "max_scan";

/// The table property that refuses queries without a filter on a partition column.
pub const REQUIRE_PARTITION_FILTER: &str = "require_partition_filter";

/// A byte size as people write it: `10GB` (10⁹ bytes), `512MiB`, `1 TB`, `1000`.
pub fn parse_byte_size(text: &str) -> Result<u64, ValueError> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|_| ValueError::NotASize {
            text: text.to_string(),
        })
}

/// A byte size as messages show it: `12.3 MiB`.
pub fn display_byte_size(bytes: u64) -> String {
    bytesize::ByteSize::b(bytes).display().iec().to_string()
}

fn check_byte_size(text: &str) -> Result<(), ValueError> {
    parse_byte_size(text).map(drop)
}

fn check_bool(text: &str) -> Result<(), ValueError> {
    if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") {
        Ok(())
    } else {
        Err(ValueError::NotABool {
            text: text.to_string(),
        })
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct SerdeFile {
    library: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    properties: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ColumnFile {
    name: Spanned<String>,
    #[serde(rename = "type")]
    ty: Spanned<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

fn default_format() -> Spanned<String> {
    Spanned::new(0..0, "parquet".to_string())
}

/// A problem in a table file, with the byte range it concerns.
#[derive(Debug)]
pub(crate) struct FileProblem {
    pub(crate) span: Option<std::ops::Range<usize>>,
    pub(crate) message: String,
}

impl FileProblem {
    fn at(span: std::ops::Range<usize>, message: impl Into<String>) -> Self {
        Self {
            span: Some(span),
            message: message.into(),
        }
    }
}

impl TableFile {
    pub(crate) fn parse(text: &str) -> Result<Self, FileProblem> {
        toml::from_str(text).map_err(|e| FileProblem {
            span: e.span(),
            message: e.message().trim().to_string(),
        })
    }

    /// Checks the file and turns it into a table. `catalog_root` anchors relative locations.
    pub(crate) fn into_table(
        self,
        database: &str,
        name: &str,
        catalog_root: &Path,
    ) -> Result<Table, FileProblem> {
        let location = Location::parse(self.location.get_ref(), catalog_root)
            .map_err(|m| FileProblem::at(self.location.span(), format!("field 'location': {m}")))?;
        let format = self
            .format
            .get_ref()
            .parse::<Format>()
            .map_err(|m| FileProblem::at(self.format.span(), format!("field 'format': {m}")))?;
        let columns = convert_columns(self.columns, "columns")?;
        let partition_columns = convert_columns(self.partition_columns, "partition_columns")?;

        let column_spans: Vec<(String, std::ops::Range<usize>)> = columns
            .iter()
            .chain(&partition_columns)
            .map(|(c, span)| (c.name.clone(), span.clone()))
            .collect();
        let strip = |cols: Vec<(Column, std::ops::Range<usize>)>| {
            cols.into_iter().map(|(c, _)| c).collect::<Vec<_>>()
        };
        let columns = strip(columns);
        let spans: BTreeMap<String, std::ops::Range<usize>> = self
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.span()))
            .collect();
        let definition = TableDefinition {
            database: database.to_string(),
            name: name.to_string(),
            location,
            format,
            columns: (!columns.is_empty()).then_some(columns),
            partition_columns: strip(partition_columns),
            properties: self
                .properties
                .into_iter()
                .map(|(k, v)| (k, v.into_inner()))
                .collect(),
            comment: self.comment,
            serde: self.serde.map(|s| Serde {
                library: s.library,
                properties: s.properties,
            }),
        };
        Table::new(definition, catalog_root).map_err(|error| {
            let span = match &error {
                // The second declaration of the name is the one at fault.
                DefinitionError::DuplicateColumn { column } => column_spans
                    .iter()
                    .filter(|(name, _)| name == column)
                    .nth(1)
                    .map(|(_, span)| span.clone()),
                DefinitionError::PartitionType { column, .. } => column_spans
                    .iter()
                    .rev()
                    .find(|(name, _)| name == column)
                    .map(|(_, span)| span.clone()),
                DefinitionError::Property { property, .. } => spans.get(property).cloned(),
            };
            FileProblem {
                span,
                message: error.to_string(),
            }
        })
    }

    pub(crate) fn from_definition(table: &TableDefinition) -> Self {
        let columns = |cols: &[Column]| {
            cols.iter()
                .map(|c| ColumnFile {
                    name: Spanned::new(0..0, c.name.clone()),
                    ty: Spanned::new(0..0, c.ty.to_string()),
                    comment: c.comment.clone(),
                })
                .collect()
        };
        Self {
            location: Spanned::new(0..0, table.location.as_written().to_string()),
            format: Spanned::new(0..0, table.format.to_string()),
            comment: table.comment.clone(),
            columns: table.columns.as_deref().map(columns).unwrap_or_default(),
            partition_columns: columns(&table.partition_columns),
            serde: table.serde.as_ref().map(|s| SerdeFile {
                library: s.library.clone(),
                properties: s.properties.clone(),
            }),
            properties: table
                .properties
                .iter()
                .map(|(k, v)| (k.clone(), Spanned::new(0..0, v.clone())))
                .collect(),
        }
    }
}

fn convert_columns(
    columns: Vec<ColumnFile>,
    field: &str,
) -> Result<Vec<(Column, std::ops::Range<usize>)>, FileProblem> {
    columns
        .into_iter()
        .map(|c| {
            let name = c.name.get_ref().trim();
            if name.is_empty() {
                return Err(FileProblem::at(
                    c.name.span(),
                    format!("field '{field}': a column has an empty name"),
                ));
            }
            let ty = c.ty.get_ref().parse::<ColumnType>().map_err(|e| {
                FileProblem::at(
                    c.ty.span(),
                    format!("field '{field}', column '{name}': {e}"),
                )
            })?;
            Ok((
                Column {
                    name: name.to_string(),
                    ty,
                    comment: c.comment,
                },
                c.name.span(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(properties: &[(&str, &str)]) -> TableDefinition {
        let base = Path::new("/");
        let location = Location::parse("s3://bucket/t/", base).unwrap();
        let mut definition = TableDefinition::new("web", "t", location, Format::Parquet);
        definition.partition_columns = vec![Column::new("day", ColumnType::String)];
        definition.properties = properties
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        definition
    }

    #[test]
    fn the_constructor_derives_projection_from_the_properties() {
        let plain = Table::new(definition(&[]), Path::new("/")).unwrap();
        assert!(plain.projection().is_none());
        let projected = definition(&[
            ("projection.enabled", "true"),
            ("projection.day.type", "enum"),
            ("projection.day.values", "a,b"),
        ]);
        let table = Table::new(projected.clone(), Path::new("/")).unwrap();
        assert!(table.projection().is_some());
        assert_eq!(table.definition(), &projected);
        assert_eq!(table.qualified_name(), "web.t");
    }

    #[test]
    fn the_constructor_refuses_what_no_table_can_be() {
        let mut twice = definition(&[]);
        twice.columns = Some(vec![Column::new("day", ColumnType::Int)]);
        assert_eq!(
            Table::new(twice, Path::new("/")).unwrap_err().to_string(),
            "column 'day' is declared twice"
        );
        let mut unspellable = definition(&[]);
        unspellable.partition_columns = vec![Column::new("d", ColumnType::Double)];
        assert!(matches!(
            Table::new(unspellable, Path::new("/")),
            Err(DefinitionError::PartitionType { .. })
        ));
        for (property, value) in [
            (MAX_SCAN, "lots"),
            (REQUIRE_PARTITION_FILTER, "maybe"),
            ("projection.enabled", "true"),
        ] {
            let error = Table::new(definition(&[(property, value)]), Path::new("/")).unwrap_err();
            assert!(
                matches!(&error, DefinitionError::Property { .. }),
                "{property}: {error}"
            );
        }
    }

    #[test]
    fn writes_go_where_the_projection_registry_or_hive_layout_puts_a_partition() {
        let now = chrono::Utc::now();
        let day = |d: &str| vec![Value::String(d.to_string())];
        let hive = Table::new(definition(&[]), Path::new("/")).unwrap();
        assert_eq!(
            hive.write_partition(&day("x"), now)
                .unwrap()
                .prefix
                .as_ref(),
            "t/day=x"
        );
        let projected = Table::new(
            definition(&[
                ("projection.enabled", "true"),
                ("projection.day.type", "enum"),
                ("projection.day.values", "a,b"),
                ("storage.location.template", "s3://bucket/t/${day}/raw"),
            ]),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(
            projected
                .write_partition(&day("b"), now)
                .unwrap()
                .prefix
                .as_ref(),
            "t/b/raw"
        );
        assert_eq!(
            projected
                .write_partition(&day("c"), now)
                .unwrap_err()
                .to_string(),
            "table 'web.t': partition day = 'c' is outside the table's partition projection (its projection.* properties), so no query would read it"
        );
        let registered = hive.clone().with_registry(vec![Partition {
            values: day("r"),
            prefix: object_store::path::Path::from("elsewhere/r"),
        }]);
        assert_eq!(
            registered
                .write_partition(&day("r"), now)
                .unwrap()
                .prefix
                .as_ref(),
            "elsewhere/r"
        );
    }
}
