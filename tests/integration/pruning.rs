//! Pruning, proven by the requests that reach the object store (never by timing).

use std::sync::Arc;

use minerva_catalog::Catalog;
use minerva_demo::DemoSpec;
use minerva_engine::Engine;
use minerva_store::{RecordingStore, RequestKind};
use object_store::local::LocalFileSystem;
use url::Url;

use crate::support::{DemoLake, rows};

fn lake() -> DemoLake {
    DemoLake::new(DemoSpec {
        days: 5,
        events_per_day: 300,
        rows_per_file: 100,
        ..Default::default()
    })
}

/// An engine whose every local file system request is recorded.
fn recorded(lake: &DemoLake) -> (Engine, RecordingStore) {
    let store = RecordingStore::new(Arc::new(LocalFileSystem::new()));
    let engine = Engine::builder(Catalog::load(lake.catalog()).unwrap())
        .object_store(Url::parse("file://").unwrap(), Arc::new(store.clone()))
        .build();
    (engine, store)
}

/// The table root as object store paths spell it (no leading slash).
fn root(lake: &DemoLake) -> String {
    lake.views()
        .canonicalize()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches('/')
        .to_string()
}

#[tokio::test]
async fn a_one_day_query_touches_only_that_day() {
    let lake = lake();
    let (engine, store) = recorded(&lake);
    let counted = rows(
        &engine,
        "SELECT count(*) FROM views WHERE dt = DATE '2024-01-03'",
    )
    .await;
    assert_eq!(counted, ["300"]);

    let day = format!("{}/dt=2024-01-03", root(&lake));
    let requests = store.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        assert!(
            request.path.starts_with(&day),
            "request outside the day's prefix: {request:?}"
        );
    }
    // Equality spells the prefix: the table root is never listed.
    assert!(
        !requests
            .iter()
            .any(|r| r.kind == RequestKind::ListWithDelimiter),
        "{requests:?}"
    );
}

#[tokio::test]
async fn a_range_lists_one_level_and_reads_only_its_days() {
    let lake = lake();
    let (engine, store) = recorded(&lake);
    let counted = rows(
        &engine,
        "SELECT count(*) FROM views WHERE dt BETWEEN DATE '2024-01-05' - INTERVAL '2' DAY AND DATE '2024-01-04'",
    )
    .await;
    assert_eq!(counted, ["600"]);

    let root = root(&lake);
    let requests = store.requests();
    let level_lists: Vec<_> = requests
        .iter()
        .filter(|r| r.kind == RequestKind::ListWithDelimiter)
        .collect();
    assert_eq!(
        level_lists.len(),
        1,
        "one LIST of the partition level: {requests:?}"
    );
    assert_eq!(level_lists[0].path, root);
    for request in requests
        .iter()
        .filter(|r| r.kind != RequestKind::ListWithDelimiter)
    {
        let inside = ["dt=2024-01-03", "dt=2024-01-04"]
            .iter()
            .any(|d| request.path.starts_with(&format!("{root}/{d}")));
        assert!(inside, "request outside the chosen days: {request:?}");
    }
}

#[tokio::test]
async fn filters_on_partition_values_of_any_shape_prune_exactly() {
    let lake = lake();
    let (engine, store) = recorded(&lake);
    // Neither a range nor a list: evaluated on each partition's value after one LIST.
    let counted = rows(
        &engine,
        "SELECT count(*) FROM views WHERE extract(day FROM dt) % 2 = 0",
    )
    .await;
    assert_eq!(counted, ["600"]);
    let root = root(&lake);
    let read: std::collections::BTreeSet<String> = store
        .requests()
        .iter()
        .filter(|r| r.kind != RequestKind::ListWithDelimiter)
        .map(|r| {
            r.path
                .trim_start_matches(&format!("{root}/"))
                .split('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        read.into_iter().collect::<Vec<_>>(),
        ["dt=2024-01-02", "dt=2024-01-04"]
    );
}

#[tokio::test]
async fn a_day_with_no_directory_reads_nothing_and_returns_nothing() {
    let lake = lake();
    let (engine, store) = recorded(&lake);
    let counted = rows(
        &engine,
        "SELECT count(*) FROM views WHERE dt IN (DATE '2023-12-31', DATE '2030-01-01')",
    )
    .await;
    assert_eq!(counted, ["0"]);
    assert!(
        store.requests().iter().all(|r| r.kind == RequestKind::List),
        "{:?}",
        store.requests()
    );
}

#[tokio::test]
async fn row_group_statistics_skip_data_the_filter_rules_out() {
    let lake = lake();
    let engine = lake.engine();
    let plan = rows(
        &engine,
        "EXPLAIN SELECT count(*) FROM views WHERE dt = DATE '2024-01-02' AND listing_id = 5",
    )
    .await;
    let physical = plan
        .iter()
        .find(|r| r.starts_with("physical_plan"))
        .unwrap();
    assert!(physical.contains("pruning_predicate="), "{physical}");
    assert!(
        physical.contains("dt=2024-01-02") && !physical.contains("dt=2024-01-01"),
        "{physical}"
    );
}
