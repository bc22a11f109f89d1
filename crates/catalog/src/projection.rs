//! Athena's partition projection: the partitions a query needs are computed from table
//! properties (`projection.*`, `storage.location.template`) instead of being listed.
//!
//! Property names and meanings follow Athena's documentation: `projection.enabled`, and per
//! partition column `projection.<col>.type` = `date` (`.range`, `.format`, `.interval`,
//! `.interval.unit`), `integer` (`.range`, `.interval`, `.digits`), `enum` (`.values`) or
//! `injected` (values only from the query's `=`/`IN`). Dates are UTC.

use std::collections::BTreeMap;
use std::path::Path as FsPath;

use chrono::{DateTime, NaiveDateTime, Utc};
use object_store::path::{Path, PathPart};

use crate::column::Column;
use crate::datefmt::{DateFormat, TimeUnit};
use crate::domain::{Domain, PartitionFilter};
use crate::error::{CatalogError, Result, TemplateProblem, ValueError};
use crate::layout::Layout;
use crate::location::Location;
use crate::partition::{Partition, hive_escape};
use crate::types::ColumnType;
use crate::value::Value;

/// Property that turns projection on.
pub const ENABLED: &str = "projection.enabled";
/// Property that places partitions under arbitrary prefixes.
pub const TEMPLATE: &str = "storage.location.template";

/// The filter key under which a date-projected string column's time constraints travel.
///
/// SQL compares a string column with a string as text. For a string partition column whose
/// values are dates in some format, the engine rewrites comparisons with literals that read as
/// times in that format into comparisons of times, filed under this key (a name no SQL column
/// can collide with), so that `'28-02-2024' <= dt` means what the analyst meant.
pub fn time_key(column: &str) -> String {
    format!("{column}#time")
}

/// A query may project at most this many partitions; more is almost surely a missing filter.
pub const MAX_PROJECTED_PARTITIONS: usize = 1_000_000;

/// A table's projection: one rule per partition column, and where partitions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    rules: Vec<Rule>,
    template: Option<LocationTemplate>,
}

/// How one partition column's values are projected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Dates (or times) from `start` to `end`, every `interval` `unit`s, spelled in `format`.
    Date {
        /// How values are spelled in paths (and, for string columns, in SQL).
        format: DateFormat,
        /// First value, inclusive.
        start: RangeEnd,
        /// Last value, inclusive.
        end: RangeEnd,
        /// Steps between values.
        interval: i64,
        /// The unit of `interval`.
        unit: TimeUnit,
    },
    /// Integers from `start` to `end`, every `interval`, zero-padded to `digits`.
    Integer {
        /// First value, inclusive.
        start: i64,
        /// Last value, inclusive.
        end: i64,
        /// Step between values.
        interval: i64,
        /// Minimum number of digits, zero-padded.
        digits: usize,
    },
    /// A fixed list of values.
    Enum(Vec<String>),
    /// Values given by the query itself.
    Injected,
}

/// One end of a date range: a fixed time, or `NOW` shifted by some units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeEnd {
    /// A time written in the column's format.
    At(NaiveDateTime),
    /// `NOW`, `NOW-3YEARS`, `NOW+1MONTH`…
    Now(i64, TimeUnit),
}

/// A problem in a table's projection properties: the property and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyProblem {
    /// The property at fault.
    pub property: String,
    /// What is wrong with it.
    pub message: String,
}

fn problem(property: impl Into<String>, message: impl Into<String>) -> PropertyProblem {
    PropertyProblem {
        property: property.into(),
        message: message.into(),
    }
}

impl Projection {
    /// Reads the projection from a table's properties: `None` unless `projection.enabled` is
    /// `true`. `base` anchors a relative template, as for the table's location.
    pub fn from_properties(
        properties: &BTreeMap<String, String>,
        partition_columns: &[Column],
        location: &Location,
        base: &FsPath,
    ) -> Result<Option<Self>, PropertyProblem> {
        let enabled = properties
            .get(ENABLED)
            .map(|v| v.trim().to_ascii_lowercase());
        match enabled.as_deref() {
            None | Some("false") => return Ok(None),
            Some("true") => {}
            Some(other) => {
                return Err(problem(
                    ENABLED,
                    format!("must be 'true' or 'false', not '{other}'"),
                ));
            }
        }
        let rules = partition_columns
            .iter()
            .map(|c| Rule::from_properties(properties, c))
            .collect::<Result<Vec<_>, _>>()?;
        let template = properties
            .get(TEMPLATE)
            .map(|t| LocationTemplate::parse(t, partition_columns, location, base))
            .transpose()
            .map_err(|e| problem(TEMPLATE, e.to_string()))?;
        Ok(Some(Self { rules, template }))
    }

