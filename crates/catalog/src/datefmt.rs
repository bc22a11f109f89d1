//! Java `DateTimeFormatter` patterns, as Athena's partition projection writes them
//! (`yyyy-MM-dd`, `yyyy/MM/dd/HH`, `yyyyMM`, `dd-MM-yyyy`), turned into chrono formats.

use crate::error::ValueError;
use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};

/// How fine a date format or a projection step is: Java's `ChronoUnit` names, coarsest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeUnit {
    /// `YEARS`
    Years,
    /// `MONTHS`
    Months,
    /// `WEEKS`
    Weeks,
    /// `DAYS`
    Days,
    /// `HOURS`
    Hours,
    /// `MINUTES`
    Minutes,
    /// `SECONDS`
    Seconds,
    /// `MILLIS`
    Millis,
}

impl TimeUnit {
    /// Parses a unit word, singular or plural, in any case (`DAYS`, `day`, `Hours`).
    pub fn parse(word: &str) -> Option<Self> {
        let word = word.trim().to_ascii_uppercase();
        let word = word.strip_suffix('S').unwrap_or(&word);
        Some(match word {
            "YEAR" => Self::Years,
            "MONTH" => Self::Months,
            "WEEK" => Self::Weeks,
            "DAY" => Self::Days,
            "HOUR" => Self::Hours,
            "MINUTE" => Self::Minutes,
            "SECOND" => Self::Seconds,
            "MILLI" | "MILLISECOND" => Self::Millis,
            _ => return None,
        })
    }

    /// `n` of this unit after (or, for negative `n`, before) `t`; `None` past chrono's range.
    pub fn add(self, t: NaiveDateTime, n: i64) -> Option<NaiveDateTime> {
        use chrono::{Duration, Months};
        let months = |m: i64| {
            let m = u32::try_from(m.unsigned_abs()).ok()?;
            if n >= 0 {
                t.checked_add_months(Months::new(m))
            } else {
                t.checked_sub_months(Months::new(m))
            }
        };
        match self {
            Self::Years => months(n.checked_mul(12)?),
            Self::Months => months(n),
            Self::Weeks => t.checked_add_signed(Duration::try_weeks(n)?),
            Self::Days => t.checked_add_signed(Duration::try_days(n)?),
            Self::Hours => t.checked_add_signed(Duration::try_hours(n)?),
            Self::Minutes => t.checked_add_signed(Duration::try_minutes(n)?),
            Self::Seconds => t.checked_add_signed(Duration::try_seconds(n)?),
            Self::Millis => t.checked_add_signed(Duration::try_milliseconds(n)?),
        }
    }

    /// `t` with every field finer than this unit set to its start (weeks truncate to the day).
    pub fn truncate(self, t: NaiveDateTime) -> NaiveDateTime {
        use chrono::{Datelike, Timelike};
        let date = t.date();
        let day = |d: NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight exists");
        match self {
            Self::Years => day(date.with_ordinal(1).expect("day 1 exists")),
            Self::Months => day(date.with_day(1).expect("day 1 exists")),
            Self::Weeks | Self::Days => day(date),
            Self::Hours => date.and_hms_opt(t.hour(), 0, 0).expect("valid hour"),
            Self::Minutes => date
                .and_hms_opt(t.hour(), t.minute(), 0)
                .expect("valid minute"),
            Self::Seconds => t.with_nanosecond(0).expect("valid nanosecond"),
            Self::Millis => t
                .with_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
                .expect("valid nanosecond"),
        }
    }
}

impl fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Years => "YEARS",
            Self::Months => "MONTHS",
            Self::Weeks => "WEEKS",
            Self::Days => "DAYS",
            Self::Hours => "HOURS",
            Self::Minutes => "MINUTES",
            Self::Seconds => "SECONDS",
            Self::Millis => "MILLIS",
        })
    }
}

/// One field of a date pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Millis,
}

impl Field {
    /// The pattern letter that spells the field.
    fn letter(self) -> char {
        match self {
            Self::Year => 'y',
            Self::Month => 'M',
            Self::Day => 'd',
            Self::Hour => 'H',
            Self::Minute => 'm',
            Self::Second => 's',
            Self::Millis => 'S',
        }
    }

