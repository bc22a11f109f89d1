//! Command-line arguments.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};

/// A single-binary SQL engine for data lakes: Athena and the Glue catalog, self-hosted.
///
/// With no -c or -f, reads SQL from standard input: an interactive shell on a terminal,
/// a script otherwise. Statements end with ';'.
#[derive(Debug, Parser)]
#[command(
    name = "minerva",
    version,
    after_help = "Start with 'minerva demo' to generate a demo lake and open the shell on it."
)]
pub struct Args {
    /// The catalog directory: one <database>/<table>.toml file per table.
    #[arg(
        long,
        env = "MINERVA_CATALOG",
        default_value = "catalog",
        value_name = "DIR",
        global = true
    )]
    pub catalog: PathBuf,

    /// Run this SQL (one or more statements, which may start with a `--` comment); may be
    /// repeated. Runs before any -f.
    #[arg(
        short = 'c',
        long = "command",
        value_name = "SQL",
        allow_hyphen_values = true
    )]
    pub commands: Vec<String>,

    /// Run the SQL in this file; may be repeated.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// How to print results [default: table on a terminal, csv otherwise].
    #[arg(long, env = "MINERVA_FORMAT", value_enum, global = true)]
    pub format: Option<OutputFormat>,

    /// Threads for scans and aggregations [default: one per core].
    #[arg(long, value_name = "N", global = true)]
    pub threads: Option<usize>,

    /// Read S3 with this AWS profile (of ~/.aws/config and ~/.aws/credentials), before the
    /// environment's keys.
    #[arg(long, value_name = "NAME", global = true)]
    pub profile: Option<String>,

    /// Stop any query that would read more than this from storage (e.g. 10GB, 500MiB).
    #[arg(long, env = "MINERVA_MAX_SCAN", value_name = "SIZE", value_parser = parse_size, global = true)]
    pub max_scan: Option<u64>,

    /// Stop any query that runs longer than this, planning included (e.g. 30m, 90s)
    /// [default: no limit].
    #[arg(long, env = "MINERVA_TIMEOUT", value_name = "DURATION", value_parser = humantime::parse_duration, global = true)]
    pub timeout: Option<std::time::Duration>,

    /// Memory for query operators (e.g. 4GB): beyond it, sorts, joins and hash aggregations
    /// spill to the temporary directory instead of growing [default: no limit].
    #[arg(long, env = "MINERVA_MEMORY_LIMIT", value_name = "SIZE", value_parser = parse_size, global = true)]
    pub memory_limit: Option<u64>,

    /// After each statement, print what it read on stderr: run time, data scanned, requests,
    /// Athena's price for as much (the shell always shows it).
    #[arg(long, global = true)]
    pub stats: bool,

    /// Answer counts with DataFusion's hash aggregation instead of Minerva's dense path (which
    /// groups on dictionary codes and integer ranges): the reference to compare answers and
    /// speed with.
    #[arg(long, global = true)]
    pub hash_aggregation: bool,

    /// Do not keep remote stores' Parquet footers and listings on disk for the next run (by
    /// default they are kept in $MINERVA_CACHE_DIR, else ~/.cache/minerva, at most 512 MiB).
    #[arg(long, global = true)]
    pub no_disk_cache: bool,

    /// Run queries on these workers (`http://host:port,…`, each started with `minerva worker`):
    /// this process plans, prunes and merges; the workers scan and aggregate.
    #[arg(long, env = "MINERVA_CLUSTER", value_name = "URLS", global = true)]
    pub cluster: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a synthetic lake of listing-view events and its catalog, then open the shell on it.
    ///
    /// The lake is deterministic: the same options give the same rows. A lake already in
    /// --out with the same options is reused as it is.
    Demo(DemoArgs),

    /// Serve the catalog over the Postgres wire protocol, for psql and BI tools.
    ///
    /// Connect with any Postgres client: `psql -h 127.0.0.1 -p 5433 -U minerva minerva`.
    /// Databases are schemas; the database name and user name are not checked. The password,
    /// if any, comes from MINERVA_PG_PASSWORD or --password-file (never the command line);
    /// without one, only loopback clients are served. Read-only unless --allow-writes.
    Serve(ServeArgs),

    /// Run the plan fragments of coordinators (`minerva --cluster URL,…`) until SIGTERM or
    /// Ctrl-C.
    ///
    /// Start it with the same catalog and storage.toml as the coordinator: it reads its share
    /// of each scan from the store itself. It runs whatever a client that reaches it sends:
    /// listen on a network only coordinators can reach (the default is loopback).
    Worker(WorkerArgs),

    /// Serve the console's HTTP API until SIGTERM or Ctrl-C: run statements, page through their
    /// rows, cancel them, download them as CSV, read the catalog.
    ///
    /// Prints the API's URL with a random token; every request needs it
    /// (`Authorization: Bearer TOKEN` or `?token=TOKEN`). Same guardrails, timeout and memory
    /// limit as the shell.
    Ui(UiArgs),
}

