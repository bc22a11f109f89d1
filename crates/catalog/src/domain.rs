//! The values a query allows for each partition column.
//!
//! A [`Domain`] is a union of disjoint intervals of [`Value`]s; a [`PartitionFilter`] holds one
//! domain per constrained column, all of which must hold (a conjunction). The engine derives
//! them from SQL predicates; the catalog uses them to choose prefixes without reading data.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

use crate::value::Value;

/// One interval of values, each end open, closed or unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    low: Bound<Value>,
    high: Bound<Value>,
}

impl Interval {
    fn is_empty(&self) -> bool {
        match (&self.low, &self.high) {
            (Bound::Included(l), Bound::Included(h)) => l > h,
            (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(h))
            | (Bound::Excluded(l), Bound::Included(h)) => l >= h,
            _ => false,
        }
    }

    fn contains(&self, value: &Value) -> bool {
        let above_low = match &self.low {
            Bound::Unbounded => true,
            Bound::Included(l) => value >= l,
            Bound::Excluded(l) => value > l,
        };
        let below_high = match &self.high {
            Bound::Unbounded => true,
            Bound::Included(h) => value <= h,
            Bound::Excluded(h) => value < h,
        };
        above_low && below_high
    }

    fn as_point(&self) -> Option<&Value> {
        match (&self.low, &self.high) {
            (Bound::Included(l), Bound::Included(h)) if l == h => Some(l),
            _ => None,
        }
    }
}

/// Orders lower bounds: unbounded first, and `[v` before `(v`.
fn cmp_low(a: &Bound<Value>, b: &Bound<Value>) -> Ordering {
    match (a, b) {
        (Bound::Unbounded, Bound::Unbounded) => Ordering::Equal,
        (Bound::Unbounded, _) => Ordering::Less,
        (_, Bound::Unbounded) => Ordering::Greater,
        (Bound::Included(x) | Bound::Excluded(x), Bound::Included(y) | Bound::Excluded(y)) => {
            x.cmp(y).then_with(|| match (a, b) {
                (Bound::Included(_), Bound::Excluded(_)) => Ordering::Less,
                (Bound::Excluded(_), Bound::Included(_)) => Ordering::Greater,
                _ => Ordering::Equal,
            })
        }
    }
}

/// Orders upper bounds: unbounded last, and `v)` before `v]`.
fn cmp_high(a: &Bound<Value>, b: &Bound<Value>) -> Ordering {
    match (a, b) {
        (Bound::Unbounded, Bound::Unbounded) => Ordering::Equal,
        (Bound::Unbounded, _) => Ordering::Greater,
        (_, Bound::Unbounded) => Ordering::Less,
        (Bound::Included(x) | Bound::Excluded(x), Bound::Included(y) | Bound::Excluded(y)) => {
            x.cmp(y).then_with(|| match (a, b) {
                (Bound::Excluded(_), Bound::Included(_)) => Ordering::Less,
                (Bound::Included(_), Bound::Excluded(_)) => Ordering::Greater,
                _ => Ordering::Equal,
            })
        }
    }
}

/// Whether an interval ending at `high` overlaps or meets one starting at `low`, leaving no
/// value between them: true unless `low` lies above `high`, or both exclude the same value.
fn touches(high: &Bound<Value>, low: &Bound<Value>) -> bool {
    match (high, low) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => true,
        (Bound::Excluded(h), Bound::Excluded(l)) => l < h,
        (Bound::Included(h) | Bound::Excluded(h), Bound::Included(l) | Bound::Excluded(l)) => {
            l <= h
        }
    }
}

/// The set of values a partition column may take: a union of disjoint, sorted intervals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    intervals: Vec<Interval>,
}

impl Domain {
    /// Every value, NULL included: no constraint.
    pub fn all() -> Self {
        Self {
            intervals: vec![Interval {
                low: Bound::Unbounded,
                high: Bound::Unbounded,
            }],
        }
    }

    /// No value at all: the query can match no partition.
    pub fn none() -> Self {
        Self {
            intervals: Vec::new(),
        }
    }

    /// Exactly one value.
    pub fn point(value: Value) -> Self {
        Self::range(Bound::Included(value.clone()), Bound::Included(value))
    }

