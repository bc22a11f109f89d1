//! A seeded synthetic lake of the listing-view workload, and the catalog that describes it.
//!
//! One source of data for the demo lake, the tests, the benches and the examples. Everything is
//! a pure function of a [`DemoSpec`]: the same spec gives the same rows on any machine, whatever
//! the number of threads, so tests can recompute answers from the rows themselves.
//!
//! ```
//! let spec = minerva_demo::DemoSpec { days: 2, events_per_day: 1_000, ..Default::default() };
//! let batches = minerva_demo::generate_day(&spec, 0);
//! let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
//! assert_eq!(rows, 1_000);
//! ```
//!
//! # Why this shape
//! The rows follow what a real-estate app sees: listing popularity and user activity are heavy
//! tailed (a few listings and users account for much of the traffic, so DAU < WAU < MAU), a
//! listing keeps one region, service and price, and traffic peaks in the Korean evening. The
//! files are what a compaction job writes: zstd Parquet, one directory per UTC day, rows sorted
//! by listing then time (see [`compacted_day`]), so that both pruning and row group statistics
//! have something real to work with.

mod regions;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use arrow::array::{ArrayRef, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{Days, NaiveDate};
use minerva_catalog::{Catalog, Column, ColumnType, Format, Location, Serde, TableDefinition};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::WriterProperties;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use regions::regions;

/// What to generate. Every field changes the rows; the same spec always gives the same rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSpec {
    /// The first day (UTC).
    pub start: NaiveDate,
    /// How many consecutive days.
    pub days: u32,
    /// Events on each day.
    pub events_per_day: usize,
    /// The random seed.
    pub seed: u64,
    /// At most this many rows in one Parquet file; a day holds one or more files.
    pub rows_per_file: usize,
    /// At most this many rows in one row group of a file.
    pub rows_per_row_group: usize,
    /// How each day's rows are ordered in its files.
    pub order: RowOrder,
}

/// How a day's rows are laid out in its files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RowOrder {
    /// By listing, then time: what the compaction job writes (see [`compacted_day`]).
    #[default]
    Listing,
    /// By time, as the events happened: what a plain `INSERT … SELECT` or a Firehose-to-Parquet
    /// conversion writes. Row group statistics on `listing_id` then rule nothing out.
    Time,
}

impl Default for DemoSpec {
    fn default() -> Self {
        Self {
            start: NaiveDate::from_ymd_opt(2024, 1, 1).expect("a valid date"),
            days: 35,
            events_per_day: 50_000,
            seed: 42,
            rows_per_file: 2_500_000,
            rows_per_row_group: DEFAULT_ROWS_PER_ROW_GROUP,
            order: RowOrder::Listing,
        }
    }
}

/// Parquet's default row group size, which the demo lake keeps unless told otherwise.
pub const DEFAULT_ROWS_PER_ROW_GROUP: usize = 1024 * 1024;

/// The spec as one line: what the lake's marker file holds.
impl std::fmt::Display for DemoSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "start={} days={} events_per_day={} seed={} rows_per_file={}",
            self.start, self.days, self.events_per_day, self.seed, self.rows_per_file
        )?;
        if self.rows_per_row_group != DEFAULT_ROWS_PER_ROW_GROUP {
            write!(f, " rows_per_row_group={}", self.rows_per_row_group)?;
        }
        match self.order {
            RowOrder::Listing => Ok(()),
            RowOrder::Time => write!(f, " order=time"),
        }
    }
}

/// The file that marks a directory as a finished demo lake, holding its spec.
pub const MARKER: &str = ".minerva-demo";

/// Whether `out` holds a finished lake of exactly `spec` (so it need not be written again).
pub fn lake_is_current(spec: &DemoSpec, out: &Path) -> bool {
    std::fs::read_to_string(out.join(MARKER))
        .is_ok_and(|text| text.trim() == format!("{spec} {LAYOUT}"))
}

impl DemoSpec {
    /// The UTC day of day index `day`.
    pub fn date(&self, day: u32) -> NaiveDate {
        self.start + Days::new(day.into())
    }

    /// The number of files day `day` is written as.
    pub fn files_per_day(&self) -> usize {
        self.events_per_day
            .div_ceil(self.rows_per_file.max(1))
            .max(1)
    }
}