#[derive(Debug, clap::Args)]
pub struct UiArgs {
    /// The address to listen on (port 0: any free port, printed on start); loopback unless
    /// --allow-remote.
    #[arg(long, default_value = "127.0.0.1:8765", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Listen on an address other machines reach (the token still guards every request).
    #[arg(long)]
    pub allow_remote: bool,
    /// Open the console in the default browser once it listens.
    #[arg(long)]
    pub open: bool,
}

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The address to listen on (port 0: any free port, printed on start).
    #[arg(long, default_value = "127.0.0.1:50051", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,

    /// How coordinators reach this worker, as shown in EXPLAIN ANALYZE (default:
    /// http:// and the listening address).
    #[arg(long, value_name = "URL")]
    pub name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The address to listen on; a non-loopback one needs a password.
    #[arg(long, default_value = "127.0.0.1:5433", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,

    /// A file whose first line is the password (SCRAM-SHA-256), instead of MINERVA_PG_PASSWORD.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// The server's TLS certificate chain (PEM); with --tls-key, clients may use sslmode=require.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Refuse clients that do not use TLS.
    #[arg(long, requires = "tls_cert")]
    pub require_tls: bool,

    /// Let clients run writes and DDL (INSERT, CREATE TABLE AS, CREATE EXTERNAL TABLE, …).
    #[arg(long)]
    pub allow_writes: bool,

    /// Connections served at once; more are refused (SQLSTATE 53300).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub max_connections: usize,

    /// Statements running at once across all connections; more wait for a turn.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub max_queries: usize,

    /// On SIGTERM or Ctrl-C, how long running statements may finish before they are cancelled.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub grace: std::time::Duration,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where to write the lake (views/) and its catalog (catalog/) [default: minerva-demo, or
    /// minerva-live with --live].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Number of days, starting at --start.
    #[arg(long, default_value_t = 35)]
    pub days: u32,

    /// Events on each day.
    #[arg(long, default_value_t = 50_000, value_name = "N")]
    pub events_per_day: usize,

    /// Random seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// The first day (UTC).
    #[arg(long, default_value = "2024-01-01", value_name = "YYYY-MM-DD")]
    pub start: NaiveDate,

    /// At most this many rows per Parquet file.
    #[arg(long, default_value_t = 2_500_000, value_name = "N")]
    pub rows_per_file: usize,

    /// At most this many rows per row group of a file.
    #[arg(long, default_value_t = minerva_demo::DEFAULT_ROWS_PER_ROW_GROUP, value_name = "N")]
    pub rows_per_row_group: usize,

    /// How each day's rows are ordered in its files: by listing then time (as the compaction
    /// job writes them) or by time alone (as events happen, the way a plain Firehose-to-Parquet
    /// conversion leaves them).
    #[arg(long, value_enum, default_value_t = DemoOrder::Listing)]
    pub order: DemoOrder,

    /// Only write the lake; do not open the shell.
    #[arg(long)]
    pub no_shell: bool,

    /// A live lake: --days of history up to yesterday, then keep landing raw Firehose-style
    /// objects for the current hour (until --for has passed or Ctrl-C). Query views_live from
    /// another shell. The default --out becomes minerva-live.
    #[arg(long)]
    pub live: bool,

    /// With --live: events today (and each later day), landing as they happen: 1,000,000 a day
    /// is about 12 a second.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub today_events: usize,

    /// With --live: how often a raw object lands.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub every: std::time::Duration,

    /// With --live: how long to keep landing objects.
    #[arg(long = "for", default_value = "1h", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub run_for: std::time::Duration,

    /// With --live: also compact the raw zone into views every this often
    /// (COMPACT views_live), so the boundary moves while counts stay put.
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub compact: Option<std::time::Duration>,
}

impl DemoArgs {
    /// The lake's directory.
    pub fn out_dir(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            PathBuf::from(if self.live {
                "minerva-live"
            } else {
                "minerva-demo"
            })
        })
    }
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned table with borders.
    Table,
    /// Comma-separated values with a header line.
    Csv,
    /// Tab-separated values with a header line.
    Tsv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// A Markdown table.
    Markdown,
    /// Horizontal bars: a label column and numeric columns, as `\chart` draws them.
    Bar,
    /// Parquet (zstd), to a file: `> out.parquet` in scripts, `\o out.parquet` in the shell.
    Parquet,
}

impl OutputFormat {
    /// The name `--format` and `\format` take.
    pub fn name(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Csv => "csv",
            Self::Tsv => "tsv",
            Self::Json => "json",
            Self::Ndjson => "ndjson",
            Self::Markdown => "markdown",
            Self::Bar => "bar",
            Self::Parquet => "parquet",
        }
    }
}

fn parse_size(text: &str) -> Result<u64, minerva_catalog::ValueError> {
    minerva_catalog::parse_byte_size(text)
}

/// How `minerva demo` orders a day's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoOrder {
    /// By listing, then time.
    Listing,
    /// By time.
    Time,
}