    /// The rule of each partition column, in the table's order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The partitions `filter` allows, with `now` as the time `NOW` ranges are resolved at.
    pub fn partitions(
        &self,
        table: &Layout<'_>,
        filter: &PartitionFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<Partition>> {
        let now = now.naive_utc();
        let mut per_column = Vec::with_capacity(self.rules.len());
        for (rule, column) in self.rules.iter().zip(table.partition_columns) {
            let domain = filter.domain(&column.name);
            let time_domain = filter.domain(&time_key(&column.name));
            per_column.push(rule.values(table, column, &domain, &time_domain, now)?);
        }
        let count = per_column
            .iter()
            .try_fold(1usize, |acc, v| acc.checked_mul(v.len()))
            .unwrap_or(usize::MAX);
        if count > MAX_PROJECTED_PARTITIONS {
            return Err(too_many(table));
        }
        let mut partitions = vec![(Vec::new(), Vec::new())];
        for values in per_column {
            partitions = partitions
                .into_iter()
                .flat_map(|(vs, texts): (Vec<Value>, Vec<String>)| {
                    values.iter().map(move |(v, t)| {
                        let mut vs = vs.clone();
                        let mut texts = texts.clone();
                        vs.push(v.clone());
                        texts.push(t.clone());
                        (vs, texts)
                    })
                })
                .collect();
        }
        let mut out: Vec<Partition> = partitions
            .into_iter()
            .map(|(values, texts)| Partition {
                prefix: self.prefix(table, &texts),
                values,
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// How many partitions the projection spans with no filter: `None` when a column is
    /// injected (unbounded) or the count passes [`MAX_PROJECTED_PARTITIONS`].
    pub fn total(&self, now: DateTime<Utc>) -> Option<usize> {
        let now = now.naive_utc();
        self.rules.iter().try_fold(1usize, |acc, rule| {
            acc.checked_mul(rule.count(now)?)
                .filter(|n| *n <= MAX_PROJECTED_PARTITIONS)
        })
    }

    /// Where the partition with these spelled values lives.
    fn prefix(&self, table: &Layout<'_>, texts: &[String]) -> Path {
        match &self.template {
            Some(template) => template.expand(texts),
            None => {
                let mut prefix = table.location.prefix();
                for (column, text) in table.partition_columns.iter().zip(texts) {
                    prefix = prefix.join(PathPart::from(format!(
                        "{}={}",
                        column.name,
                        hive_escape(text)
                    )));
                }
                prefix
            }
        }
    }
}

fn too_many(table: &Layout<'_>) -> CatalogError {
    CatalogError::TooManyPartitions {
        table: table.qualified_name(),
        limit: MAX_PROJECTED_PARTITIONS,
    }
}

/// One column's `projection.<column>.*` properties, read with the column's name filled in.
struct ColumnProperties<'a> {
    all: &'a BTreeMap<String, String>,
    column: &'a Column,
}

impl ColumnProperties<'_> {
    fn key(&self, suffix: &str) -> String {
        format!("projection.{}.{suffix}", self.column.name)
    }

    fn get(&self, suffix: &str) -> Option<&str> {
        self.all.get(&self.key(suffix)).map(|v| v.trim())
    }

    fn required(&self, suffix: &str) -> Result<&str, PropertyProblem> {
        self.get(suffix).ok_or_else(|| {
            problem(
                self.key(suffix),
                format!(
                    "is required: partition column '{}' is projected",
                    self.column.name
                ),
            )
        })
    }

    fn positive(&self, suffix: &str) -> Result<Option<i64>, PropertyProblem> {
        self.get(suffix)
            .map(|v| {
                v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    problem(
                        self.key(suffix),
                        format!("must be a positive integer, not '{v}'"),
                    )
                })
            })
            .transpose()
    }
}

impl Rule {
    fn from_properties(
        properties: &BTreeMap<String, String>,
        column: &Column,
    ) -> Result<Self, PropertyProblem> {
        let p = ColumnProperties {
            all: properties,
            column,
        };
        let kind = p.required("type")?.to_ascii_lowercase();
        match kind.as_str() {
            "date" => Self::date(&p),
            "integer" => Self::integer(&p),
            "enum" => Self::enumerated(&p),
            "injected" => Ok(Self::Injected),
            other => Err(problem(
                p.key("type"),
                format!("'{other}' is not one of date, integer, enum, injected"),
            )),
        }
    }

    /// `projection.<column>.type = date`: `format`, `range`, `interval`, `interval.unit`.
    fn date(p: &ColumnProperties<'_>) -> Result<Self, PropertyProblem> {
        let column = p.column;
        let format_text = p.required("format")?;
        let format =
            DateFormat::parse(format_text).map_err(|e| problem(p.key("format"), e.to_string()))?;
        if column.ty == ColumnType::Date && !format.is_date_only() {
            return Err(problem(
                p.key("format"),
                format!(
                    "'{format_text}' spells a time of day, but column '{}' is a date",
                    column.name
                ),
            ));
        }
        if !matches!(column.ty, ColumnType::Date | ColumnType::String) {
            return Err(problem(
                p.key("type"),
                format!(
                    "date projection needs a string or date column; '{}' is {}",
                    column.name, column.ty
                ),
            ));
        }
        let range = p.required("range")?;
        let (start, end) = range
            .split_once(',')
            .ok_or_else(|| problem(p.key("range"), format!("must be 'min,max', not '{range}'")))?;
        let end_of = |text: &str| {
            RangeEnd::parse(text, &format).ok_or_else(|| {
                problem(
                    p.key("range"),
                    format!(
                        "'{}' is neither a date in format '{format_text}' nor NOW[+|-n UNIT]",
                        text.trim()
                    ),
                )
            })
        };
        let (start, end) = (end_of(start)?, end_of(end)?);
        let unit = match p.get("interval.unit") {
            Some(text) => TimeUnit::parse(text).ok_or_else(|| {
                problem(
                    p.key("interval.unit"),
                    format!("'{text}' is not one of YEARS, MONTHS, WEEKS, DAYS, HOURS, MINUTES, SECONDS, MILLIS"),
                )
            })?,
            // Athena's default: one step of the format's precision.
            None => format.finest(),
        };
        Ok(Self::Date {
            format,
            start,
            end,
            interval: p.positive("interval")?.unwrap_or(1),
            unit,
        })
    }

