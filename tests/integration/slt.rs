//! SQL behaviour as sqllogictest files (`tests/slt/*.slt`), each run in a fresh session over a
//! fresh copy of the tiny lake (see `support::tiny_lake`).

use std::path::PathBuf;

use async_trait::async_trait;
use minerva_engine::{Engine, EngineError};
use sqllogictest::{DBOutput, DefaultColumnType};

use crate::support::{render, tiny_lake};

struct Minerva {
    engine: Engine,
    _dir: tempfile::TempDir,
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
        let rows = render(&batches)
            .into_iter()
            .map(|row| {
                row.split('|')
                    .map(|v| {
                        if v.is_empty() {
                            "(empty)".into()
                        } else {
                            v.to_string()
                        }
                    })
                    .collect()
            })
            .collect();
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "minerva"
    }
}

#[tokio::test]
async fn slt_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "slt"));
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    for file in files {
        let mut runner = sqllogictest::Runner::new(|| async {
            let dir = tempfile::tempdir().unwrap();
            let engine = Engine::open(tiny_lake(dir.path()))?;
            Ok(Minerva { engine, _dir: dir })
        });
        runner
            .run_file_async(&file)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
}