/// Something went wrong while writing the lake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A file or directory could not be written.
    #[error("cannot write '{}': {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// Parquet encoding failed.
    #[error("cannot write Parquet file '{}': {source}", path.display())]
    Parquet {
        /// The file being written.
        path: PathBuf,
        /// What the encoder said.
        source: parquet::errors::ParquetError,
    },
    /// The catalog file could not be written.
    #[error(transparent)]
    Catalog(Box<minerva_catalog::CatalogError>),
}

impl From<minerva_catalog::CatalogError> for DemoError {
    fn from(error: minerva_catalog::CatalogError) -> Self {
        Self::Catalog(Box::new(error))
    }
}

/// The columns of the `views` table's files (the `dt` partition column is in the path only).
pub fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "event_time",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("event_id", DataType::Utf8, false),
        Field::new("user_id", DataType::Int64, false),
        Field::new("session_id", DataType::Utf8, false),
        Field::new("listing_id", DataType::Int64, false),
        Field::new("region", DataType::Utf8, false),
        Field::new("service", DataType::Utf8, false),
        Field::new("platform", DataType::Utf8, false),
        Field::new("event_type", DataType::Utf8, false),
        Field::new("price", DataType::Int64, true),
    ]))
}

fn column(name: &str, ty: ColumnType, comment: &str) -> Column {
    Column {
        comment: Some(comment.to_string()),
        ..Column::new(name, ty)
    }
}

/// The live table `views_live`: `views` (compacted by day) plus the events of `views_raw` no
/// compaction into `views` consumed yet. Its file, as the catalog keeps it.
pub const VIEWS_LIVE: &str = r#"# Listing views up to the last landed object: the compacted days of `views`, plus the
# raw events of `views_raw` that no COMPACT into `views` has consumed yet. The boundary is
# views' manifest (which raw objects each compaction consumed), so every event counts once.
comment = "listing-view events right now: compacted history plus the raw zone not yet compacted"

[live]
batch = "views"
speed = "views_raw"
event_time = "event_time"   # an event lands at or after its event time…
arrival = "datehour"        # …in the hour prefix it landed in: event-time filters prune hours

[live.set]                  # what the raw rows lack, computed as COMPACT views_live does
dt = "date(event_time)"
"#;

/// The catalog definition of the `views` table at `location` (relative to the catalog dir).
pub fn views_table(location: &str, catalog_root: &Path) -> TableDefinition {
    TableDefinition {
        database: minerva_catalog::DEFAULT_DATABASE.to_string(),
        name: "views".to_string(),
        location: Location::parse(location, catalog_root)
            .expect("a relative path is a valid location"),
        format: Format::Parquet,
        columns: Some(event_columns()),
        partition_columns: vec![column("dt", ColumnType::Date, "UTC day of event_time")],
        // As the days are written, and as COMPACT writes the raw zone's days into it.
        properties: [(
            "sorted_by".to_string(),
            "listing_id, event_time".to_string(),
        )]
        .into(),
        comment: Some("listing-view events of the demo lake, compacted by day".to_string()),
        serde: None,
    }
}

/// The catalog definition of `views_raw`: the raw landing zone at `location` (relative to the
/// catalog dir), JSON lines under Firehose's `YYYY/MM/DD/HH/` prefixes, read through Athena's
/// partition projection over the hours of `day`.
pub fn views_raw_table(location: &str, catalog_root: &Path, day: NaiveDate) -> TableDefinition {
    let first_hour = day.format("%Y/%m/%d/00");
    let last_hour = day.format("%Y/%m/%d/23");
    let properties = [
        ("projection.enabled", "true".to_string()),
        ("projection.datehour.type", "date".to_string()),
        ("projection.datehour.format", "yyyy/MM/dd/HH".to_string()),
        (
            "projection.datehour.range",
            format!("{first_hour},{last_hour}"),
        ),
        ("projection.datehour.interval", "1".to_string()),
        ("projection.datehour.interval.unit", "HOURS".to_string()),
        (
            "storage.location.template",
            format!("{}/${{datehour}}/", location.trim_end_matches('/')),
        ),
    ];
    TableDefinition {
        database: minerva_catalog::DEFAULT_DATABASE.to_string(),
        name: "views_raw".to_string(),
        location: Location::parse(location, catalog_root)
            .expect("a relative path is a valid location"),
        format: Format::Json,
        columns: Some(event_columns()),
        partition_columns: vec![column(
            "datehour",
            ColumnType::String,
            "UTC hour the events landed, yyyy/MM/dd/HH",
        )],
        properties: properties
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        comment: Some(
            "raw listing-view events as Firehose lands them, the day after the compacted ones"
                .to_string(),
        ),
        serde: Some(Serde {
            library: Serde::JSON.to_string(),
            properties: Default::default(),
        }),
    }
}

