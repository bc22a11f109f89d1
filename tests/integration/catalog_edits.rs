//! Catalog edits from many processes at once: each either applies or fails loudly, none is
//! lost. (Before the catalog lock, ten concurrent DROP PARTITIONs left 18 of 20 partitions.)

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use minerva_engine::Engine;

use crate::support::rows;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_partition_edits_from_many_processes_all_apply() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    let engine = Engine::open(&catalog).unwrap();
    engine
        .query(
            "CREATE EXTERNAL TABLE t (id bigint) PARTITIONED BY (dt string) STORED AS PARQUET \
             LOCATION '../data/'",
        )
        .await
        .unwrap();
    let old: Vec<String> = (0..20).map(|i| format!("p{i:02}")).collect();
    let adds: String = old
        .iter()
        .map(|p| format!(" PARTITION (dt='{p}')"))
        .collect();
    engine
        .query(&format!("ALTER TABLE t ADD{adds}"))
        .await
        .unwrap();

    // Ten processes drop p00..p09 and ten add n00..n09, all at once.
    let mut children = Vec::new();
    for i in 0..10 {
        for sql in [
            format!("ALTER TABLE t DROP PARTITION (dt='p{i:02}')"),
            format!("ALTER TABLE t ADD PARTITION (dt='n{i:02}')"),
        ] {
            let child = Command::new(env!("CARGO_BIN_EXE_minerva"))
                .env_remove("MINERVA_CATALOG")
                .arg("--catalog")
                .arg(&catalog)
                .arg("-c")
                .arg(&sql)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            children.push((sql, child));
        }
    }
    let mut expected: BTreeSet<String> = old.iter().map(|p| format!("dt={p}")).collect();
    for (sql, child) in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let partition = sql.split('\'').nth(1).unwrap();
        if sql.contains("DROP") {
            expected.remove(&format!("dt={partition}"));
        } else {
            expected.insert(format!("dt={partition}"));
        }
    }

    let fresh = Engine::open(&catalog).unwrap();
    let registered: BTreeSet<String> = rows(&fresh, "SHOW PARTITIONS t")
        .await
        .into_iter()
        .collect();
    assert_eq!(registered, expected);
}