    /// Any of the given values (`IN (…)`).
    pub fn points(values: impl IntoIterator<Item = Value>) -> Self {
        values
            .into_iter()
            .map(Self::point)
            .fold(Self::none(), |acc, d| acc.union(&d))
    }

    /// The values between two bounds. SQL comparisons never match NULL, so a range that is
    /// unbounded below still excludes it.
    pub fn range(low: Bound<Value>, high: Bound<Value>) -> Self {
        let low = match low {
            Bound::Unbounded => Bound::Excluded(Value::Null),
            bound => bound,
        };
        let interval = Interval { low, high };
        if interval.is_empty() {
            Self::none()
        } else {
            Self {
                intervals: vec![interval],
            }
        }
    }

    /// The values both domains allow.
    pub fn intersect(&self, other: &Self) -> Self {
        let mut intervals = Vec::new();
        for a in &self.intervals {
            for b in &other.intervals {
                let low = if cmp_low(&a.low, &b.low) == Ordering::Greater {
                    &a.low
                } else {
                    &b.low
                };
                let high = if cmp_high(&a.high, &b.high) == Ordering::Less {
                    &a.high
                } else {
                    &b.high
                };
                let interval = Interval {
                    low: low.clone(),
                    high: high.clone(),
                };
                if !interval.is_empty() {
                    intervals.push(interval);
                }
            }
        }
        Self::normalized(intervals)
    }

    /// The values either domain allows.
    pub fn union(&self, other: &Self) -> Self {
        Self::normalized(
            self.intervals
                .iter()
                .chain(&other.intervals)
                .cloned()
                .collect(),
        )
    }

    fn normalized(mut intervals: Vec<Interval>) -> Self {
        intervals.sort_by(|a, b| cmp_low(&a.low, &b.low));
        let mut merged: Vec<Interval> = Vec::with_capacity(intervals.len());
        for interval in intervals {
            match merged.last_mut() {
                Some(last) if touches(&last.high, &interval.low) => {
                    if cmp_high(&interval.high, &last.high) == Ordering::Greater {
                        last.high = interval.high;
                    }
                }
                _ => merged.push(interval),
            }
        }
        Self { intervals: merged }
    }

    /// Whether the domain allows `value`.
    pub fn contains(&self, value: &Value) -> bool {
        self.intervals.iter().any(|i| i.contains(value))
    }

    /// Whether the domain allows every value.
    pub fn is_all(&self) -> bool {
        *self == Self::all()
    }

    /// Whether the domain allows no value.
    pub fn is_none(&self) -> bool {
        self.intervals.is_empty()
    }

    /// The same domain over other values: `f` maps each bound and must preserve order (a
    /// date-formatted string to its time, say). `None` when `f` fails on any bound.
    pub fn map_values(&self, f: impl Fn(&Value) -> Option<Value>) -> Option<Self> {
        let map = |bound: &Bound<Value>| -> Option<Bound<Value>> {
            Some(match bound {
                Bound::Unbounded => Bound::Unbounded,
                Bound::Included(Value::Null) => Bound::Included(Value::Null),
                Bound::Excluded(Value::Null) => Bound::Excluded(Value::Null),
                Bound::Included(v) => Bound::Included(f(v)?),
                Bound::Excluded(v) => Bound::Excluded(f(v)?),
            })
        };
        let intervals = self
            .intervals
            .iter()
            .map(|i| {
                Some(Interval {
                    low: map(&i.low)?,
                    high: map(&i.high)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self::normalized(
            intervals.into_iter().filter(|i| !i.is_empty()).collect(),
        ))
    }

    /// The lowest and highest non-null values the domain allows, each `None` when unbounded.
    /// `None` for an empty domain.
    pub fn hull(&self) -> Option<(Option<&Value>, Option<&Value>)> {
        let first = self.intervals.first()?;
        let last = self.intervals.last()?;
        let low = match &first.low {
            Bound::Included(Value::Null) | Bound::Excluded(Value::Null) | Bound::Unbounded => None,
            Bound::Included(v) | Bound::Excluded(v) => Some(v),
        };
        let high = match &last.high {
            Bound::Unbounded => None,
            Bound::Included(v) | Bound::Excluded(v) => Some(v),
        };
        Some((low, high))
    }

    /// The allowed values, when the domain is a finite list of them (`=` and `IN`).
    pub fn as_points(&self) -> Option<Vec<&Value>> {
        self.intervals.iter().map(Interval::as_point).collect()
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            return f.write_str("∅");
        }
        for (i, interval) in self.intervals.iter().enumerate() {
            if i > 0 {
                f.write_str(" ∪ ")?;
            }
            if let Some(point) = interval.as_point() {
                write!(f, "{{{point}}}")?;
                continue;
            }
            match &interval.low {
                Bound::Unbounded => f.write_str("(-∞")?,
                Bound::Included(v) => write!(f, "[{v}")?,
                Bound::Excluded(Value::Null) => f.write_str("(-∞")?,
                Bound::Excluded(v) => write!(f, "({v}")?,
            }
            match &interval.high {
                Bound::Unbounded => f.write_str(", ∞)")?,
                Bound::Included(v) => write!(f, ", {v}]")?,
                Bound::Excluded(v) => write!(f, ", {v})")?,
            }
        }
        Ok(())
    }
}

/// The constraint a query puts on a table's partition columns: each named column's value must
/// lie in its domain. Columns not named are unconstrained.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionFilter {
    domains: BTreeMap<String, Domain>,
}

impl PartitionFilter {
    /// No constraint: every partition.
    pub fn all() -> Self {
        Self::default()
    }