fn event_columns() -> Vec<Column> {
    vec![
        column(
            "event_time",
            ColumnType::Timestamp,
            "when the event happened, UTC",
        ),
        column("event_id", ColumnType::String, "unique per event"),
        column("user_id", ColumnType::BigInt, "the viewing user"),
        column("session_id", ColumnType::String, "the user's app session"),
        column("listing_id", ColumnType::BigInt, "the listing viewed"),
        column("region", ColumnType::String, "the listing's si/gun/gu"),
        column(
            "service",
            ColumnType::String,
            "oneroom, apt, officetel, villa or store",
        ),
        column("platform", ColumnType::String, "ios, android or web"),
        column(
            "event_type",
            ColumnType::String,
            "view, click, favorite or call",
        ),
        column(
            "price",
            ColumnType::BigInt,
            "asking price in 10,000 KRW, when listed",
        ),
    ]
}

const LISTINGS_BITS: u32 = 21; // 2,097,152 listings
const SERVICES: [(&str, f64); 5] = [
    ("oneroom", 35.0),
    ("apt", 30.0),
    ("officetel", 20.0),
    ("villa", 10.0),
    ("store", 5.0),
];
const EVENT_TYPES: [(&str, f64); 4] = [
    ("view", 90.0),
    ("click", 6.0),
    ("favorite", 3.0),
    ("call", 1.0),
];
/// Share of events in each UTC hour: the peak is the Korean evening (UTC+9).
const HOUR_WEIGHTS: [f64; 24] = [
    6.0, 5.0, 4.0, 4.0, 5.0, 6.0, 6.0, 5.0, 5.0, 6.0, 7.0, 8.0, 8.0, 7.0, 6.0, 4.0, 2.0, 1.0, 0.6,
    0.5, 0.6, 1.0, 2.0, 4.0,
];

/// A stable 64-bit hash (splitmix64): attributes of a listing or user that never change.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A uniform draw in [0, 1) from a hash.
fn unit(hash: u64) -> f64 {
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// Picks an index by cumulative weights from a uniform draw in [0, 1).
fn pick(cumulative: &[f64], u: f64) -> usize {
    let target = u * cumulative.last().copied().unwrap_or(0.0);
    cumulative
        .partition_point(|&c| c <= target)
        .min(cumulative.len() - 1)
}

fn cumulative(weights: impl IntoIterator<Item = f64>) -> Vec<f64> {
    weights
        .into_iter()
        .scan(0.0, |acc, w| {
            *acc += w;
            Some(*acc)
        })
        .collect()
}

/// Fixed attributes of every listing and user, derived from their ids.
struct World {
    regions: Vec<String>,
    region_cumulative: Vec<f64>,
    service_cumulative: Vec<f64>,
    event_types: WeightedIndex<f64>,
    hours: WeightedIndex<f64>,
}

impl World {
    fn new() -> Self {
        let (regions, weights): (Vec<String>, Vec<f64>) = regions().into_iter().unzip();
        Self {
            regions,
            region_cumulative: cumulative(weights),
            service_cumulative: cumulative(SERVICES.map(|(_, w)| w)),
            event_types: WeightedIndex::new(EVENT_TYPES.map(|(_, w)| w)).expect("positive weights"),
            hours: WeightedIndex::new(HOUR_WEIGHTS).expect("positive weights"),
        }
    }

    fn region(&self, listing: u64) -> &str {
        &self.regions[pick(
            &self.region_cumulative,
            unit(mix(listing ^ 0x5245_4749_4F4E)),
        )]
    }

    fn service(&self, listing: u64) -> usize {
        pick(&self.service_cumulative, unit(mix(listing ^ 0x5345_5256)))
    }

    /// Asking price in 10,000 KRW, by service; one listing in 25 has none.
    fn price(&self, listing: u64, service: usize) -> Option<i64> {
        let h = mix(listing ^ 0x0050_5249_4345);
        if h.is_multiple_of(25) {
            return None;
        }
        let base = [500.0, 60_000.0, 15_000.0, 25_000.0, 8_000.0][service];
        Some((base * (0.4 + 2.0 * unit(h).powi(2))).round() as i64)
    }

    fn platform(user: u64) -> &'static str {
        match mix(user ^ 0x504C_4154) % 20 {
            0..=8 => "android",
            9..=16 => "ios",
            _ => "web",
        }
    }
}

