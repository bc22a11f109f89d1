//! SQL through the whole engine — the Trino rewrite, the catalog commands and DDL, DataFusion's
//! planner, the dense path, execution — on a tiny generated lake. Errors are fine; a panic is
//! a crash. Each statement has two seconds.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use minerva_demo::DemoSpec;
use minerva_engine::Engine;

struct Lake {
    _dir: tempfile::TempDir,
    engine: Engine,
    runtime: tokio::runtime::Runtime,
}

fn lake() -> &'static Lake {
    static LAKE: OnceLock<Lake> = OnceLock::new();
    LAKE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let spec = DemoSpec {
            days: 2,
            events_per_day: 50,
            rows_per_file: 50,
            ..Default::default()
        };
        minerva_demo::write_lake(&spec, dir.path(), &|_| {}).unwrap();
        let engine = Engine::builder(minerva_catalog::Catalog::load(dir.path().join("catalog")).unwrap())
            .timeout(Duration::from_secs(2))
            .build();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Lake {
            _dir: dir,
            engine,
            runtime,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    // Statements that change the catalog would change the lake for later inputs.
    let upper = sql.to_ascii_uppercase();
    if ["CREATE", "DROP", "ALTER", "MSCK", "INSERT", "COPY", "SET"]
        .iter()
        .any(|word| upper.contains(word))
    {
        return;
    }
    let lake = lake();
    let _ = lake.runtime.block_on(async {
        match lake.engine.query(sql).await {
            Ok(batches) => batches.len(),
            Err(error) => error.to_string().len(),
        }
    });
});
