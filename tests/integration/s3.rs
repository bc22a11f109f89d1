//! Tables in S3, against a real S3-compatible server on 127.0.0.1 (issue #5): the same
//! answers as on local disk, pruning and caching proven by the requests the server got, scan
//! accounting equal to the bytes it served, the scan limit, and each failure's clear error.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use minerva_catalog::Catalog;
use minerva_demo::DemoSpec;
use minerva_engine::{Engine, EngineError};
use minerva_store::{RecordingStore, RequestKind};
use predicates::prelude::*;
use predicates::str::contains;
use url::Url;

use crate::s3_server::{S3Server, upload};
use crate::support::{DemoLake, render, rows, sql_files};

/// 35 days from 2024-01-01, as the seed queries expect, kept small.
fn seed_lake() -> DemoLake {
    DemoLake::new(DemoSpec {
        days: 35,
        events_per_day: 200,
        rows_per_file: 1_000,
        // Several row groups a file: the remote scans fetch them ahead, many at once.
        rows_per_row_group: 64,
        ..Default::default()
    })
}

/// The lake's catalog with its tables moved to `s3://{bucket}/`, plus `storage.toml`.
fn s3_catalog(lake: &DemoLake, server: &S3Server, bucket: &str) -> PathBuf {
    let catalog = lake.dir.path().join(format!("catalog-{bucket}"));
    std::fs::create_dir_all(catalog.join("default")).unwrap();
    for (table, local) in [("views", "views"), ("views_raw", "raw/views")] {
        let text =
            std::fs::read_to_string(lake.catalog().join(format!("default/{table}.toml"))).unwrap();
        let relative = format!("../{local}");
        let moved = text
            .lines()
            .map(|line| {
                if line.starts_with("location = ") {
                    format!("location = \"s3://{bucket}/{local}\"")
                } else {
                    line.replace(&relative, &format!("s3://{bucket}/{local}"))
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(catalog.join(format!("default/{table}.toml")), moved).unwrap();
    }
    std::fs::write(catalog.join("storage.toml"), server.storage_toml()).unwrap();
    catalog
}

/// Uploads the lake's data to `bucket`.
async fn upload_lake(lake: &DemoLake, server: &S3Server, bucket: &str) {
    let store = server.bucket(bucket);
    assert!(upload(store.as_ref(), &lake.views(), "views").await >= 35);
    upload(
        store.as_ref(),
        &lake.dir.path().join("raw/views"),
        "raw/views",
    )
    .await;
}

/// The seed lake in a bucket of the S3 server, and a catalog over it.
pub(crate) struct S3Lake;

impl S3Lake {
    pub(crate) async fn start(bucket: &str) -> Option<(S3Server, DemoLake, PathBuf)> {
        let server = S3Server::start()?;
        let lake = seed_lake();
        upload_lake(&lake, &server, bucket).await;
        let catalog = s3_catalog(&lake, &server, bucket);
        Some((server, lake, catalog))
    }
}

/// An engine over `catalog` whose requests to `bucket` are recorded.
fn recorded_engine(server: &S3Server, catalog: &Path, bucket: &str) -> (Engine, RecordingStore) {
    let store = RecordingStore::new(server.client(bucket));
    let engine = Engine::builder(Catalog::load(catalog).unwrap())
        .object_store(
            Url::parse(&format!("s3://{bucket}")).unwrap(),
            Arc::new(store.clone()),
        )
        .build();
    (engine, store)
}

pub(crate) fn seed_queries() -> Vec<(String, String)> {
    let mut queries: Vec<_> = sql_files("benches/queries")
        .into_iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(p).unwrap())
        })
        .collect();
    queries.sort();
    assert!(queries.len() >= 10);
    queries
}