fn day_rng(spec: &DemoSpec, day: u32, stream: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(spec.seed ^ mix(u64::from(day) << 20 | stream)))
}

/// Generates day `day` of the lake: one batch per file, rows sorted by `event_time`.
///
/// Long by design: one column after another, each drawn from the same seeded stream in a
/// fixed order, so that a day's rows never change.
pub fn generate_day(spec: &DemoSpec, day: u32) -> Vec<RecordBatch> {
    let world = World::new();
    let date = spec.date(day);
    let midnight = date
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp_micros();
    let epoch_day = (midnight / 86_400_000_000) as u64;

    let mut times_rng = day_rng(spec, day, u64::MAX);
    let mut times: Vec<i64> = (0..spec.events_per_day)
        .map(|_| {
            let hour = world.hours.sample(&mut times_rng) as i64;
            midnight + hour * 3_600_000_000 + times_rng.random_range(0..3_600_000_000)
        })
        .collect();
    times.sort_unstable();

    // The user population grows 1% a day; activity is heavy-tailed over it.
    let users = (spec.events_per_day as f64 / 4.0).max(100.0) * (1.0 + 0.01 * f64::from(day));
    let listings = 1u64 << LISTINGS_BITS;

    let rows_per_file = spec.rows_per_file.max(1);
    times
        .chunks(rows_per_file)
        .enumerate()
        .map(|(file, chunk)| {
            let mut rng = day_rng(spec, day, file as u64);
            let n = chunk.len();
            let mut event_id = StringBuilder::with_capacity(n, n * 36);
            let mut user_id = Int64Builder::with_capacity(n);
            let mut session_id = StringBuilder::with_capacity(n, n * 16);
            let mut listing_id = Int64Builder::with_capacity(n);
            let mut region = StringBuilder::with_capacity(n, n * 16);
            let mut service = StringBuilder::with_capacity(n, n * 8);
            let mut platform = StringBuilder::with_capacity(n, n * 7);
            let mut event_type = StringBuilder::with_capacity(n, n * 5);
            let mut price = Int64Builder::with_capacity(n);
            for (i, &time) in chunk.iter().enumerate() {
                let seq = (file * rows_per_file + i) as u64;
                // Unique by construction: the day and the sequence number fill the first fields.
                let noise: u64 = rng.random();
                event_id.append_value(format!(
                    "{epoch_day:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                    (seq >> 12) & 0xffff,
                    seq & 0xfff,
                    0x8000 | (noise >> 48) & 0x3fff,
                    noise & 0xffff_ffff_ffff
                ));
                let user = 1 + (users * rng.random::<f64>().powi(2)) as u64;
                user_id.append_value(user as i64);
                let hour_block = (time - midnight) / (3 * 3_600_000_000);
                session_id.append_value(format!(
                    "{:016x}",
                    mix(user ^ mix(epoch_day << 8 | hour_block as u64))
                ));
                let rank = (listings as f64 * rng.random::<f64>().powf(2.5)) as u64;
                // Multiplying by an odd constant permutes ids, so popular listings are scattered.
                let listing = 1_000_000 + (rank.wrapping_mul(0x9E37_79B1) & (listings - 1));
                listing_id.append_value(listing as i64);
                region.append_value(world.region(listing));
                let svc = world.service(listing);
                service.append_value(SERVICES[svc].0);
                platform.append_value(World::platform(user));
                event_type.append_value(EVENT_TYPES[world.event_types.sample(&mut rng)].0);
                price.append_option(world.price(listing, svc));
            }
            let columns: Vec<ArrayRef> = vec![
                Arc::new(TimestampMicrosecondArray::from(chunk.to_vec())),
                Arc::new(event_id.finish()),
                Arc::new(user_id.finish()),
                Arc::new(session_id.finish()),
                Arc::new(listing_id.finish()),
                Arc::new(region.finish()),
                Arc::new(service.finish()),
                Arc::new(platform.finish()),
                Arc::new(event_type.finish()),
                Arc::new(price.finish()),
            ];
            RecordBatch::try_new(events_schema(), columns).expect("columns match the schema")
        })
        .collect()
}