    /// Adds a constraint on `column`, intersected with any already there.
    pub fn and(&mut self, column: &str, domain: Domain) {
        let entry = self
            .domains
            .entry(column.to_string())
            .or_insert_with(Domain::all);
        *entry = entry.intersect(&domain);
    }

    /// The domain of `column` (every value when unconstrained).
    pub fn domain(&self, column: &str) -> Domain {
        self.domains
            .get(column)
            .cloned()
            .unwrap_or_else(Domain::all)
    }

    /// Whether a partition with these column values passes the filter.
    pub fn matches<'a>(&self, values: impl IntoIterator<Item = (&'a str, &'a Value)>) -> bool {
        values.into_iter().all(|(column, value)| {
            self.domains
                .get(column)
                .is_none_or(|domain| domain.contains(value))
        })
    }

    /// Whether no partition can pass the filter.
    pub fn is_none(&self) -> bool {
        self.domains.values().any(Domain::is_none)
    }
}

impl fmt::Display for PartitionFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (column, domain) in &self.domains {
            if !first {
                f.write_str(" AND ")?;
            }
            first = false;
            write!(f, "{column} ∈ {domain}")?;
        }
        if first {
            f.write_str("all partitions")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: i64) -> Value {
        Value::Int(v)
    }

    fn between(lo: i64, hi: i64) -> Domain {
        Domain::range(Bound::Included(int(lo)), Bound::Included(int(hi)))
    }

    #[test]
    fn ranges_intersect_and_union() {
        let d = between(1, 10).intersect(&between(5, 20));
        assert_eq!(d, between(5, 10));
        assert_eq!(d.to_string(), "[5, 10]");

        let u = between(1, 3).union(&between(2, 6)).union(&between(8, 9));
        assert_eq!(u.to_string(), "[1, 6] ∪ [8, 9]");
        assert!(u.contains(&int(4)) && !u.contains(&int(7)) && u.contains(&int(9)));
    }

    #[test]
    fn open_bounds_are_respected() {
        let lt5 = Domain::range(Bound::Unbounded, Bound::Excluded(int(5)));
        let ge5 = Domain::range(Bound::Included(int(5)), Bound::Unbounded);
        assert!(lt5.intersect(&ge5).is_none());
        assert!(!lt5.contains(&int(5)) && lt5.contains(&int(4)));
        // x < 5 OR x >= 5 is every non-null value, but still not NULL.
        let either = lt5.union(&ge5);
        assert!(either.contains(&int(5)) && !either.contains(&Value::Null));
        // x < 5 OR x > 5 leaves a hole at 5.
        let gt5 = Domain::range(Bound::Excluded(int(5)), Bound::Unbounded);
        assert!(!lt5.union(&gt5).contains(&int(5)));
    }

    #[test]
    fn points_come_back_as_points() {
        let d = Domain::points([int(3), int(1), int(3)]);
        assert_eq!(d.as_points(), Some(vec![&int(1), &int(3)]));
        assert_eq!(d.intersect(&between(2, 9)).as_points(), Some(vec![&int(3)]));
        assert_eq!(between(1, 2).as_points(), None);
        assert_eq!(Domain::all().as_points(), None);
    }

    #[test]
    fn empty_ranges_are_none() {
        assert!(between(5, 1).is_none());
        assert!(Domain::range(Bound::Excluded(int(1)), Bound::Excluded(int(1))).is_none());
        assert!(Domain::all().is_all() && !between(1, 2).is_all());
    }

    #[test]
    fn filter_is_a_conjunction_per_column() {
        let mut filter = PartitionFilter::all();
        filter.and("dt", between(1, 10));
        filter.and("dt", between(8, 30));
        filter.and("region", Domain::point(Value::String("a".into())));
        assert_eq!(filter.to_string(), "dt ∈ [8, 10] AND region ∈ {a}");
        let a = Value::String("a".into());
        assert!(filter.matches([("dt", &int(9)), ("region", &a)]));
        assert!(!filter.matches([("dt", &int(7)), ("region", &a)]));
        assert!(PartitionFilter::all().matches([("dt", &Value::Null)]));
    }

    /// Domains built from points and ranges of small integers (NULL included), combined by
    /// union and intersection; each is kept beside the set of values it should contain.
    fn domains() -> impl proptest::strategy::Strategy<Value = (Domain, Vec<Option<i64>>)> {
        use proptest::prelude::*;
        let universe = || (-6i64..=6).map(Some).chain([None]);
        let bound = || {
            prop_oneof![
                Just(Bound::Unbounded),
                (-6i64..=6).prop_map(Bound::Included),
                (-6i64..=6).prop_map(Bound::Excluded),
            ]
        };
        let leaf = prop_oneof![
            Just((Domain::all(), universe().collect())),
            Just((Domain::none(), Vec::new())),
            proptest::collection::vec(-6i64..=6, 0..4).prop_map(move |points| {
                let domain = Domain::points(points.iter().map(|p| Value::Int(*p)));
                (domain, points.into_iter().map(Some).collect())
            }),
            (bound(), bound()).prop_map(move |(low, high)| {
                let inside = |v: i64| {
                    let above = match low {
                        Bound::Unbounded => true,
                        Bound::Included(l) => v >= l,
                        Bound::Excluded(l) => v > l,
                    };
                    let below = match high {
                        Bound::Unbounded => true,
                        Bound::Included(h) => v <= h,
                        Bound::Excluded(h) => v < h,
                    };
                    above && below
                };
                let members = (-6i64..=6).filter(|v| inside(*v)).map(Some).collect();
                let domain = Domain::range(low.map(Value::Int), high.map(Value::Int));
                (domain, members)
            }),
        ];
        leaf.prop_recursive(3, 16, 2, |inner| {
            (inner.clone(), inner, any::<bool>()).prop_map(|((a, sa), (b, sb), union)| {
                if union {
                    let mut members = sa.clone();
                    members.extend(sb.iter().filter(|v| !sa.contains(v)));
                    (a.union(&b), members)
                } else {
                    let members = sa.into_iter().filter(|v| sb.contains(v)).collect();
                    (a.intersect(&b), members)
                }
            })
        })
    }

    proptest::proptest! {
        /// Union and intersection are the set operations on the values a domain contains; its
        /// points, when it has few, are exactly those values; its hull bounds them.
        #[test]
        fn the_algebra_is_set_algebra((domain, members) in domains()) {
            for v in (-6i64..=6).map(Some).chain([None]) {
                let value = v.map_or(Value::Null, Value::Int);
                proptest::prop_assert_eq!(domain.contains(&value), members.contains(&v), "{} {:?}", domain, v);
            }
            // The model knows only -6..=6: a domain without members there may hold 7.
            proptest::prop_assert!(!domain.is_none() || members.is_empty());
            if let Some(points) = domain.as_points() {
                let mut expected: Vec<Value> =
                    members.iter().map(|v| v.map_or(Value::Null, Value::Int)).collect();
                expected.sort();
                expected.dedup();
                let mut points: Vec<Value> = points.into_iter().cloned().collect();
                points.sort();
                proptest::prop_assert_eq!(points, expected);
            }
            if let Some((low, high)) = domain.hull() {
                for v in members.iter().flatten() {
                    let value = Value::Int(*v);
                    proptest::prop_assert!(low.is_none_or(|l| l <= &value) && high.is_none_or(|h| &value <= h));
                }
            }
        }
    }
}
