//! Live tables and views: the catalog entries that are not stored tables of their own.
//!
//! A **live table** is the Lambda architecture's serving view: every row of a *batch* table
//! (compacted history) plus the rows of a *speed* table (the raw zone, as Firehose lands it)
//! that no compaction into the batch table consumed yet. Its file is a table file with a
//! `[live]` section instead of a location:
//!
//! ```toml
//! comment = "listing views up to the last second"
//!
//! [live]
//! batch = "views"              # the compacted table ("db.table", or a table of this database)
//! speed = "views_raw"          # the raw table compactions into `batch` consume
//! event_time = "event_time"    # when each event happened (optional)
//! arrival = "datehour"         # the speed table's partition column: the hour events landed
//! skew = "0s"                  # how far event clocks may run ahead of arrival (default 0)
//! listing_ttl = "0s"           # how long a listing of the speed side is reused (default 0)
//!
//! [live.set]                   # batch columns the speed table lacks, as COMPACT computes them
//! dt = "date(event_time)"
//! ```
//!
//! The boundary between the two sides is not a time but the batch table's manifest: the
//! objects of the speed table its compactions consumed (`minerva_catalog::Manifest`), read
//! once per query. An event is in the batch side once the compaction that consumed its object
//! committed, and in the speed side until then, however late it arrived. `event_time` and
//! `arrival` only prune: an event never lands before it happens, so `event_time >= t` keeps
//! the arrival partitions from `t`'s on.
//!
//! A **view** is a query kept as `<database>/<view>.sql`, its text exactly as written.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::table::{DEFAULT_DATABASE, FileProblem};

/// A live table, as its file defines it. Built only by parsing one, which checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTable {
    database: String,
    name: String,
    comment: Option<String>,
    batch: (String, String),
    speed: (String, String),
    event_time: Option<String>,
    arrival: Option<String>,
    skew: std::time::Duration,
    listing_ttl: std::time::Duration,
    set: Vec<(String, String)>,
}

impl LiveTable {
    /// The database it belongs to.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `database.name`.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.database, self.name)
    }

    /// Its comment.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The compacted table: `(database, table)`.
    pub fn batch(&self) -> (&str, &str) {
        (&self.batch.0, &self.batch.1)
    }

    /// The raw table: `(database, table)`.
    pub fn speed(&self) -> (&str, &str) {
        (&self.speed.0, &self.speed.1)
    }

    /// The column holding each event's time, if named.
    pub fn event_time(&self) -> Option<&str> {
        self.event_time.as_deref()
    }

    /// The speed table's partition column holding the time its objects landed, if named.
    pub fn arrival(&self) -> Option<&str> {
        self.arrival.as_deref()
    }

    /// How far ahead of the arrival clock the event-time clock may run (default zero): pruning
    /// arrivals by event time keeps this much earlier.
    pub fn skew(&self) -> std::time::Duration {
        self.skew
    }

    /// How long a listing of the speed side's partitions may be reused (default zero: every
    /// query lists them, so an object is counted by the next query after it lands).
    pub fn listing_ttl(&self) -> std::time::Duration {
        self.listing_ttl
    }

    /// Batch columns the speed side computes: `(column, SQL expression over the speed
    /// table's columns)`, sorted by column.
    pub fn set(&self) -> &[(String, String)] {
        &self.set
    }

    /// Whether the text of a table file defines a live table (it has a `[live]` section).
    pub(crate) fn is_live_file(text: &str) -> bool {
        text.parse::<toml::Table>()
            .is_ok_and(|table| table.contains_key("live"))
    }

    /// Parses and checks a live table file.
    pub(crate) fn parse(text: &str, database: &str, name: &str) -> Result<Self, FileProblem> {
        let file: LiveFile = toml::from_str(text).map_err(|e| FileProblem {
            span: e.span(),
            message: e.message().trim().to_string(),
        })?;
        let live = file.live;
        let table = |field: &str, value: &Spanned<String>| {
            let (db, table) = match value.get_ref().split_once('.') {
                Some((db, table)) => (db.to_string(), table.to_string()),
                None => (database.to_string(), value.get_ref().clone()),
            };
            if !identifier(&db) || !identifier(&table) {
                return Err(FileProblem {
                    span: Some(value.span()),
                    message: format!(
                        "field 'live.{field}': '{}' is not a table name (write 'table' or 'database.table')",
                        value.get_ref()
                    ),
                });
            }
            if (db.as_str(), table.as_str()) == (database, name) {
                return Err(FileProblem {
                    span: Some(value.span()),
                    message: format!("field 'live.{field}': a live table cannot read itself"),
                });
            }
            Ok((db, table))
        };
        let batch = table("batch", &live.batch)?;
        let speed = table("speed", &live.speed)?;
        if batch == speed {
            return Err(FileProblem {
                span: Some(live.speed.span()),
                message: "field 'live.speed': the speed table must differ from the batch table"
                    .to_string(),
            });
        }
        let column = |field: &str, value: &Option<Spanned<String>>| match value {
            Some(v) if !identifier(v.get_ref()) => Err(FileProblem {
                span: Some(v.span()),
                message: format!(
                    "field 'live.{field}': '{}' is not a column name",
                    v.get_ref()
                ),
            }),
            Some(v) => Ok(Some(v.get_ref().clone())),
            None => Ok(None),
        };
        let event_time = column("event_time", &live.event_time)?;
        let arrival = column("arrival", &live.arrival)?;
        if let (Some(a), None) = (&live.arrival, &event_time) {
            return Err(FileProblem {
                span: Some(a.span()),
                message: "field 'live.arrival' prunes by event time: name 'live.event_time' too"
                    .to_string(),
            });
        }
        let duration = |field: &str, value: &Option<Spanned<String>>| match value {
            Some(text) => humantime::parse_duration(text.get_ref()).map_err(|e| FileProblem {
                span: Some(text.span()),
                message: format!(
                    "field 'live.{field}': '{}' is not a duration ({e}); write e.g. '5m'",
                    text.get_ref()
                ),
            }),
            None => Ok(std::time::Duration::ZERO),
        };
        let skew = duration("skew", &live.skew)?;
        let listing_ttl = duration("listing_ttl", &live.listing_ttl)?;
        let mut set = Vec::new();
        for (column, expression) in live.set {
            if !identifier(&column) {
                return Err(FileProblem {
                    span: Some(expression.span()),
                    message: format!("field 'live.set': '{column}' is not a column name"),
                });
            }
            if expression.get_ref().trim().is_empty() {
                return Err(FileProblem {
                    span: Some(expression.span()),
                    message: format!("field 'live.set.{column}': the expression is empty"),
                });
            }
            set.push((column, expression.get_ref().trim().to_string()));
        }
        Ok(Self {
            database: database.to_string(),
            name: name.to_string(),
            comment: file.comment,
            batch,
            speed,
            event_time,
            arrival,
            skew,
            listing_ttl,
            set,
        })
    }
}