/// What [`write_lake`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeSummary {
    /// The catalog directory to open the lake with.
    pub catalog: PathBuf,
    /// Rows written.
    pub rows: u64,
    /// Parquet files written.
    pub files: u64,
    /// Bytes of Parquet written.
    pub bytes: u64,
}

/// The writer settings of the lake: what a compaction job would use.
fn writer_properties(spec: &DemoSpec) -> WriterProperties {
    let sorted_by: &[usize] = match spec.order {
        RowOrder::Listing => &[4, 0], // listing_id, event_time: see `compacted_day`
        RowOrder::Time => &[0],
    };
    WriterProperties::builder()
        .set_max_row_group_row_count(Some(spec.rows_per_row_group.max(1)))
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("a valid level"),
        ))
        .set_sorting_columns(Some(
            sorted_by
                .iter()
                .map(|&column_idx| SortingColumn {
                    column_idx: column_idx as i32,
                    descending: false,
                    nulls_first: false,
                })
                .collect(),
        ))
        .build()
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Day `day` as the compaction job lays it out: the day's rows sorted by listing, then time,
/// cut into files of `rows_per_file` rows. "Views of a listing" then reads one row group of a
/// day instead of all of them (row group statistics on `listing_id` rule the rest out), and
/// each file's strings and ids compress better; counts per region or user are unaffected.
pub fn compacted_day(spec: &DemoSpec, day: u32) -> Vec<RecordBatch> {
    use arrow::compute::{SortColumn, concat_batches, lexsort_to_indices, take_record_batch};
    let rows = concat_batches(&events_schema(), &generate_day(spec, day))
        .expect("the day's batches share the schema");
    let by = |column: usize| SortColumn {
        values: Arc::clone(rows.column(column)),
        options: None,
    };
    let order = lexsort_to_indices(&[by(4), by(0)], None).expect("ids and times sort");
    let sorted = take_record_batch(&rows, &order).expect("indices are in bounds");
    let per_file = spec.rows_per_file.max(1);
    (0..sorted.num_rows())
        .step_by(per_file)
        .map(|start| sorted.slice(start, per_file.min(sorted.num_rows() - start)))
        .collect()
}

/// Writes day `day` under `views/dt=YYYY-MM-DD/`. Each file is written under a hidden name and
/// renamed into place, so readers never see a part of one.
fn write_day(spec: &DemoSpec, day: u32, views: &Path) -> Result<(u64, u64, u64), DemoError> {
    let dir = views.join(format!("dt={}", spec.date(day).format("%Y-%m-%d")));
    std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    let (mut rows, mut files, mut bytes) = (0, 0, 0);
    let batches = match spec.order {
        RowOrder::Listing => compacted_day(spec, day),
        RowOrder::Time => generate_day(spec, day),
    };
    for (i, batch) in batches.into_iter().enumerate() {
        let path = dir.join(format!("part-{i:05}.zstd.parquet"));
        let hidden = dir.join(format!(".part-{i:05}.zstd.parquet.tmp"));
        let file = File::create(&hidden).map_err(io_error(&hidden))?;
        let parquet_error = |source| DemoError::Parquet {
            path: path.clone(),
            source,
        };
        let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(writer_properties(spec)))
            .map_err(parquet_error)?;
        writer.write(&batch).map_err(parquet_error)?;
        let file = writer.into_inner().map_err(parquet_error)?;
        file.sync_all().map_err(io_error(&hidden))?;
        bytes += file.metadata().map_err(io_error(&hidden))?.len();
        std::fs::rename(&hidden, &path).map_err(io_error(&path))?;
        rows += batch.num_rows() as u64;
        files += 1;
    }
    Ok((rows, files, bytes))
}

