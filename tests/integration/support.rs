//! Fixtures: small lakes generated at test time into temporary directories.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::NaiveDate;
use minerva_demo::DemoSpec;
use minerva_engine::Engine;
use parquet::arrow::ArrowWriter;
use tempfile::TempDir;

/// The `.sql` files of a directory of the repository (`benches/queries`, …), sorted by name.
pub fn sql_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
}

/// A cache directory of this command's own (`MINERVA_CACHE_DIR`), kept until the test process
/// ends: tests that share bucket names on one S3 server must not see each other's listings.
pub fn fresh_cache_dir() -> PathBuf {
    tempfile::tempdir().unwrap().keep()
}

/// The generated lake the seed-question tests use: three ISO weeks across two months.
pub fn seed_spec() -> DemoSpec {
    DemoSpec {
        start: NaiveDate::from_ymd_opt(2024, 1, 22).unwrap(),
        days: 21,
        events_per_day: 2_000,
        rows_per_file: 800,
        seed: 7,
        ..Default::default()
    }
}

/// A generated demo lake in a temporary directory.
pub struct DemoLake {
    pub dir: TempDir,
    pub spec: DemoSpec,
}

impl DemoLake {
    pub fn new(spec: DemoSpec) -> Self {
        let dir = tempfile::tempdir().unwrap();
        minerva_demo::write_lake(&spec, dir.path(), &|_| {}).unwrap();
        Self { dir, spec }
    }

    pub fn catalog(&self) -> PathBuf {
        self.dir.path().join("catalog")
    }

    pub fn views(&self) -> PathBuf {
        self.dir.path().join("views")
    }

    pub fn engine(&self) -> Engine {
        Engine::open(self.catalog()).unwrap()
    }
}

/// Writes `batch` as a Parquet file at `path`, creating directories.
pub fn write_parquet(path: &Path, batch: &RecordBatch) {
    write_parquet_with(path, batch, None);
}

/// Writes `batch` as a Parquet file at `path` with the writer's `properties` (page and row
/// group sizes, statistics, encodings), creating directories.
pub fn write_parquet_with(
    path: &Path,
    batch: &RecordBatch,
    properties: Option<parquet::file::properties::WriterProperties>,
) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), properties).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// Writes a table file `catalog/<database>/<table>.toml`.
pub fn write_table_file(catalog: &Path, database: &str, table: &str, text: &str) {
    let dir = catalog.join(database);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{table}.toml")), text).unwrap();
}

/// A lake small enough to check by eye, used by the `.slt` files:
///
/// `events` (dt date): 2024-01-01 rows 1-3, 2024-01-02 rows 4-5, 2024-01-03 row 6, plus a
/// `_SUCCESS` marker and a hidden temporary file that must be ignored.
/// `sales.orders` (dt date / region string, columns not declared: read from the files).
pub fn tiny_lake(root: &Path) -> PathBuf {
    let catalog = root.join("catalog");
    write_table_file(
        &catalog,
        "default",
        "events",
        r#"
location = "../lake/events"
columns = [
  { name = "id", type = "bigint" },
  { name = "user_id", type = "bigint" },
  { name = "kind", type = "string" },
  { name = "amount", type = "double" },
]
partition_columns = [{ name = "dt", type = "date" }]
"#,
    );
    let events = |rows: &[(i64, i64, &str, Option<f64>)]| {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("user_id", DataType::Int64, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("amount", DataType::Float64, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.3))),
        ];
        RecordBatch::try_new(schema, columns).unwrap()
    };
    let lake = root.join("lake");
    write_parquet(
        &lake.join("events/dt=2024-01-01/a.parquet"),
        &events(&[
            (1, 10, "view", Some(1.5)),
            (2, 11, "view", None),
            (3, 10, "buy", Some(20.0)),
        ]),
    );
    write_parquet(
        &lake.join("events/dt=2024-01-02/a.parquet"),
        &events(&[(4, 12, "view", Some(2.0))]),
    );
    write_parquet(
        &lake.join("events/dt=2024-01-02/b.parquet"),
        &events(&[(5, 10, "buy", Some(5.0))]),
    );
    write_parquet(
        &lake.join("events/dt=2024-01-03/a.parquet"),
        &events(&[(6, 11, "view", None)]),
    );
    write_parquet(
        &lake.join("events/dt=2024-01-03/.a.parquet.tmp"),
        &events(&[(99, 99, "half-written", None)]),
    );
    std::fs::write(lake.join("events/_SUCCESS"), "").unwrap();

    write_table_file(
        &catalog,
        "sales",
        "orders",
        r#"
location = "../lake/orders"
partition_columns = [{ name = "dt", type = "date" }, { name = "region", type = "string" }]
"#,
    );
    let orders = |ids: &[i64], totals: &[i64]| {
        let schema = Arc::new(Schema::new(vec![
            Field::new("order_id", DataType::Int64, false),
            Field::new("total", DataType::Int64, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(ids.to_vec())),
                Arc::new(Int64Array::from(totals.to_vec())),
            ],
        )
        .unwrap()
    };
    write_parquet(
        &lake.join("orders/dt=2024-01-01/region=seoul/p.parquet"),
        &orders(&[1, 2], &[100, 250]),
    );
    write_parquet(
        &lake.join("orders/dt=2024-01-01/region=busan/p.parquet"),
        &orders(&[3], &[70]),
    );
    write_parquet(
        &lake.join("orders/dt=2024-01-02/region=seoul/p.parquet"),
        &orders(&[4], &[30]),
    );
    catalog
}

/// Runs `sql` and renders each row as its values joined by `|` (NULL as `NULL`).
pub async fn rows(engine: &Engine, sql: &str) -> Vec<String> {
    let batches = engine
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    render(&batches)
}

pub fn render(batches: &[RecordBatch]) -> Vec<String> {
    render_cells(batches)
        .into_iter()
        .map(|row| row.join("|"))
        .collect()
}

/// Each row's values as text (NULL as `NULL`).
pub fn render_cells(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in batches {
        let batch = minerva_engine::display::textual(batch).unwrap();
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
    }
    out
}

/// A table file's text with one more property: in its `[properties]` table, or a new one.
pub fn with_property(text: &str, key: &str, value: &str) -> String {
    let line = format!("{key} = \"{value}\"\n");
    match text.find("[properties]\n") {
        Some(at) => {
            let at = at + "[properties]\n".len();
            format!("{}{line}{}", &text[..at], &text[at..])
        }
        None => format!("{text}\n[properties]\n{line}"),
    }
}

/// `text` with the characters a regular expression treats specially escaped (insta's
/// filters are regular expressions; temporary paths hold dots).
pub fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}
