//! SQL behaviour as sqllogictest files (`tests/slt/*.slt`), each its own test, run in a fresh
//! session over a fresh copy of the tiny lake (see `support::tiny_lake`). The lake's temporary
//! path reads `$LAKE` in expected output, and the days around today `$TODAY`, `$TODAY-7`, …
//!
//! One file alone: `cargo test --test integration slt::partitions`. To rewrite a file's expected
//! output from what Minerva answers: `MINERVA_SLT_COMPLETE=1 cargo test --test integration slt::`.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use minerva_engine::{Engine, EngineError};
use sqllogictest::{DBOutput, DefaultColumnType};

use crate::support::{render_cells, tiny_lake};

struct Minerva {
    engine: Engine,
    dir: tempfile::TempDir,
}

#[async_trait]
impl sqllogictest::AsyncDB for Minerva {
    type Error = EngineError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, EngineError> {
        let output = self.engine.execute(sql).await?;
        let types = output
            .schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                t if t.is_integer() => DefaultColumnType::Integer,
                t if t.is_floating() || matches!(t, arrow::datatypes::DataType::Decimal128(..)) => {
                    DefaultColumnType::FloatingPoint
                }
                _ => DefaultColumnType::Text,
            })
            .collect();
        let batches: Vec<_> = futures::TryStreamExt::try_collect(output.stream)
            .await
            .map_err(EngineError::from)?;
        let lake = self.dir.path().to_string_lossy().into_owned();
        let days = recent_days();
        let mut rows = Vec::new();
        for row in render_cells(&batches) {
            let cells: Vec<Vec<String>> = row
                .iter()
                // File URLs spell the lake's path; object paths spell it without the first '/'.
                .map(|v| {
                    let v = v
                        .replace(&lake, "$LAKE")
                        .replace(lake.trim_start_matches('/'), "$LAKE");
                    days.iter().fold(v, |v, (day, name)| v.replace(day, name))
                })
                .map(|v| {
                    if v.is_empty() {
                        vec!["(empty)".to_string()]
                    } else {
                        v.lines().map(str::to_string).collect()
                    }
                })
                .collect();
            // A value of several lines (an EXPLAIN plan) reads as several rows, the other
            // values on the first.
            let height = cells.iter().map(Vec::len).max().unwrap_or(1);
            for line in 0..height {
                rows.push(cells.iter().filter_map(|c| c.get(line).cloned()).collect());
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "minerva"
    }
}

/// The days around today as plans spell them (`2026-11-24`, and `2026/11/24` in projected
/// paths), each with the name expected output uses for it (`$TODAY-7`): plans of queries
/// relative to `current_date` then read the same on every day.
fn recent_days() -> Vec<(String, String)> {
    let today = chrono::Utc::now().date_naive();
    let mut days = Vec::new();
    for k in -14i64..=14 {
        let day = today + chrono::TimeDelta::days(k);
        let name = match k {
            0 => "$TODAY".to_string(),
            k if k < 0 => format!("$TODAY{k}"),
            k => format!("$TODAY+{k}"),
        };
        days.push((day.format("%Y-%m-%d").to_string(), name.clone()));
        days.push((day.format("%Y/%m/%d").to_string(), name));
    }
    days
}

async fn run(name: &str) {
    let file = slt_dir().join(format!("{name}.slt"));
    let mut runner = sqllogictest::Runner::new(|| async {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(tiny_lake(dir.path()))?;
        Ok(Minerva { engine, dir })
    });
    if std::env::var_os("MINERVA_SLT_COMPLETE").is_some() {
        runner
            .update_test_file(
                &file,
                " ",
                sqllogictest::default_validator,
                sqllogictest::default_normalizer,
                sqllogictest::default_column_validator,
            )
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        return;
    }
    runner
        .run_file_async(&file)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
}

fn slt_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/slt")
}

/// One test per file, named after it.
macro_rules! slt_files {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                run(stringify!($name)).await;
            }
        )*
        const FILES: &[&str] = &[$(stringify!($name)),*];
    };
}

slt_files!(
    catalog,
    ddl,
    errors,
    explain,
    partitions,
    projection,
    recursion,
    trino_aggregate,
    trino_array,
    trino_datetime,
    trino_json,
    trino_math,
    trino_order,
    trino_pruning,
    trino_string,
    views,
    writes,
);

#[test]
fn every_file_has_its_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(slt_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .map(|p| stem(&p))
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, FILES, "add each tests/slt file to slt_files!");
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}