async fn sorted_rows(engine: &Engine, sql: &str) -> Vec<String> {
    let mut answer = rows(engine, sql).await;
    answer.sort();
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_queries_on_s3_equal_the_local_answers() {
    let Some((server, lake, catalog)) = S3Lake::start("seed").await else {
        return;
    };
    let local = lake.engine();
    // The client is handed in (credentials stay out of this process's environment); the
    // binary's own client, from storage.toml and the AWS chain, is covered below.
    let (on_s3, _) = recorded_engine(&server, &catalog, "seed");
    for (name, sql) in seed_queries() {
        let expected = sorted_rows(&local, &sql).await;
        assert!(!expected.is_empty(), "{name}");
        let answer = match on_s3.query(&sql).await {
            Ok(batches) => {
                let mut answer = render(&batches);
                answer.sort();
                answer
            }
            Err(error) => panic!("{name} on S3: {error}"),
        };
        assert_eq!(answer, expected, "{name}");
    }
    // The speed layer too: JSON objects found by projection, not listing.
    assert_eq!(
        sorted_rows(&on_s3, "SELECT count(*) FROM views_raw").await,
        sorted_rows(&local, "SELECT count(*) FROM views_raw").await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_day_reads_one_prefix_and_a_second_query_is_served_from_the_caches() {
    let Some((server, _lake, catalog)) = S3Lake::start("cache").await else {
        return;
    };
    let (engine, store) = recorded_engine(&server, &catalog, "cache");
    let sql = "SELECT count(*) FROM views WHERE dt = DATE '2024-01-15'";

    let first = engine.execute(sql).await.unwrap();
    let stats = Arc::clone(&first.stats);
    let answer: Vec<_> = first.stream.collect().await;
    assert_eq!(
        render(&answer.into_iter().map(Result::unwrap).collect::<Vec<_>>()),
        ["200"]
    );
    let requests = store.requests();
    let reads: Vec<_> = requests
        .iter()
        .filter(|r| r.kind == RequestKind::Get)
        .collect();
    assert!(!reads.is_empty());
    assert!(
        reads
            .iter()
            .all(|r| r.path.starts_with("views/dt=2024-01-15/")),
        "a read outside the day: {reads:?}"
    );
    assert!(reads.iter().any(|r| r.reads_footer()));
    // Scan accounting is what the server served, request for request.
    let summary = stats.summary();
    let served: u64 = requests.iter().map(|r| r.bytes()).sum();
    assert_eq!(summary.bytes, served);
    assert_eq!(summary.get_requests, reads.len() as u64);
    let lists = requests
        .iter()
        .filter(|r| matches!(r.kind, RequestKind::List | RequestKind::ListWithDelimiter))
        .count();
    assert_eq!(summary.list_requests, lists as u64);
    assert_eq!((summary.partitions_read, summary.rows), (1, 1));

    store.clear();
    assert_eq!(rows(&engine, sql).await, ["200"]);
    let again = store.requests();
    assert!(
        again
            .iter()
            .all(|r| !matches!(r.kind, RequestKind::List | RequestKind::ListWithDelimiter)),
        "the second query listed: {again:?}"
    );
    assert!(
        again.iter().all(|r| !r.reads_footer()),
        "the second query read a footer: {again:?}"
    );

    // After `\cache clear` the store is asked again.
    engine.clear_caches();
    store.clear();
    assert_eq!(rows(&engine, sql).await, ["200"]);
    assert!(store.requests().iter().any(|r| r.reads_footer()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_scans_account_for_every_byte_of_the_objects() {
    let Some((server, lake, catalog)) = S3Lake::start("rawbytes").await else {
        return;
    };
    let (engine, _) = recorded_engine(&server, &catalog, "rawbytes");
    let output = engine
        .execute("SELECT count(*) FROM views_raw WHERE datehour = '2024/02/05/03'")
        .await
        .unwrap();
    let stats = Arc::clone(&output.stats);
    let _: Vec<_> = output.stream.collect().await;
    let hour = lake.dir.path().join("raw/views/2024/02/05/03");
    let on_disk: u64 = std::fs::read_dir(&hour)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let summary = stats.summary();
    assert_eq!(summary.bytes, on_disk, "gzip JSON objects are read whole");
    assert_eq!(summary.partitions_read, 1);
    assert_eq!(summary.partitions_total, Some(24));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scan_limit_stops_a_query_before_it_reads_too_much() {
    let Some((server, _lake, catalog)) = S3Lake::start("limit").await else {
        return;
    };
    let (engine, store) = recorded_engine(&server, &catalog, "limit");
    engine.set_max_scan(Some(20_000));
    let error = engine
        .query("SELECT count(DISTINCT user_id) FROM views")
        .await
        .unwrap_err();
    assert!(matches!(error, EngineError::ScanLimit(_)), "{error}");
    let message = error.to_string();
    assert!(
        message
            .starts_with("query stopped: it would read more than 19.5 KiB (the limit of max_scan)"),
        "{message}"
    );
    let served: u64 = store.requests().iter().map(|r| r.bytes()).sum();
    assert!(served <= 20_000, "read {served} bytes past the limit");

    // Without the limit the same engine goes on answering.
    engine.set_max_scan(None);
    assert_eq!(
        rows(
            &engine,
            "SELECT count(*) FROM views WHERE dt = DATE '2024-01-02'"
        )
        .await,
        ["200"]
    );
}

#[test]
fn the_binary_reads_s3_with_environment_credentials_and_reports_the_scan() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some((server, _lake, catalog)) = runtime.block_on(S3Lake::start("cli")) else {
        return;
    };
    server
        .minerva()
        .args(["--catalog", catalog.to_str().unwrap(), "--stats"])
        .args([
            "-c",
            "SELECT count(*) AS n FROM views WHERE dt >= DATE '2024-01-30'",
        ])
        .assert()
        .success()
        .stdout("n\n1200\n")
        .stderr(contains("Data scanned: ").and(contains("(6 partitions; ")))
        .stderr(contains("Athena ≈ $0.00005"));

    // EXPLAIN is a dry run that says how much the chosen files hold; EXPLAIN ANALYZE ends with
    // what the query read.
    server
        .minerva()
        .args(["--catalog", catalog.to_str().unwrap(), "--format", "csv"])
        .args([
            "-c",
            "EXPLAIN SELECT count(*) FROM views WHERE dt = DATE '2024-01-03'",
        ])
        .args([
            "-c",
            "EXPLAIN ANALYZE SELECT count(*) FROM views WHERE dt = DATE '2024-01-03'",
        ])
        .assert()
        .success()
        .stdout(
            contains("1 partition chosen by listing, 1 file (")
                .and(contains("at most this is read")),
        )
        .stdout(contains("scan,\"Run time: ").and(contains("(1 partition; 1 object; ")));

    // --max-scan cancels, with the limit's name in the message; the next statement still runs.
    server
        .minerva()
        .args(["--catalog", catalog.to_str().unwrap(), "--max-scan", "10kB"])
        .write_stdin("SELECT count(DISTINCT user_id) FROM views;\nSELECT 1 AS one;\n")
        .assert()
        .code(1)
        .stdout("one\n1\n")
        .stderr(contains("query stopped: it would read more than"));

    // A table's require_partition_filter refuses a full scan, not a filtered one.
    let views = catalog.join("default/views.toml");
    let text = std::fs::read_to_string(&views).unwrap();
    std::fs::write(
        &views,
        crate::support::with_property(&text, "require_partition_filter", "true"),
    )
    .unwrap();
    server
        .minerva()
        .args(["--catalog", catalog.to_str().unwrap()])
        .write_stdin("SELECT count(*) FROM views;\nSELECT count(*) AS n FROM views WHERE dt = DATE '2024-01-03';\n")
        .assert()
        .code(1)
        .stdout("n\n200\n")
        .stderr(contains(
            "table 'default.views' requires a filter on its partition columns (dt)",
        ));

    // A table's own max_scan applies even when the session sets none.
    std::fs::write(
        &views,
        crate::support::with_property(&text, "max_scan", "10kB"),
    )
    .unwrap();
    server
        .minerva()
        .args(["--catalog", catalog.to_str().unwrap()])
        .args(["-c", "SELECT count(DISTINCT user_id) FROM views"])
        .assert()
        .code(1)
        .stderr(contains(
            "the limit of table 'default.views' (property 'max_scan')",
        ));
}

#[test]
fn profiles_provide_credentials_from_files_or_a_process() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some((_server, _lake, catalog)) = runtime.block_on(S3Lake::start("profiles")) else {
        return;
    };
    let aws = tempfile::tempdir().unwrap();
    let credentials = aws.path().join("credentials");
    let config = aws.path().join("config");
    let process = aws.path().join("creds.sh");
    std::fs::write(
        &process,
        format!(
            "#!/bin/sh\necho '{{\"Version\": 1, \"AccessKeyId\": \"{}\", \"SecretAccessKey\": \"{}\"}}'\n",
            crate::s3_server::ACCESS_KEY,
            crate::s3_server::SECRET_KEY
        ),
    )
    .unwrap();
    std::fs::write(
        &credentials,
        format!(
            "[lake]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            crate::s3_server::ACCESS_KEY,
            crate::s3_server::SECRET_KEY
        ),
    )
    .unwrap();
    std::fs::write(
        &config,
        format!(
            "[profile tool]\ncredential_process = sh {}\n[profile sso]\nsso_session = corp\n",
            process.display()
        ),
    )
    .unwrap();
    let sql = "SELECT count(*) AS n FROM views WHERE dt = DATE '2024-01-03'";
    for profile in ["lake", "tool"] {
        crate::s3_server::minerva_without_aws()
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            .env("AWS_CONFIG_FILE", &config)
            .args(["--catalog", catalog.to_str().unwrap(), "--profile", profile])
            .args(["-c", sql])
            .assert()
            .success()
            .stdout("n\n200\n");
    }
    crate::s3_server::minerva_without_aws()
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_CONFIG_FILE", &config)
        .args(["--catalog", catalog.to_str().unwrap(), "--profile", "sso"])
        .args(["-c", sql])
        .assert()
        .code(1)
        .stderr(contains(
            "AWS profile 'sso' gets credentials by single sign-on",
        ));
}

#[test]
fn store_failures_name_the_bucket_and_say_what_to_check() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some((server, _lake, catalog)) = runtime.block_on(S3Lake::start("failures")) else {
        return;
    };
    let catalog_arg = catalog.to_str().unwrap().to_string();
    let sql = "SELECT count(*) FROM views WHERE dt = DATE '2024-01-03';\nSELECT 1 AS still_here;\n";
    let expect_error = |command: &mut assert_cmd::Command, message: &str| {
        command
            .args(["--catalog", &catalog_arg])
            .write_stdin(sql)
            .assert()
            .code(1)
            .stdout("still_here\n1\n")
            .stderr(contains(message))
            .stderr(contains(SECRET).not());
    };
    const SECRET: &str = "wrong-secret-never-printed";

    // Wrong secret: the signature check fails.
    expect_error(
        crate::s3_server::minerva_without_aws()
            .env("AWS_ACCESS_KEY_ID", crate::s3_server::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET),
        "check the secret access key",
    );
    // Unknown access key.
    expect_error(
        crate::s3_server::minerva_without_aws()
            .env("AWS_ACCESS_KEY_ID", "nobody")
            .env("AWS_SECRET_ACCESS_KEY", SECRET),
        "s3://failures",
    );

    // A bucket that does not exist.
    let views = catalog.join("default/views.toml");
    let text = std::fs::read_to_string(&views).unwrap();
    std::fs::write(
        &views,
        text.replace("s3://failures/", "s3://no-such-bucket/"),
    )
    .unwrap();
    expect_error(&mut server.minerva(), "the bucket does not exist");
    std::fs::write(&views, &text).unwrap();

    // Nothing listening at the endpoint.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let storage = catalog.join("storage.toml");
    let settings = std::fs::read_to_string(&storage).unwrap();
    std::fs::write(
        &storage,
        settings.replace(&server.endpoint, &closed_endpoint) + "retries = 1\n",
    )
    .unwrap();
    expect_error(&mut server.minerva(), "cannot connect to the object store");

    // A server that accepts and never answers: the request times out.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_endpoint = format!("http://{}", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            held.push(stream);
        }
    });
    std::fs::write(
        &storage,
        settings.replace(&server.endpoint, &silent_endpoint) + "retries = 0\ntimeout = \"1s\"\n",
    )
    .unwrap();
    expect_error(&mut server.minerva(), "did not answer in time");

    // AWS's answer when the bucket is in another region.
    let redirecting = TcpListener::bind("127.0.0.1:0").unwrap();
    let redirect_endpoint = format!("http://{}", redirecting.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in redirecting.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message><Endpoint>failures.s3.eu-west-1.amazonaws.com</Endpoint><Bucket>failures</Bucket></Error>";
            let _ = write!(
                stream,
                "HTTP/1.1 301 Moved Permanently\r\nx-amz-bucket-region: eu-west-1\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    std::fs::write(
        &storage,
        settings.replace(&server.endpoint, &redirect_endpoint) + "retries = 0\n",
    )
    .unwrap();
    expect_error(&mut server.minerva(), "another region");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_mid_query_gives_a_clear_error() {
    let Some(mut server) = S3Server::start_own() else {
        return;
    };
    let lake = seed_lake();
    upload_lake(&lake, &server, "outage").await;
    let catalog = s3_catalog(&lake, &server, "outage");
    let engine = Engine::builder(Catalog::load(&catalog).unwrap())
        .object_store(Url::parse("s3://outage").unwrap(), server.client("outage"))
        .target_partitions(1)
        .build();
    // Rows stream file by file: the first arrives, then the server goes away.
    let mut output = engine.execute("SELECT user_id FROM views").await.unwrap();
    let first = output.stream.next().await.unwrap().unwrap();
    assert!(first.num_rows() > 0);
    server.stop();
    let mut failure = None;
    while let Some(batch) = output.stream.next().await {
        if let Err(error) = batch {
            failure = Some(EngineError::from(error));
            break;
        }
    }
    let message = failure
        .expect("the query went on without its server")
        .to_string();
    assert!(
        message.contains("cannot connect to the object store") && message.contains("/outage/"),
        "{message}"
    );
}

/// The speed side of a live table is listed afresh by every query, whatever `listing_ttl`:
/// an object that lands is counted by the next query, though a listing from before it landed
/// is in the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_tables_speed_side_counts_an_object_the_query_after_it_lands() {
    let Some((server, lake, catalog)) = S3Lake::start("fresh").await else {
        return;
    };
    std::fs::copy(
        lake.catalog().join("default/views_live.toml"),
        catalog.join("default/views_live.toml"),
    )
    .unwrap();
    let (engine, _) = recorded_engine(&server, &catalog, "fresh");
    let before: usize = rows(&engine, "SELECT count(*) FROM views_live").await[0]
        .parse()
        .unwrap();
    assert_eq!(before, 36 * 200);
    // The raw table's own scan caches its listings (for listing_ttl, 60 s by default).
    assert_eq!(
        rows(&engine, "SELECT count(*) FROM views_raw").await,
        ["200"]
    );

    let line = r#"{"event_time":"2024-02-05T11:59:59","event_id":"landed-now","user_id":7,"session_id":"s","listing_id":42,"region":"서울 강남구","service":"apt","platform":"web","event_type":"view","price":null}"#;
    object_store::ObjectStoreExt::put(
        server.bucket("fresh").as_ref(),
        &object_store::path::Path::from("raw/views/2024/02/05/12/landed-now.json"),
        format!("{line}\n").into(),
    )
    .await
    .unwrap();
    assert_eq!(
        rows(&engine, "SELECT count(*) FROM views_live").await,
        [(before + 1).to_string()],
        "the speed side listed afresh"
    );
    assert_eq!(
        rows(&engine, "SELECT count(*) FROM views_raw").await,
        ["201"],
        "the fresh listing replaced the cached one"
    );
}
