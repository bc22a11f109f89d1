//! A network that fails as real ones do (503s, cut bodies, resets, delays), between Minerva and
//! the S3 test server: every query answers exactly as without faults, and a fault that outlasts
//! the retries is reported as what happened.

use std::path::{Path, PathBuf};

use predicates::prelude::*;
use predicates::str::contains;

use crate::fault_proxy::{FaultProxy, Plan};
use crate::s3::{S3Lake, seed_queries};
use crate::s3_server::S3Server;

/// A copy of `catalog` whose `storage.toml` sends every request through `endpoint`.
fn through(catalog: &Path, endpoint: &str, extra: &str, name: &str) -> PathBuf {
    let copy = catalog.with_file_name(name);
    std::fs::create_dir_all(copy.join("default")).unwrap();
    for table in ["views", "views_raw"] {
        let file = format!("default/{table}.toml");
        std::fs::copy(catalog.join(&file), copy.join(&file)).unwrap();
    }
    let storage = format!(
        "[s3]\nendpoint = \"{endpoint}\"\npath_style = true\nallow_http = true\nregion = \"us-east-1\"\n{extra}"
    );
    std::fs::write(copy.join("storage.toml"), storage).unwrap();
    copy
}

fn answer(server: &S3Server, catalog: &Path, sql: &str) -> String {
    let output = server
        .minerva()
        .args(["--catalog", catalog.to_str().unwrap(), "--format", "csv"])
        .args(["-c", sql])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(String::from)
        .collect();
    lines.sort();
    lines.join("\n")
}

#[test]
fn every_query_answers_as_without_faults_through_a_faulty_network() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some((server, _lake, catalog)) = runtime.block_on(S3Lake::start("faults")) else {
        return;
    };
    let proxy = FaultProxy::start(&server.endpoint, Plan::EveryFirstAttempt);
    let faulty = through(&catalog, &proxy.endpoint, "", "catalog-faulty");
    let mut queries = seed_queries();
    queries.push(("raw".into(), "SELECT count(*) FROM views_raw".into()));
    queries.push((
        "one day's rows".into(),
        "SELECT * FROM views WHERE dt = DATE '2024-01-09' ORDER BY event_id".into(),
    ));
    for (name, sql) in queries {
        // Each run is a new process: listings and footers are asked for again every time.
        assert_eq!(
            answer(&server, &faulty, &sql),
            answer(&server, &catalog, &sql),
            "{name}"
        );
    }
    let injected = proxy.injected();
    for kind in ["slow down", "cut body", "reset", "delay"] {
        assert!(injected.get(kind).copied().unwrap_or(0) > 0, "{injected:?}");
    }
}

#[test]
fn a_listing_cut_every_time_says_how_far_it_got_and_how_often_it_was_tried() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some((server, _lake, catalog)) = runtime.block_on(S3Lake::start("cut-lists")) else {
        return;
    };
    let proxy = FaultProxy::start(&server.endpoint, Plan::CutEveryList);
    let cut = through(&catalog, &proxy.endpoint, "retries = 2\n", "catalog-cut");
    server
        .minerva()
        .args([
            "--catalog",
            cut.to_str().unwrap(),
            "-c",
            "SELECT count(*) FROM views",
        ])
        .assert()
        .code(1)
        .stderr(contains(
            "table 'default.views': cannot list 's3://cut-lists/views",
        ))
        .stderr(contains("the object store's response broke off"))
        .stderr(contains("after 0 objects and 2 retries"))
        .stderr(contains("raise 'retries' in storage.toml"))
        .stderr(contains("cannot connect").not());
}

/// Behind a proxy that answers every request 50 ms late, a week of a lake still goes out many
/// requests at a time (two cores or not), answers as without latency, and a second process
/// finds the footers and listings on disk.
#[test]
fn behind_latency_requests_go_out_together_and_a_new_process_uses_the_disk_cache() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some((server, _lake, catalog)) = runtime.block_on(S3Lake::start("latency")) else {
        return;
    };
    let proxy = FaultProxy::start(
        &server.endpoint,
        Plan::Latency(std::time::Duration::from_millis(50)),
    );
    let slow = through(&catalog, &proxy.endpoint, "", "catalog-slow");
    let week = "SELECT region, count(*) AS n FROM views \
        WHERE dt BETWEEN DATE '2024-01-08' AND DATE '2024-01-14' GROUP BY region";
    assert_eq!(
        answer(&server, &slow, week),
        answer(&server, &catalog, week)
    );
    let cache = crate::support::fresh_cache_dir();
    let explain = |sql: &str| {
        let output = server
            .minerva()
            .env("MINERVA_CACHE_DIR", &cache)
            .args([
                "--catalog",
                slow.to_str().unwrap(),
                "--format",
                "csv",
                "--threads",
                "2",
            ])
            .args(["-c", &format!("EXPLAIN ANALYZE {sql}")])
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let in_flight = |text: &str| -> u64 {
        let store = text
            .lines()
            .find(|l| l.starts_with("store,"))
            .expect("a store row");
        let (before, _) = store.split_once(" at most in flight").expect("in flight");
        before.rsplit('(').next().unwrap().parse().unwrap()
    };
    let cold = explain(week);
    assert!(in_flight(&cold) >= 7, "{cold}");
    let warm = explain(week);
    assert!(warm.contains("7 footers from the disk cache"), "{warm}");
    assert!(
        !warm.contains(" LIST"),
        "listings came from the disk cache: {warm}"
    );
}