/// Writes the raw zone for day `day`: its events as gzipped JSON lines, one object per hour
/// under `raw/views/YYYY/MM/DD/HH/`, as Kinesis Firehose lands them.
/// The events of day `day` in the order they land, and when each lands (µs since the epoch):
/// an event lands after it happens, most within a minute, one in ten minutes late and one in a
/// hundred hours late (a phone that was offline), as Firehose's arrival-hour prefixes see them.
pub fn arrivals(spec: &DemoSpec, day: u32) -> (RecordBatch, Vec<i64>) {
    use arrow::array::AsArray;
    use arrow::datatypes::TimestampMicrosecondType;

    let batches = generate_day(spec, day);
    let batch = arrow::compute::concat_batches(&events_schema(), &batches)
        .expect("the day's batches share the schema");
    let times = batch.column(0).as_primitive::<TimestampMicrosecondType>();
    let landed: Vec<i64> = (0..batch.num_rows())
        .map(|i| {
            let h = mix(spec.seed ^ mix(u64::from(day) << 32 | i as u64));
            let delay = match h % 100 {
                0 => 3_600_000_000 + (h >> 8) % (2 * 3_600_000_000),
                1..=9 => 60_000_000 + (h >> 8) % (14 * 60_000_000),
                _ => 1_000_000 + (h >> 8) % 59_000_000,
            };
            times.value(i) + delay as i64
        })
        .collect();
    let mut order: Vec<u32> = (0..batch.num_rows() as u32).collect();
    order.sort_by_key(|&i| landed[i as usize]);
    let indices = arrow::array::UInt32Array::from(order.clone());
    let columns = batch
        .columns()
        .iter()
        .map(|c| arrow::compute::take(c, &indices, None).expect("indices are in range"))
        .collect();
    let sorted = RecordBatch::try_new(events_schema(), columns).expect("columns match the schema");
    (sorted, order.iter().map(|&i| landed[i as usize]).collect())
}

/// `views_raw` for a live lake: the raw zone's hours from `first` up to the current hour
/// (`NOW`), so each new hour's prefix is read as soon as it exists.
pub fn views_raw_live_table(
    location: &str,
    catalog_root: &Path,
    first: NaiveDate,
) -> TableDefinition {
    let mut table = views_raw_table(location, catalog_root, first);
    table.properties.insert(
        "projection.datehour.range".to_string(),
        format!("{},NOW", first.format("%Y/%m/%d/00")),
    );
    table.comment = Some("raw listing-view events as Firehose lands them, up to now".to_string());
    table
}

/// Writes `batch` as one raw object at `path` as Firehose lands them: gzipped JSON lines,
/// appearing whole (written under a hidden name, then renamed). Returns its size in bytes.
pub fn write_raw_object(path: &Path, batch: &RecordBatch) -> Result<u64, DemoError> {
    use std::io::Write;

    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let hidden = dir.join(format!(".{name}.tmp"));
    let file = File::create(&hidden).map_err(io_error(&hidden))?;
    let mut gzip = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut writer = arrow::json::LineDelimitedWriter::new(&mut gzip);
    writer
        .write(batch)
        .and_then(|()| writer.finish())
        .map_err(|e| io_error(&hidden)(std::io::Error::other(e)))?;
    let mut file = gzip.finish().map_err(io_error(&hidden))?;
    file.flush().map_err(io_error(&hidden))?;
    file.sync_all().map_err(io_error(&hidden))?;
    let bytes = file.metadata().map_err(io_error(&hidden))?.len();
    std::fs::rename(&hidden, path).map_err(io_error(path))?;
    Ok(bytes)
}