    fn unit(self) -> TimeUnit {
        match self {
            Self::Year => TimeUnit::Years,
            Self::Month => TimeUnit::Months,
            Self::Day => TimeUnit::Days,
            Self::Hour => TimeUnit::Hours,
            Self::Minute => TimeUnit::Minutes,
            Self::Second => TimeUnit::Seconds,
            Self::Millis => TimeUnit::Millis,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Text(String),
    /// A numeric field and its pattern letter count (`yyyy` is 4, `M` is 1).
    Field(Field, usize),
}

/// A Java `DateTimeFormatter` pattern: `yyyy-MM-dd`, `yyyy/MM/dd/HH`, `yyyyMM`, `dd-MM-yyyy`.
///
/// Numeric fields only (`y u M d H m s S`), quoted text and punctuation, which is what
/// partition paths use. A field written with two or more letters has exactly that many digits
/// (four for `yyyy`), so adjacent fields (`yyyyMMdd`) read back unambiguously.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateFormat {
    java: String,
    tokens: Vec<Token>,
    finest: TimeUnit,
}

impl DateFormat {
    /// Reads a Java pattern; letters outside the supported set are refused, naming them.
    ///
    /// Long by design: one pass over the pattern, one arm per letter.
    pub fn parse(java: &str) -> Result<Self, ValueError> {
        let mut tokens = Vec::new();
        let mut text = String::new();
        let mut chars = java.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                // Quoted literal text; '' is a quote.
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    text.push('\'');
                    continue;
                }
                loop {
                    match chars.next() {
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            text.push('\'');
                        }
                        Some('\'') => break,
                        Some(other) => text.push(other),
                        None => {
                            return Err(ValueError::UnclosedQuote {
                                pattern: java.to_string(),
                            });
                        }
                    }
                }
                continue;
            }
            if !c.is_ascii_alphabetic() {
                text.push(c);
                continue;
            }
            let mut count = 1;
            while chars.peek() == Some(&c) {
                chars.next();
                count += 1;
            }
            let field = match (c, count) {
                // At most nine digits are read back (found by the `date_format` fuzz target).
                ('y' | 'u', 1..=9) => Field::Year,
                ('M', 1 | 2) => Field::Month,
                ('d', 1 | 2) => Field::Day,
                ('H', 1 | 2) => Field::Hour,
                ('m', 1 | 2) => Field::Minute,
                ('s', 1 | 2) => Field::Second,
                ('S', 3) => Field::Millis,
                _ => {
                    return Err(ValueError::UnsupportedPattern {
                        pattern: java.to_string(),
                        letters: c.to_string().repeat(count),
                    });
                }
            };
            if !text.is_empty() {
                tokens.push(Token::Text(std::mem::take(&mut text)));
            }
            tokens.push(Token::Field(field, count));
        }
        if !text.is_empty() {
            tokens.push(Token::Text(text));
        }
        // A field of no fixed width (one letter; `yyy`, which 1970 overflows) must not run into
        // a next field or into text that starts with a digit: `yyyymMM` would write minute 0 and
        // month 1 as `001`, `M1` month 1 as `11` (both found by the `date_format` fuzz target).
        for pair in tokens.windows(2) {
            let (Token::Field(field, count), next) = (&pair[0], &pair[1]) else {
                continue;
            };
            let variable = *count == 1 || (*field == Field::Year && *count == 3);
            let touches = match next {
                Token::Field(..) => true,
                Token::Text(t) => t.starts_with(|c: char| c.is_ascii_digit()),
            };
            if variable && touches {
                return Err(ValueError::AmbiguousPattern {
                    pattern: java.to_string(),
                    letters: field.letter().to_string().repeat(*count),
                });
            }
        }
        let fields: Vec<Field> = tokens
            .iter()
            .filter_map(|t| match t {
                Token::Field(f, _) => Some(*f),
                Token::Text(_) => None,
            })
            .collect();
        if !fields.contains(&Field::Year) {
            return Err(ValueError::NoYear {
                pattern: java.to_string(),
            });
        }
        let finest = fields
            .iter()
            .map(|f| f.unit())
            .max()
            .expect("a year is there");
        Ok(Self {
            java: java.to_string(),
            tokens,
            finest,
        })
    }

    /// The finest field the pattern spells.
    pub fn finest(&self) -> TimeUnit {
        self.finest
    }

    /// Whether the pattern spells only a calendar day or coarser (no time of day).
    pub fn is_date_only(&self) -> bool {
        self.finest <= TimeUnit::Days
    }

    /// Whether spelled values sort as text in time order: fixed-width fields, coarsest first
    /// (`yyyy-MM-dd`, `yyyy/MM/dd/HH`), unlike `dd-MM-yyyy`.
    pub fn sorts_as_text(&self) -> bool {
        let mut previous: Option<TimeUnit> = None;
        self.tokens.iter().all(|t| match t {
            Token::Text(_) => true,
            Token::Field(field, count) => {
                let fixed = match field {
                    Field::Year => *count == 4,
                    Field::Millis => true,
                    _ => *count == 2,
                };
                let in_order = previous.is_none_or(|p| p < field.unit());
                previous = Some(field.unit());
                fixed && in_order
            }
        })
    }

    /// Spells `t`.
    pub fn format(&self, t: NaiveDateTime) -> String {
        use chrono::{Datelike, Timelike};
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Text(text) => out.push_str(text),
                Token::Field(field, count) => {
                    let value = match field {
                        Field::Year if *count == 2 => i64::from(t.year().rem_euclid(100)),
                        Field::Year => i64::from(t.year()),
                        Field::Month => i64::from(t.month()),
                        Field::Day => i64::from(t.day()),
                        Field::Hour => i64::from(t.hour()),
                        Field::Minute => i64::from(t.minute()),
                        Field::Second => i64::from(t.second()),
                        Field::Millis => i64::from(t.nanosecond() / 1_000_000),
                    };
                    let width = if *count == 1 { 0 } else { *count };
                    out.push_str(&format!("{value:0width$}"));
                }
            }
        }
        out
    }

    /// Reads text written in this format; fields the pattern lacks take their first value.
    pub fn parse_time(&self, text: &str) -> Option<NaiveDateTime> {
        let (mut year, mut month, mut day) = (None, 1, 1);
        let (mut hour, mut minute, mut second, mut millis) = (0, 0, 0, 0);
        let mut rest = text;
        for token in &self.tokens {
            match token {
                Token::Text(literal) => rest = rest.strip_prefix(literal.as_str())?,
                Token::Field(field, count) => {
                    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                    let take = match (field, count) {
                        (Field::Year, 1 | 3) => digits.min(9),
                        (Field::Year, 2) => 2,
                        (Field::Year, n) => (*n).clamp(4, 9),
                        (_, 1) => digits.min(2),
                        (_, n) => *n,
                    };
                    if take == 0 || digits < take {
                        return None;
                    }
                    let value: u32 = rest[..take].parse().ok()?;
                    rest = &rest[take..];
                    match field {
                        Field::Year if *count == 2 => year = Some(2000 + value as i32),
                        Field::Year => year = Some(i32::try_from(value).ok()?),
                        Field::Month => month = value,
                        Field::Day => day = value,
                        Field::Hour => hour = value,
                        Field::Minute => minute = value,
                        Field::Second => second = value,
                        Field::Millis => millis = value,
                    }
                }
            }
        }
        if !rest.is_empty() {
            return None;
        }
        NaiveDate::from_ymd_opt(year?, month, day)?.and_hms_milli_opt(hour, minute, second, millis)
    }
}