    /// `projection.<column>.type = integer`: `range`, `interval`, `digits`.
    fn integer(p: &ColumnProperties<'_>) -> Result<Self, PropertyProblem> {
        let column = p.column;
        if !(column.ty.is_integer() || column.ty == ColumnType::String) {
            return Err(problem(
                p.key("type"),
                format!(
                    "integer projection needs an integer or string column; '{}' is {}",
                    column.name, column.ty
                ),
            ));
        }
        let range = p.required("range")?;
        let bounds = range
            .split_once(',')
            .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
        let Some((start, end)) = bounds else {
            return Err(problem(
                p.key("range"),
                format!("must be two integers 'min,max', not '{range}'"),
            ));
        };
        Ok(Self::Integer {
            start,
            end,
            interval: p.positive("interval")?.unwrap_or(1),
            digits: p.positive("digits")?.map_or(0, |d| d as usize),
        })
    }

    /// `projection.<column>.type = enum`: `values`, kept as written.
    fn enumerated(p: &ColumnProperties<'_>) -> Result<Self, PropertyProblem> {
        // Athena: "any white space is considered part of an enum value".
        let values: Vec<String> = p
            .all
            .get(&p.key("values"))
            .ok_or_else(|| problem(p.key("values"), "is required for an enum projection"))?
            .split(',')
            .map(String::from)
            .collect();
        for value in &values {
            if Value::parse(value, &p.column.ty).is_none() {
                return Err(problem(
                    p.key("values"),
                    format!("'{value}' is not a valid {}", p.column.ty),
                ));
            }
            if escapes(value) {
                return Err(problem(
                    p.key("values"),
                    format!("'{value}' would escape the table's location"),
                ));
            }
        }
        Ok(Self::Enum(values))
    }

    /// How many values the rule projects with no filter (`None` for injected values, or a
    /// range that cannot be resolved). Counted without spelling a value: this runs per query.
    fn count(&self, now: NaiveDateTime) -> Option<usize> {
        match self {
            Self::Date {
                format,
                start,
                end,
                interval,
                unit,
            } => {
                let grid = Grid {
                    start: start.resolve(now, format)?,
                    end: end.resolve(now, format)?,
                    step: *interval,
                    unit: *unit,
                };
                Some(
                    grid.iter(None, None)
                        .take(MAX_PROJECTED_PARTITIONS + 1)
                        .count(),
                )
            }
            Self::Integer {
                start,
                end,
                interval,
                ..
            } => Some(if end < start {
                0
            } else {
                usize::try_from((end - start) / interval + 1).ok()?
            }),
            Self::Enum(values) => Some(values.len()),
            Self::Injected => None,
        }
    }

    /// This column's projected values that `domain` allows, each with its path spelling.
    fn values(
        &self,
        table: &Layout<'_>,
        column: &Column,
        domain: &Domain,
        time_domain: &Domain,
        now: NaiveDateTime,
    ) -> Result<Vec<(Value, String)>> {
        if domain.is_none() || time_domain.is_none() {
            return Ok(Vec::new());
        }
        let wanted = Wanted {
            table,
            column,
            domain,
            time_domain,
        };
        match self {
            Self::Date {
                format,
                start,
                end,
                interval,
                unit,
            } => date_values(&wanted, format, start, end, *interval, *unit, now),
            Self::Integer {
                start,
                end,
                interval,
                digits,
            } => integer_values(&wanted, *start, *end, *interval, *digits),
            Self::Enum(values) => Ok(enum_values(&wanted, values)),
            Self::Injected => injected_values(&wanted),
        }
    }
}

/// What a column's projected values are chosen for: its table and column, and the values the
/// query allows (of the column, and of its time when it is a date-projected string).
struct Wanted<'a> {
    table: &'a Layout<'a>,
    column: &'a Column,
    domain: &'a Domain,
    time_domain: &'a Domain,
}