fn write_raw_day(spec: &DemoSpec, day: u32, raw: &Path) -> Result<(u64, u64, u64), DemoError> {
    use arrow::array::AsArray;
    use arrow::datatypes::TimestampMicrosecondType;

    let (mut rows, mut files, mut bytes) = (0, 0, 0);
    let date = spec.date(day);
    for batch in generate_day(spec, day) {
        let times = batch.column(0).as_primitive::<TimestampMicrosecondType>();
        let hour_of = |i: usize| (times.value(i).rem_euclid(86_400_000_000) / 3_600_000_000) as u32;
        // Rows are sorted by time: each hour is one slice.
        let mut start = 0;
        while start < batch.num_rows() {
            let hour = hour_of(start);
            let end = (start..batch.num_rows())
                .find(|&i| hour_of(i) != hour)
                .unwrap_or(batch.num_rows());
            let dir = raw.join(format!("{}/{hour:02}", date.format("%Y/%m/%d")));
            let name = format!(
                "views-{}-{hour:02}-{files:05}.json.gz",
                date.format("%Y-%m-%d")
            );
            bytes += write_raw_object(&dir.join(&name), &batch.slice(start, end - start))?;
            rows += (end - start) as u64;
            files += 1;
            start = end;
        }
    }
    Ok((rows, files, bytes))
}

/// The layout of what [`write_lake`] writes, recorded in the marker beside the spec: a lake
/// written by an older layout is rewritten.
const LAYOUT: &str = "layout=3";