impl fmt::Display for DateFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.java)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn java_patterns_round_trip() {
        let at = t("2024-03-07 09:05:02");
        for (java, text) in [
            ("yyyy-MM-dd", "2024-03-07"),
            ("yyyy/MM/dd/HH", "2024/03/07/09"),
            ("yyyyMM", "202403"),
            ("yyyy", "2024"),
            ("dd-MM-yyyy", "07-03-2024"),
            ("yyyy-MM-dd'T'HH:mm:ss", "2024-03-07T09:05:02"),
            ("yyyyMMddHH", "2024030709"),
            ("yyyy-M-d", "2024-3-7"),
            ("'year='yyyy'/month='MM", "year=2024/month=03"),
        ] {
            let format = DateFormat::parse(java).unwrap();
            assert_eq!(format.format(at), text, "{java}");
            let back = format.parse_time(text).unwrap();
            assert_eq!(format.finest().truncate(at), back, "{java}");
        }
    }

    #[test]
    fn precision_and_refusals() {
        assert_eq!(
            DateFormat::parse("yyyyMM").unwrap().finest(),
            TimeUnit::Months
        );
        assert!(DateFormat::parse("yyyy-MM-dd").unwrap().is_date_only());
        assert!(!DateFormat::parse("yyyy/MM/dd/HH").unwrap().is_date_only());
        assert!(DateFormat::parse("yyyy/MM/dd/HH").unwrap().sorts_as_text());
        assert!(!DateFormat::parse("dd-MM-yyyy").unwrap().sorts_as_text());
        assert!(!DateFormat::parse("yyyy-M-d").unwrap().sorts_as_text());
        for bad in ["yyyy-MM-dd EEE", "MM-dd", "'x", "", "yyyy-MMM"] {
            assert!(DateFormat::parse(bad).is_err(), "{bad}");
        }
        let format = DateFormat::parse("yyyy-MM-dd").unwrap();
        assert_eq!(format.parse_time("2024-02-30"), None);
        assert_eq!(format.parse_time("nonsense"), None);
    }

    /// Found by the `date_format` fuzz target: a one-letter field running into the next one
    /// wrote text it could not read back.
    #[test]
    fn variable_width_fields_must_not_touch_the_next_field() {
        for pattern in [
            "yyyymMM/_d/HH",
            "yyyyMdd",
            "yMM",
            "yyyMM",
            "dd-M1-yy H_____ss.d-MM",
        ] {
            let error = DateFormat::parse(pattern).unwrap_err();
            assert!(
                error.to_string().contains("no fixed width"),
                "{pattern}: {error}"
            );
        }
        assert!(
            DateFormat::parse("yyyyyyyyyyyyyyy").is_err(),
            "fifteen digits of year"
        );
        let loose = DateFormat::parse("yyyy-M-d H").unwrap();
        let at = t("2024-01-05 07:00:00");
        assert_eq!(loose.parse_time(&loose.format(at)), Some(at));
    }

    #[test]
    fn units_step_and_truncate() {
        let at = t("2024-01-31 10:30:00");
        assert_eq!(TimeUnit::Months.add(at, 1), Some(t("2024-02-29 10:30:00")));
        assert_eq!(TimeUnit::Years.add(at, -3), Some(t("2021-01-31 10:30:00")));
        assert_eq!(TimeUnit::Hours.add(at, 14), Some(t("2024-02-01 00:30:00")));
        assert_eq!(TimeUnit::Months.truncate(at), t("2024-01-01 00:00:00"));
        assert_eq!(TimeUnit::Hours.truncate(at), t("2024-01-31 10:00:00"));
        assert_eq!(TimeUnit::parse("hour"), Some(TimeUnit::Hours));
        assert_eq!(TimeUnit::parse("DAYS"), Some(TimeUnit::Days));
        assert_eq!(TimeUnit::parse("fortnights"), None);
    }

    proptest::proptest! {
        /// Any pattern of fixed-width fields from the year down to its finest one, in any order
        /// and between any literal text, reads back what it wrote, to its precision.
        #[test]
        fn fixed_width_patterns_round_trip(
            fields in proptest::sample::subsequence(&["MM", "dd", "HH", "mm", "ss"][..], 0..=5),
            order in proptest::collection::vec(0usize..8, 7),
            separators in proptest::collection::vec(
                proptest::sample::select(&["", "-", "/", "_", " ", "'T'", "'h='", "''"][..]),
                7,
            ),
            seconds in 0i64..4_102_444_800,
            millis in 0u32..1000,
        ) {
            // A prefix of the units, so no coarser unit is missing, shuffled by `order`.
            let units = ["MM", "dd", "HH", "mm", "ss"];
            let mut chosen: Vec<&str> = std::iter::once("yyyy")
                .chain(units.iter().copied().take(fields.len()))
                .collect();
            if chosen.last() == Some(&"ss") && millis % 2 == 0 {
                chosen.push("SSS");
            }
            let mut keyed: Vec<(usize, &str)> =
                chosen.iter().enumerate().map(|(i, f)| (order[i % order.len()], *f)).collect();
            keyed.sort();
            let java: String = keyed
                .iter()
                .zip(&separators)
                .map(|((_, field), sep)| format!("{sep}{field}"))
                .collect();
            let format = DateFormat::parse(&java).unwrap();
            let at = chrono::DateTime::from_timestamp(seconds, millis * 1_000_000)
                .unwrap()
                .naive_utc();
            let text = format.format(at);
            proptest::prop_assert_eq!(
                format.parse_time(&text),
                Some(format.finest().truncate(at)),
                "{} wrote {}", java, text
            );
        }
    }
}