/// A date projection's values: the given points when the query names them, else the grid
/// from `start` to `end` cut to what the query allows.
fn date_values(
    wanted: &Wanted<'_>,
    format: &DateFormat,
    start: &RangeEnd,
    end: &RangeEnd,
    interval: i64,
    unit: TimeUnit,
    now: NaiveDateTime,
) -> Result<Vec<(Value, String)>> {
    let Wanted {
        table,
        column,
        domain,
        time_domain,
    } = *wanted;
    let projection_error = |message: String| CatalogError::Projection {
        table: table.qualified_name(),
        column: column.name.clone(),
        message,
    };
    let start = start
        .resolve(now, format)
        .ok_or_else(|| projection_error("its range starts out of bounds".into()))?;
    let end = end
        .resolve(now, format)
        .ok_or_else(|| projection_error("its range ends out of bounds".into()))?;
    let grid = Grid {
        start,
        end,
        step: interval,
        unit,
    };
    let value_of = |t: NaiveDateTime| match column.ty {
        ColumnType::Date => Value::Date(t.date()),
        _ => Value::String(format.format(t)),
    };
    let millis = |t: NaiveDateTime| Value::Int(t.and_utc().timestamp_millis());
    let allowed =
        |t: NaiveDateTime| domain.contains(&value_of(t)) && time_domain.contains(&millis(t));
    let mut out = Vec::new();
    if let Some(points) = named_times(domain, time_domain, format) {
        for t in points {
            // `allowed` also checks that a string is spelled exactly as the format
            // writes it, or it would not be equal to the partition's value.
            if grid.contains(t) && allowed(t) {
                out.push((value_of(t), format.format(t)));
            }
        }
        out.sort();
        out.dedup();
        return Ok(out);
    }
    let (low, high) = time_bounds(domain, time_domain, format);
    for t in grid.iter(low, high) {
        if out.len() >= MAX_PROJECTED_PARTITIONS {
            return Err(too_many(table));
        }
        if allowed(t) {
            out.push((value_of(t), format.format(t)));
        }
    }
    Ok(out)
}

/// The times a query names with `=`/`IN`, on the column or on its time, if it names any.
fn named_times(
    domain: &Domain,
    time_domain: &Domain,
    format: &DateFormat,
) -> Option<Vec<NaiveDateTime>> {
    let named = domain.as_points().map(|points| {
        points
            .into_iter()
            .filter_map(|p| match p {
                Value::Date(d) => d.and_hms_opt(0, 0, 0),
                Value::String(s) => format.parse_time(s),
                _ => None,
            })
            .collect::<Vec<_>>()
    });
    named.or_else(|| {
        time_domain
            .as_points()
            .map(|points| points.into_iter().filter_map(millis_to_time).collect())
    })
}