/// Writes the lake under `out`: `views/dt=…/part-*.zstd.parquet` for the spec's days, the raw
/// zone `raw/views/YYYY/MM/DD/HH/*.json.gz` for the day after them, their catalog
/// (`catalog/default/views.toml`, `views_raw.toml`), and last the marker file naming the spec.
///
/// Days are written in parallel on every core; `on_day` is called as each one finishes. A lake
/// of another spec already in `out` is replaced (its marker goes first, so an interrupted
/// rewrite is never taken for finished).
pub fn write_lake(
    spec: &DemoSpec,
    out: &Path,
    on_day: &(dyn Fn(u32) + Sync),
) -> Result<LakeSummary, DemoError> {
    let views = out.join("views");
    let raw = out.join("raw");
    let marker = out.join(MARKER);
    if marker.exists() {
        std::fs::remove_file(&marker).map_err(io_error(&marker))?;
        for dir in [&views, &raw] {
            if dir.exists() {
                std::fs::remove_dir_all(dir).map_err(io_error(dir))?;
            }
        }
    }
    std::fs::create_dir_all(&views).map_err(io_error(&views))?;
    let next = AtomicU32::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(spec.days.max(1) as usize);
    let totals = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> Result<(u64, u64, u64), DemoError> {
                    let mut totals = (0, 0, 0);
                    loop {
                        let day = next.fetch_add(1, Ordering::Relaxed);
                        if day >= spec.days {
                            return Ok(totals);
                        }
                        let (rows, files, bytes) = write_day(spec, day, &views)?;
                        totals = (totals.0 + rows, totals.1 + files, totals.2 + bytes);
                        on_day(day);
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a generator thread panicked"))
            .collect::<Result<Vec<_>, _>>()
    })?;
    let raw_totals = write_raw_day(spec, spec.days, &raw.join("views"))?;
    let catalog = out.join("catalog");
    // A fresh lake: no commit of an earlier one (a COMPACT, an INSERT) applies to it.
    for table in ["views", "views_raw"] {
        Catalog::remove_table(&catalog, minerva_catalog::DEFAULT_DATABASE, table)?;
    }
    Catalog::write_table(&catalog, &views_table("../views", &catalog))?;
    Catalog::write_table(
        &catalog,
        &views_raw_table("../raw/views", &catalog, spec.date(spec.days)),
    )?;
    Catalog::write_live(
        &catalog,
        minerva_catalog::DEFAULT_DATABASE,
        "views_live",
        VIEWS_LIVE,
    )?;
    // Where CREATE TABLE AS puts tables that name no location (kept if edited).
    let storage = catalog.join(minerva_catalog::STORAGE_FILE);
    if !storage.exists() {
        std::fs::write(
            &storage,
            "# How to reach the lake's stores, and where CREATE TABLE AS puts tables (see the README).
warehouse = \"../warehouse\"\n",
        )
        .map_err(io_error(&storage))?;
    }
    let (rows, files, bytes) = totals
        .iter()
        .chain([&raw_totals])
        .fold((0, 0, 0), |a, t| (a.0 + t.0, a.1 + t.1, a.2 + t.2));
    std::fs::write(&marker, format!("{spec} {LAYOUT}\n")).map_err(io_error(&marker))?;
    Ok(LakeSummary {
        catalog,
        rows,
        files,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::TimestampMicrosecondType;

    use super::*;

    fn small() -> DemoSpec {
        DemoSpec {
            days: 3,
            events_per_day: 5_000,
            rows_per_file: 2_000,
            ..Default::default()
        }
    }

    #[test]
    fn days_are_deterministic_and_split_into_files() {
        let spec = small();
        let a = generate_day(&spec, 1);
        assert_eq!(a, generate_day(&spec, 1));
        assert_eq!(
            a.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
            [2_000, 2_000, 1_000]
        );
        assert_ne!(a, generate_day(&DemoSpec { seed: 7, ..spec }, 1));
    }

    #[test]
    fn rows_are_sorted_in_their_day_with_unique_ids() {
        let spec = small();
        let day = spec
            .date(2)
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_micros();
        let mut ids = HashSet::new();
        let mut last = i64::MIN;
        for batch in generate_day(&spec, 2) {
            for &t in batch
                .column(0)
                .as_primitive::<TimestampMicrosecondType>()
                .values()
            {
                assert!(t >= last && (day..day + 86_400_000_000).contains(&t));
                last = t;
            }
            for id in batch.column(1).as_string::<i32>().iter() {
                assert!(ids.insert(id.unwrap().to_string()), "duplicate event id");
            }
        }
        assert_eq!(ids.len(), 5_000);
    }

    #[test]
    fn a_listing_keeps_its_region_and_users_return() {
        let spec = small();
        let mut region_of = std::collections::HashMap::new();
        let mut users_by_day = Vec::new();
        for day in 0..spec.days {
            let mut users = HashSet::new();
            for batch in generate_day(&spec, day) {
                let listings: &Int64Array = batch.column(4).as_primitive();
                let regions = batch.column(5).as_string::<i32>();
                for (l, r) in listings.values().iter().zip(regions.iter()) {
                    let r = r.unwrap().to_string();
                    assert_eq!(region_of.entry(*l).or_insert_with(|| r.clone()), &r);
                }
                users.extend(
                    batch
                        .column(2)
                        .as_primitive::<arrow::datatypes::Int64Type>()
                        .values()
                        .iter()
                        .copied(),
                );
            }
            users_by_day.push(users);
        }
        let returning = users_by_day[0].intersection(&users_by_day[1]).count();
        let all: HashSet<_> = users_by_day.iter().flatten().collect();
        assert!(returning > 0 && returning < users_by_day[0].len());
        assert!(
            all.len() > users_by_day[0].len(),
            "more users over three days than on one"
        );
    }

    #[test]
    fn writes_a_lake_and_its_catalog() {
        let dir = tempfile::tempdir().unwrap();
        let spec = DemoSpec {
            days: 2,
            events_per_day: 300,
            ..Default::default()
        };
        let done = std::sync::Mutex::new(Vec::new());
        let summary = write_lake(&spec, dir.path(), &|d| done.lock().unwrap().push(d)).unwrap();
        // Two compacted days, and the third day's 300 events in the raw zone by hour.
        assert_eq!(summary.rows, 900);
        assert!(summary.files > 2);
        assert!(
            dir.path()
                .join("views/dt=2024-01-02/part-00000.zstd.parquet")
                .is_file()
        );
        let catalog = Catalog::load(&summary.catalog).unwrap();
        let views = catalog.resolve("views").unwrap();
        assert_eq!(
            views.location().local_path().unwrap(),
            dir.path().join("views/")
        );
        assert_eq!(done.into_inner().unwrap().len(), 2);
        assert!(lake_is_current(&spec, dir.path()));
        assert!(!lake_is_current(
            &DemoSpec {
                seed: 1,
                ..spec.clone()
            },
            dir.path()
        ));

        // Another spec replaces the lake rather than mixing days of both.
        let shorter = DemoSpec { days: 1, ..spec };
        write_lake(&shorter, dir.path(), &|_| {}).unwrap();
        assert!(!dir.path().join("views/dt=2024-01-02").exists());
        assert!(lake_is_current(&shorter, dir.path()));
    }
}