/// A view: a query kept in the catalog as `<database>/<name>.sql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    database: String,
    name: String,
    sql: String,
}

impl View {
    /// A view of `database.name` defined by the query `sql` (kept as written, without a
    /// final `;`).
    pub fn new(database: &str, name: &str, sql: &str) -> Self {
        Self {
            database: database.to_string(),
            name: name.to_string(),
            sql: sql.trim().trim_end_matches(';').trim_end().to_string(),
        }
    }

    /// The database it belongs to.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `database.name`.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.database, self.name)
    }

    /// The query, as written.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The statement that creates it again, as `SHOW CREATE VIEW` prints it.
    pub fn create_statement(&self) -> String {
        let name = if self.database == DEFAULT_DATABASE {
            self.name.clone()
        } else {
            self.qualified_name()
        };
        format!("CREATE VIEW {name} AS\n{}", self.sql)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LiveFile {
    #[serde(default)]
    comment: Option<String>,
    live: LiveSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LiveSection {
    batch: Spanned<String>,
    speed: Spanned<String>,
    #[serde(default)]
    event_time: Option<Spanned<String>>,
    #[serde(default)]
    arrival: Option<Spanned<String>>,
    #[serde(default)]
    skew: Option<Spanned<String>>,
    #[serde(default)]
    listing_ttl: Option<Spanned<String>>,
    #[serde(default)]
    set: BTreeMap<String, Spanned<String>>,
}

fn identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
comment = "right now"
[live]
batch = "views"
speed = "raw.views_raw"
event_time = "event_time"
arrival = "datehour"
[live.set]
dt = "date(event_time)"
"#;

    #[test]
    fn a_live_file_names_both_sides_and_what_the_speed_side_computes() {
        assert!(LiveTable::is_live_file(FILE));
        assert!(!LiveTable::is_live_file("location = \"x\""));
        let live = LiveTable::parse(FILE, "default", "views_live").unwrap();
        assert_eq!(live.batch(), ("default", "views"));
        assert_eq!(live.speed(), ("raw", "views_raw"));
        assert_eq!(live.arrival(), Some("datehour"));
        assert_eq!(
            live.set(),
            [("dt".to_string(), "date(event_time)".to_string())]
        );
        assert_eq!(live.comment(), Some("right now"));
    }

    #[test]
    fn mistakes_are_named_with_their_place() {
        for (text, expected) in [
            ("[live]\nbatch = \"a\"\n", "missing field `speed`"),
            (
                "[live]\nbatch = \"a\"\nspeed = \"a\"\n",
                "must differ from the batch table",
            ),
            (
                "[live]\nbatch = \"Views!\"\nspeed = \"b\"\n",
                "'Views!' is not a table name",
            ),
            (
                "[live]\nbatch = \"v\"\nspeed = \"b\"\n",
                "cannot read itself",
            ),
            (
                "[live]\nbatch = \"a\"\nspeed = \"b\"\narrival = \"h\"\n",
                "name 'live.event_time' too",
            ),
            (
                "[live]\nbatch = \"a\"\nspeed = \"b\"\nwatermark = \"x\"\n",
                "unknown field `watermark`",
            ),
            (
                "[live]\nbatch = \"a\"\nspeed = \"b\"\n[live.set]\ndt = \" \"\n",
                "the expression is empty",
            ),
            (
                "[live]\nbatch = \"a\"\nspeed = \"b\"\nlisting_ttl = \"soon\"\n",
                "field 'live.listing_ttl': 'soon' is not a duration",
            ),
        ] {
            let problem = LiveTable::parse(text, "default", "v").unwrap_err();
            assert!(
                problem.message.contains(expected),
                "{text}: {}",
                problem.message
            );
        }
    }

    #[test]
    fn a_view_keeps_its_text_and_prints_its_statement() {
        let view = View::new("default", "daily", "SELECT 1 AS x -- one\n;\n");
        assert_eq!(view.sql(), "SELECT 1 AS x -- one");
        assert_eq!(
            view.create_statement(),
            "CREATE VIEW daily AS\nSELECT 1 AS x -- one"
        );
        assert_eq!(
            View::new("web", "v", "SELECT 2").create_statement(),
            "CREATE VIEW web.v AS\nSELECT 2"
        );
    }
}