/// The earliest and latest times the query allows, from the column's own bounds (where its
/// values sort in time order) and its time's.
fn time_bounds(
    domain: &Domain,
    time_domain: &Domain,
    format: &DateFormat,
) -> (Option<NaiveDateTime>, Option<NaiveDateTime>) {
    // A value as a time, where its order is the time order.
    let as_time = |v: &Value| -> Option<NaiveDateTime> {
        match v {
            Value::Date(d) => d.and_hms_opt(0, 0, 0),
            Value::String(s) if format.sorts_as_text() => format.parse_time(s),
            _ => None,
        }
    };
    let clamp = |hull: Option<(Option<&Value>, Option<&Value>)>,
                 to_time: &dyn Fn(&Value) -> Option<NaiveDateTime>| {
        hull.map_or((None, None), |(l, h)| {
            (l.and_then(to_time), h.and_then(to_time))
        })
    };
    let (low_a, high_a) = clamp(domain.hull(), &as_time);
    let (low_b, high_b) = clamp(time_domain.hull(), &millis_to_time);
    let low = low_a.max(low_b);
    let high = match (high_a, high_b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    (low, high)
}

/// An integer projection's values, spelled with `digits` digits at least.
fn integer_values(
    wanted: &Wanted<'_>,
    start: i64,
    end: i64,
    interval: i64,
    digits: usize,
) -> Result<Vec<(Value, String)>> {
    let Wanted {
        table,
        column,
        domain,
        ..
    } = *wanted;
    let spell = |n: i64| {
        if n < 0 {
            format!("-{:0digits$}", n.unsigned_abs())
        } else {
            format!("{n:0digits$}")
        }
    };
    let value_of = |n: i64| match column.ty {
        ColumnType::String => Value::String(spell(n)),
        _ => Value::Int(n),
    };
    let on_grid = |n: i64| n >= start && n <= end && (n - start) % interval == 0;
    let mut out = Vec::new();
    if let Some(points) = domain.as_points() {
        for point in points {
            let n = match point {
                Value::Int(n) => *n,
                Value::String(s) => match s.parse() {
                    Ok(n) => n,
                    Err(_) => continue,
                },
                _ => continue,
            };
            if on_grid(n) && value_of(n) == *point {
                out.push((value_of(n), spell(n)));
            }
        }
        return Ok(out);
    }
    let (mut low, mut high) = (start, end);
    if column.ty.is_integer()
        && let Some((l, h)) = domain.hull()
    {
        if let Some(Value::Int(l)) = l {
            low = low.max(*l);
        }
        if let Some(Value::Int(h)) = h {
            high = high.min(*h);
        }
    }
    // First grid value at or above `low`.
    let mut n = if low <= start {
        start
    } else {
        start + (low - start + interval - 1) / interval * interval
    };
    while n <= high {
        if out.len() >= MAX_PROJECTED_PARTITIONS {
            return Err(too_many(table));
        }
        if domain.contains(&value_of(n)) {
            out.push((value_of(n), spell(n)));
        }
        n = match n.checked_add(interval) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(out)
}

/// An enum projection's values that the query allows.
fn enum_values(wanted: &Wanted<'_>, values: &[String]) -> Vec<(Value, String)> {
    let Wanted { column, domain, .. } = *wanted;
    values
        .iter()
        .filter_map(|text| {
            let value = Value::parse(text, &column.ty)?;
            domain.contains(&value).then(|| (value, text.clone()))
        })
        .collect()
}

/// An injected column's values: exactly those the query gives with `=` or `IN`.
fn injected_values(wanted: &Wanted<'_>) -> Result<Vec<(Value, String)>> {
    let Wanted {
        table,
        column,
        domain,
        ..
    } = *wanted;
    let points = domain
        .as_points()
        .ok_or_else(|| CatalogError::InjectedValue {
            table: table.qualified_name(),
            column: column.name.clone(),
        })?;
    let mut out = Vec::new();
    for value in points {
        if *value == Value::Null {
            continue;
        }
        let text = value.to_string();
        if escapes(&text) {
            return Err(CatalogError::PartitionValueEscapes {
                table: table.qualified_name(),
                column: column.name.clone(),
                value: text,
            });
        }
        out.push((value.clone(), text));
    }
    Ok(out)
}

fn millis_to_time(value: &Value) -> Option<NaiveDateTime> {
    match value {
        Value::Int(millis) => DateTime::from_timestamp_millis(*millis).map(|t| t.naive_utc()),
        _ => None,
    }
}

/// Whether a value spelled into a path would leave the table's root, as Athena refuses: an
/// absolute path, a `..` segment, or nothing at all (the root itself). A `/` inside a value is
/// fine: Athena substitutes injected values into `storage.location.template` as they are.
fn escapes(text: &str) -> bool {
    let segments = || text.split(['/', '\\']);
    text.is_empty()
        || text.starts_with(['/', '\\'])
        || segments().any(|s| s == "..")
        || segments().all(|s| s.is_empty() || s == ".")
}

/// The times `start + k·step·unit`, `k = 0, 1, …`, up to `end` inclusive.
struct Grid {
    start: NaiveDateTime,
    end: NaiveDateTime,
    step: i64,
    unit: TimeUnit,
}

impl Grid {
    fn at(&self, k: i64) -> Option<NaiveDateTime> {
        self.unit.add(self.start, k.checked_mul(self.step)?)
    }

    /// A `k` whose time is at or a little before `t` (never after it).
    fn index_before(&self, t: NaiveDateTime) -> i64 {
        if t <= self.start {
            return 0;
        }
        let approx_millis: i64 = match self.unit {
            TimeUnit::Years => 366 * 86_400_000,
            TimeUnit::Months => 31 * 86_400_000,
            TimeUnit::Weeks => 7 * 86_400_000,
            TimeUnit::Days => 86_400_000,
            TimeUnit::Hours => 3_600_000,
            TimeUnit::Minutes => 60_000,
            TimeUnit::Seconds => 1_000,
            TimeUnit::Millis => 1,
        };
        // Long units are overestimated, so the division lands at or before `t`.
        let elapsed = (t - self.start).num_milliseconds();
        let mut k = (elapsed / approx_millis / self.step).max(0);
        while k > 0 && self.at(k).is_none_or(|at| at > t) {
            k -= 1;
        }
        k
    }

    fn contains(&self, t: NaiveDateTime) -> bool {
        if t < self.start || t > self.end {
            return false;
        }
        let mut k = self.index_before(t);
        while let Some(at) = self.at(k) {
            if at >= t {
                return at == t;
            }
            k += 1;
        }
        false
    }

    /// The grid's times within `[low, high]` (each end optional).
    fn iter(
        &self,
        low: Option<NaiveDateTime>,
        high: Option<NaiveDateTime>,
    ) -> impl Iterator<Item = NaiveDateTime> + '_ {
        let end = high.map_or(self.end, |h| h.min(self.end));
        let first = low.map_or(0, |l| self.index_before(l));
        (first..)
            .map_while(move |k| self.at(k))
            .skip_while(move |t| low.is_some_and(|l| *t < l))
            .take_while(move |t| *t <= end)
    }
}

impl RangeEnd {
    /// `NOW`, `NOW-3YEARS`, `NOW + 1 MONTH`, or a time in `format`.
    fn parse(text: &str, format: &DateFormat) -> Option<Self> {
        let text = text.trim();
        let upper = text.to_ascii_uppercase();
        if let Some(rest) = upper.strip_prefix("NOW") {
            let rest = rest.trim();
            if rest.is_empty() {
                return Some(Self::Now(0, format.finest()));
            }
            let (sign, rest) = match rest.split_at(1) {
                ("+", r) => (1, r),
                ("-", r) => (-1, r),
                _ => return None,
            };
            let rest = rest.trim();
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let n: i64 = rest[..digits].parse().ok()?;
            let unit = TimeUnit::parse(&rest[digits..])?;
            return Some(Self::Now(sign * n, unit));
        }
        format.parse_time(text).map(Self::At)
    }

    /// The time this end stands for when the query runs at `now` (truncated to the format's
    /// precision, so that `NOW` lands on a partition boundary).
    fn resolve(self, now: NaiveDateTime, format: &DateFormat) -> Option<NaiveDateTime> {
        match self {
            Self::At(t) => Some(t),
            Self::Now(n, unit) => unit.add(now, n).map(|t| format.finest().truncate(t)),
        }
    }
}

/// `storage.location.template`: a location with `${column}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationTemplate {
    /// The fixed part before the first placeholder's path segment.
    root: Location,
    /// The rest, split into text and placeholders (partition column indexes).
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Column(usize),
}

impl LocationTemplate {
    /// Parses a template; every placeholder must name a partition column and every partition
    /// column must be placed.
    pub fn parse(
        text: &str,
        columns: &[Column],
        location: &Location,
        base: &FsPath,
    ) -> Result<Self, ValueError> {
        let text = text.trim();
        let problem = |problem| ValueError::Template {
            template: text.to_string(),
            problem,
        };
        let first = text
            .find("${")
            .ok_or_else(|| problem(TemplateProblem::NoPlaceholder))?;
        // The root ends at the last '/' before the first placeholder.
        let split = text[..first].rfind('/').map_or(0, |i| i + 1);
        let root = Location::parse(&text[..split], base)
            .map_err(|e| problem(TemplateProblem::Root(Box::new(e))))?;
        if root.store_url() != location.store_url() {
            return Err(problem(TemplateProblem::OtherStore {
                store: root.store_url(),
                table_store: location.store_url(),
            }));
        }
        let mut pieces = Vec::new();
        let mut rest = &text[split..];
        let mut placed = vec![false; columns.len()];
        while let Some(open) = rest.find("${") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| problem(TemplateProblem::Unclosed))?;
            let name = &rest[open + 2..open + close];
            let index = columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name.trim()))
                .ok_or_else(|| problem(TemplateProblem::NotAColumn(name.to_string())))?;
            placed[index] = true;
            pieces.push(Piece::Column(index));
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        if let Some(missing) = placed.iter().position(|p| !p) {
            return Err(problem(TemplateProblem::Unplaced(
                columns[missing].name.clone(),
            )));
        }
        Ok(Self { root, pieces })
    }

    /// The prefix for one partition, given each partition column's spelled value.
    fn expand(&self, texts: &[String]) -> Path {
        let mut expanded = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => expanded.push_str(t),
                Piece::Column(i) => expanded.push_str(&texts[*i]),
            }
        }
        let mut prefix = self.root.prefix();
        for segment in expanded.split('/').filter(|s| !s.is_empty()) {
            prefix = prefix.join(PathPart::from(segment));
        }
        prefix
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Bound;

    use chrono::NaiveDate;

    use super::*;
    use crate::table::{Format, Table, TableDefinition};

    fn table(columns: &[(&str, ColumnType)], properties: &[(&str, &str)]) -> Table {
        let location = Location::parse("s3://bucket/prefix/", FsPath::new("/")).unwrap();
        let partition_columns: Vec<Column> = columns
            .iter()
            .map(|(n, t)| Column::new(*n, t.clone()))
            .collect();
        let properties: BTreeMap<String, String> = properties
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut definition = TableDefinition::new("default", "t", location, Format::Parquet);
        definition.partition_columns = partition_columns;
        definition.properties = properties;
        Table::new(definition, FsPath::new("/")).unwrap()
    }

    fn problem_of(columns: &[(&str, ColumnType)], properties: &[(&str, &str)]) -> String {
        let location = Location::parse("s3://bucket/prefix/", FsPath::new("/")).unwrap();
        let columns: Vec<Column> = columns
            .iter()
            .map(|(n, t)| Column::new(*n, t.clone()))
            .collect();
        let properties = properties
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let p = Projection::from_properties(&properties, &columns, &location, FsPath::new("/"))
            .unwrap_err();
        format!("{}: {}", p.property, p.message)
    }

    fn now() -> DateTime<Utc> {
        "2024-03-10T15:42:00Z".parse().unwrap()
    }

    fn string(s: &str) -> Value {
        Value::String(s.into())
    }

    fn prefixes(t: &Table, filter: &PartitionFilter) -> Vec<String> {
        t.projection()
            .as_ref()
            .unwrap()
            .partitions(&t.layout(), filter, now())
            .unwrap()
            .into_iter()
            .map(|p| p.prefix.to_string())
            .collect()
    }

    fn firehose() -> Table {
        table(
            &[("day", ColumnType::String), ("hour", ColumnType::Int)],
            &[
                ("projection.enabled", "true"),
                ("projection.day.type", "date"),
                ("projection.day.format", "yyyy/MM/dd"),
                ("projection.day.range", "2021/01/01,NOW"),
                ("projection.day.interval", "1"),
                ("projection.day.interval.unit", "DAYS"),
                ("projection.hour.type", "integer"),
                ("projection.hour.range", "0,23"),
                ("projection.hour.digits", "2"),
                (
                    "storage.location.template",
                    "s3://bucket/prefix/${day}/${hour}/",
                ),
            ],
        )
    }

    #[test]
    fn firehose_day_and_hour() {
        let t = firehose();
        let mut filter = PartitionFilter::all();
        filter.and("day", Domain::point(string("2021/11/09")));
        filter.and(
            "hour",
            Domain::range(
                Bound::Excluded(Value::Int(3)),
                Bound::Excluded(Value::Int(6)),
            ),
        );
        assert_eq!(
            prefixes(&t, &filter),
            ["prefix/2021/11/09/04", "prefix/2021/11/09/05"]
        );
        // Days up to NOW (2024-03-10) exist; later ones are not projected.
        let mut future = PartitionFilter::all();
        future.and("day", Domain::point(string("2024/03/11")));
        assert!(prefixes(&t, &future).is_empty());
        // A value not spelled as the format writes it is not equal to any partition's.
        let mut unpadded = PartitionFilter::all();
        unpadded.and("day", Domain::point(string("2021/1/9")));
        assert!(prefixes(&t, &unpadded).is_empty());
        let days = (NaiveDate::from_ymd_opt(2024, 3, 10).unwrap()
            - NaiveDate::from_ymd_opt(2021, 1, 1).unwrap())
        .num_days() as usize
            + 1;
        assert_eq!(t.projection().unwrap().total(now()), Some(days * 24));
    }

    #[test]
    fn hourly_datehour_with_ranges_and_now() {
        let t = table(
            &[("datehour", ColumnType::String)],
            &[
                ("projection.enabled", "true"),
                ("projection.datehour.type", "date"),
                ("projection.datehour.format", "yyyy/MM/dd/HH"),
                ("projection.datehour.range", "NOW-2DAYS,NOW"),
                ("projection.datehour.interval", "1"),
                ("projection.datehour.interval.unit", "HOURS"),
                (
                    "storage.location.template",
                    "s3://bucket/prefix/${datehour}/",
                ),
            ],
        );
        let mut last_hours = PartitionFilter::all();
        last_hours.and(
            "datehour",
            Domain::range(Bound::Included(string("2024/03/10/13")), Bound::Unbounded),
        );
        assert_eq!(
            prefixes(&t, &last_hours),
            [
                "prefix/2024/03/10/13",
                "prefix/2024/03/10/14",
                "prefix/2024/03/10/15"
            ]
        );
        // Two days back from 15:42, truncated to the hour: 2024-03-08 15:00 is the first.
        let all = prefixes(&t, &PartitionFilter::all());
        assert_eq!(all.len(), 49);
        assert_eq!(all[0], "prefix/2024/03/08/15");
        // A bound that is not a whole time in the format still prunes, as text.
        let mut partial = PartitionFilter::all();
        partial.and(
            "datehour",
            Domain::range(Bound::Included(string("2024/03/10")), Bound::Unbounded),
        );
        assert_eq!(prefixes(&t, &partial).len(), 16);
    }

    #[test]
    fn day_first_formats_compare_as_times() {
        let t = table(
            &[("dt", ColumnType::String)],
            &[
                ("projection.enabled", "true"),
                ("projection.dt.type", "date"),
                ("projection.dt.format", "dd-MM-yyyy"),
                ("projection.dt.range", "25-02-2024,05-03-2024"),
            ],
        );
        let millis = |s: &str| {
            Value::Int(
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap()
                    .and_utc()
                    .timestamp_millis(),
            )
        };
        // The engine files `dt BETWEEN '28-02-2024' AND '01-03-2024'` under the time key: as
        // text, '28-02-2024' > '01-03-2024' and nothing would match.
        let mut filter = PartitionFilter::all();
        filter.and(
            &time_key("dt"),
            Domain::range(
                Bound::Included(millis("2024-02-28")),
                Bound::Included(millis("2024-03-01")),
            ),
        );
        assert_eq!(
            prefixes(&t, &filter),
            [
                "prefix/dt=01-03-2024",
                "prefix/dt=28-02-2024",
                "prefix/dt=29-02-2024"
            ]
        );
    }

    #[test]
    fn monthly_date_columns_and_enums() {
        let t = table(
            &[("region", ColumnType::String), ("month", ColumnType::Date)],
            &[
                ("projection.enabled", "true"),
                ("projection.region.type", "enum"),
                ("projection.region.values", "us-east-1,eu-west-1"),
                ("projection.month.type", "date"),
                ("projection.month.format", "yyyyMM"),
                ("projection.month.range", "202311,NOW"),
                (
                    "storage.location.template",
                    "s3://bucket/logs/${region}/${month}",
                ),
            ],
        );
        let jan = Value::Date(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        let mut filter = PartitionFilter::all();
        filter.and(
            "month",
            Domain::range(Bound::Included(jan), Bound::Unbounded),
        );
        filter.and("region", Domain::point(string("eu-west-1")));
        assert_eq!(
            prefixes(&t, &filter),
            [
                "logs/eu-west-1/202401",
                "logs/eu-west-1/202402",
                "logs/eu-west-1/202403"
            ]
        );
        assert_eq!(t.projection().unwrap().total(now()), Some(10));
    }

    proptest::proptest! {
        /// Whatever a query injects, a value that is not refused lands under the table's root.
        #[test]
        fn injected_values_stay_under_the_root(value in "[a./\\\\]{0,8}") {
            let location = Location::parse("s3://bucket/prefix/", FsPath::new("/")).unwrap();
            let columns = [Column::new("c", ColumnType::String)];
            let template =
                LocationTemplate::parse("s3://bucket/prefix/${c}/", &columns, &location, FsPath::new("/"))
                    .unwrap();
            if !escapes(&value) {
                let prefix = template.expand(std::slice::from_ref(&value));
                let parts: Vec<String> = prefix.parts().map(|p| p.as_ref().to_string()).collect();
                proptest::prop_assert_eq!(parts.first().map(String::as_str), Some("prefix"));
                proptest::prop_assert!(parts.len() >= 2, "{value:?} is the root itself");
                proptest::prop_assert!(!parts.iter().any(|p| p == ".."), "{value:?} → {prefix}");
            }
        }
    }

    #[test]
    fn injected_values_come_from_the_query() {
        let t = table(
            &[("sensor_id", ColumnType::String)],
            &[
                ("projection.enabled", "true"),
                ("projection.sensor_id.type", "injected"),
                (
                    "storage.location.template",
                    "s3://bucket/prefix/${sensor_id}",
                ),
            ],
        );
        let mut filter = PartitionFilter::all();
        filter.and("sensor_id", Domain::points([string("b"), string("a")]));
        assert_eq!(prefixes(&t, &filter), ["prefix/a", "prefix/b"]);
        let projection = t.projection().unwrap();
        let missing = projection
            .partitions(&t.layout(), &PartitionFilter::all(), now())
            .unwrap_err();
        assert_eq!(
            missing.to_string(),
            "table 'default.t': partition column 'sensor_id' is projected as 'injected': the query must give its values with = or IN"
        );
        let mut filter = PartitionFilter::all();
        filter.and("sensor_id", Domain::point(string("eu/west-1")));
        assert_eq!(prefixes(&t, &filter), ["prefix/eu/west-1"]);
        for bad in ["..", "../x", "a/../../b", "/etc", "", ".", "./"] {
            let mut filter = PartitionFilter::all();
            filter.and("sensor_id", Domain::point(string(bad)));
            let error = projection
                .partitions(&t.layout(), &filter, now())
                .unwrap_err();
            assert!(error.to_string().contains("would escape"), "{error}");
        }
        assert_eq!(projection.total(now()), None);
    }

    #[test]
    fn integer_ranges_step_and_pad() {
        let t = table(
            &[("bucket", ColumnType::Int)],
            &[
                ("projection.enabled", "true"),
                ("projection.bucket.type", "integer"),
                ("projection.bucket.range", "0,20"),
                ("projection.bucket.interval", "5"),
                ("projection.bucket.digits", "3"),
            ],
        );
        let mut filter = PartitionFilter::all();
        filter.and(
            "bucket",
            Domain::range(Bound::Included(Value::Int(3)), Bound::Unbounded),
        );
        assert_eq!(
            prefixes(&t, &filter),
            [
                "prefix/bucket=005",
                "prefix/bucket=010",
                "prefix/bucket=015",
                "prefix/bucket=020"
            ]
        );
        let mut off_grid = PartitionFilter::all();
        off_grid.and("bucket", Domain::point(Value::Int(7)));
        assert!(prefixes(&t, &off_grid).is_empty());
    }

    #[test]
    fn bad_properties_name_the_property() {
        let date = [("dt", ColumnType::String)];
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("projection.enabled", "yes")],
                "projection.enabled: must be 'true' or 'false', not 'yes'",
            ),
            (
                &[("projection.enabled", "true")],
                "projection.dt.type: is required",
            ),
            (
                &[
                    ("projection.enabled", "true"),
                    ("projection.dt.type", "date"),
                    ("projection.dt.format", "yyyy-MM-dd"),
                    ("projection.dt.range", "2024-01-01"),
                ],
                "projection.dt.range: must be 'min,max'",
            ),
            (
                &[
                    ("projection.enabled", "true"),
                    ("projection.dt.type", "date"),
                    ("projection.dt.format", "yyyy-MM-dd"),
                    ("projection.dt.range", "2024-01-01,NOW+1FORTNIGHT"),
                ],
                "projection.dt.range: 'NOW+1FORTNIGHT' is neither a date",
            ),
            (
                &[
                    ("projection.enabled", "true"),
                    ("projection.dt.type", "injected"),
                    ("storage.location.template", "s3://bucket/p/${dt}/${nope}/"),
                ],
                "storage.location.template: 's3://bucket/p/${dt}/${nope}/' names ${nope}, which is not a partition column",
            ),
            (
                &[
                    ("projection.enabled", "true"),
                    ("projection.dt.type", "injected"),
                    ("storage.location.template", "s3://bucket/p/"),
                ],
                "has no ${column} placeholder",
            ),
            (
                &[
                    ("projection.enabled", "true"),
                    ("projection.dt.type", "enum"),
                    ("projection.dt.values", "a,../b"),
                ],
                "projection.dt.values: '../b' would escape the table's location",
            ),
        ];
        for (properties, expected) in cases {
            let message = problem_of(&date, properties);
            assert!(message.contains(expected), "{message}");
        }
        let two = [("dt", ColumnType::String), ("hour", ColumnType::Int)];
        let message = problem_of(
            &two,
            &[
                ("projection.enabled", "true"),
                ("projection.dt.type", "injected"),
                ("projection.hour.type", "injected"),
                ("storage.location.template", "s3://bucket/p/${dt}/"),
            ],
        );
        assert!(
            message.ends_with("does not place partition column 'hour'"),
            "{message}"
        );
    }
}
