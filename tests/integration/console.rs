//! `minerva ui`: the console's HTTP API, the real binary over HTTP on loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use minerva_demo::DemoSpec;
use serde_json::{Value, json};

use crate::support::DemoLake;

/// A console process, killed when dropped.
struct Console {
    child: Child,
    api: Api,
    /// The user's data directory (`XDG_DATA_HOME`): where the history goes.
    data: tempfile::TempDir,
}

/// Requests to a console's API.
#[derive(Clone)]
struct Api {
    /// `127.0.0.1:PORT`.
    address: String,
    token: String,
}

impl Console {
    fn start(catalog: &Path) -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_minerva"))
            .env("XDG_DATA_HOME", data.path())
            .env_remove("MINERVA_CATALOG")
            .env_remove("MINERVA_CLUSTER")
            .env("MINERVA_CACHE_DIR", crate::support::fresh_cache_dir())
            .arg("--catalog")
            .arg(catalog)
            .args(["ui", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"));
        let (base, token) = url.split_once("/?token=").unwrap();
        Self {
            child,
            data,
            api: Api {
                address: base.trim_start_matches("http://").to_string(),
                token: token.to_string(),
            },
        }
    }
}

impl std::ops::Deref for Console {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Api {
    /// Sends a request with the token (and `headers`); the status and the body.
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
        let bearer = format!("Bearer {}", self.token);
        self.raw(method, path, body, &[("Authorization", &bearer)])
    }

    fn json(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let (status, text) = self.request(method, path, body);
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
        )
    }

    fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let (status, bytes) = self.bytes(method, path, body, headers);
        (status, String::from_utf8(bytes).unwrap())
    }

    /// The status and the body's bytes (a chunked body put together).
    fn bytes(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Vec<u8>) {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            self.address,
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
        let body = &response[end + 4..];
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let chunked = head.contains("transfer-encoding: chunked");
        (
            status,
            if chunked {
                unchunk(body)
            } else {
                body.to_vec()
            },
        )
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of a chunked response.
fn unchunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = std::str::from_utf8(&body[..line]).unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        let rest = &body[line + 2..];
        out.extend_from_slice(&rest[..size]);
        body = &rest[size + 2..];
    }
}

fn lake() -> DemoLake {
    DemoLake::new(DemoSpec {
        days: 3,
        events_per_day: 2_000,
        ..Default::default()
    })
}

/// Starts `sql`; its id.
fn start(console: &Api, sql: &str) -> u64 {
    let (status, started) = console.json("POST", "/api/query", Some(&json!({ "sql": sql })));
    assert_eq!(status, 200, "{started}");
    started["id"].as_u64().unwrap()
}

#[test]
fn a_query_pages_through_its_rows_and_ends_with_the_status_line() {
    let lake = lake();
    let console = Console::start(&lake.catalog());
    let sql = "SELECT region, count(*) AS n FROM views GROUP BY region ORDER BY region";
    let (status, started) = console.json("POST", "/api/query", Some(&json!({ "sql": sql })));
    assert_eq!(status, 200, "{started}");
    assert_eq!(
        started["columns"],
        json!([{"name": "region", "type": "string"}, {"name": "n", "type": "bigint"}])
    );
    let id = started["id"].as_u64().unwrap();
    let mut rows = Vec::new();
    let mut pages = 0;
    let status_line = loop {
        let (status, page) = console.json("GET", &format!("/api/query/{id}/rows?max=40"), None);
        assert_eq!(status, 200, "{page}");
        let got = page["rows"].as_array().unwrap();
        assert!(got.len() <= 40);
        rows.extend(got.iter().cloned());
        pages += 1;
        if page["done"].as_bool().unwrap() {
            break page["status"].as_str().unwrap().to_string();
        }
        assert!(page["status"].is_null());
    };
    assert!(pages > 2, "{pages} pages");
    assert!(
        status_line.contains("Data scanned") && status_line.contains("3 partitions"),
        "{status_line}"
    );
    // The same rows as the engine's own answer, in order.
    let expected = lake.engine();
    let expected = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(crate::support::rows(&expected, sql));
    let got: Vec<String> = rows
        .iter()
        .map(|r| format!("{}|{}", r[0].as_str().unwrap(), r[1]))
        .collect();
    assert_eq!(got, expected);
    // Once done, the query is gone.
    let (status, _) = console.json("GET", &format!("/api/query/{id}/rows"), None);
    assert_eq!(status, 404);
}

#[test]
fn the_catalog_tree_marks_partitions_and_kinds() {
    let lake = lake();
    let console = Console::start(&lake.catalog());
    let (status, tree) = console.json("GET", "/api/catalog", None);
    assert_eq!(status, 200, "{tree}");
    let tables = tree["databases"][0]["tables"].as_array().unwrap();
    let views = tables.iter().find(|t| t["name"] == "views").unwrap();
    assert_eq!(views["kind"], "table");
    assert_eq!(views["partitions"], "listing");
    let dt = (views["columns"].as_array().unwrap().iter())
        .find(|c| c["name"] == "dt")
        .unwrap();
    assert_eq!(dt["partition"], true);
    let region = (views["columns"].as_array().unwrap().iter())
        .find(|c| c["name"] == "region")
        .unwrap();
    assert_eq!(region["partition"], false);
    assert_eq!(region["type"], "string");
    assert!(
        tables.iter().any(|t| t["kind"] == "live"),
        "the demo's live table: {tree}"
    );
}

#[test]
fn bad_statements_tokens_origins_and_ids_are_clear_errors() {
    let lake = lake();
    let console = Console::start(&lake.catalog());
    let (status, error) = console.json("POST", "/api/query", Some(&json!({"sql": "SELEC 1"})));
    assert_eq!(status, 400);
    assert!(
        error["error"].as_str().unwrap().contains("SELEC"),
        "{error}"
    );
    let (status, error) = console.json(
        "POST",
        "/api/query",
        Some(&json!({"sql": "SELECT * FROM nowhere"})),
    );
    assert_eq!(status, 400);
    assert!(
        error["error"].as_str().unwrap().contains("nowhere"),
        "{error}"
    );
    let (status, _) = console.json("GET", "/api/query/999/rows", None);
    assert_eq!(status, 404);
    let (status, _) = console.json("DELETE", "/api/query/999", None);
    assert_eq!(status, 404);
    // No token, a wrong one, another origin.
    let (status, body) = console.raw("GET", "/api/catalog", None, &[]);
    assert_eq!(status, 401);
    assert!(body.contains("token"), "{body}");
    let (status, _) = console.raw("GET", "/api/catalog?token=0123", None, &[]);
    assert_eq!(status, 401);
    let with_token = format!("/api/catalog?token={}", console.token);
    let (status, _) = console.raw("GET", &with_token, None, &[]);
    assert_eq!(status, 200);
    let (status, _) = console.raw(
        "GET",
        &with_token,
        None,
        &[("Origin", "http://evil.example")],
    );
    assert_eq!(status, 403);
    // An address other machines reach needs --allow-remote.
    let refused = Command::new(env!("CARGO_BIN_EXE_minerva"))
        .arg("--catalog")
        .arg(lake.catalog())
        .args(["ui", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--allow-remote"));
}

/// A query of hours (6,000³ rows) started, and a page of it being waited for in another
/// thread: the query's id and the page's request.
fn waiting_page(console: &Api) -> (u64, std::thread::JoinHandle<(u16, Value)>) {
    let id = start(
        console,
        "SELECT count(*) FROM views a CROSS JOIN views b CROSS JOIN views c WHERE a.price + b.price + c.price > 0",
    );
    let api = console.clone();
    let page = std::thread::spawn(move || api.json("GET", &format!("/api/query/{id}/rows"), None));
    std::thread::sleep(Duration::from_millis(500));
    (id, page)
}

#[test]
fn a_cancel_stops_a_query_that_is_still_running() {
    let lake = lake();
    let console = Console::start(&lake.catalog());
    let (id, page) = waiting_page(&console);
    let started = Instant::now();
    let (status, cancelled) = console.json("DELETE", &format!("/api/query/{id}"), None);
    assert_eq!(status, 200, "{cancelled}");
    let (status, page) = page.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(status, 400);
    assert!(
        page["error"].as_str().unwrap().contains("cancelled"),
        "{page}"
    );
    // The console serves the next query.
    let id = start(&console, "SELECT 1 AS one");
    let (_, page) = console.json("GET", &format!("/api/query/{id}/rows"), None);
    assert_eq!(page["rows"], json!([[1]]));
}

/// Starts a query of `columns` of one day's 2,000 rows and pages through ten of them; its id.
fn ten_rows_in(console: &Api, columns: &str) -> u64 {
    let id = start(
        console,
        &format!("SELECT {columns} FROM views WHERE dt = DATE '2024-01-01' ORDER BY event_id"),
    );
    let (_, page) = console.json("GET", &format!("/api/query/{id}/rows?max=10"), None);
    assert_eq!(page["rows"].as_array().unwrap().len(), 10);
    id
}

#[test]
fn the_rows_not_yet_paged_download_as_csv() {
    let lake = lake();
    let console = Console::start(&lake.catalog());
    let id = ten_rows_in(&console, "listing_id, price");
    let (status, csv) = console.request("GET", &format!("/api/query/{id}/csv"), None);
    assert_eq!(status, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "listing_id,price");
    assert_eq!(lines.len() - 1, 2_000 - 10, "the rest, once");
}

/// The peak resident memory of process `pid`, in bytes (Linux).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Ten million rows stream out without the server holding them: its peak memory stays far
/// below the rows' own size (about 300 MB as Arrow arrays).
#[test]
fn ten_million_rows_stream_out_in_flat_memory() {
    let lake = lake();
    let console = Console::start(&lake.catalog());
    let id = start(
        &console,
        "SELECT value, value * 2 AS twice, CAST(value AS VARCHAR) AS label FROM range(10000000)",
    );
    let (_, page) = console.json("GET", &format!("/api/query/{id}/rows?max=5"), None);
    // Rows come in the order the range's partitions give them.
    for row in page["rows"].as_array().unwrap() {
        let value = row[0].as_i64().unwrap();
        assert_eq!(row, &json!([value, 2 * value, value.to_string()]));
    }
    let (status, csv) = console.request("GET", &format!("/api/query/{id}/csv"), None);
    assert_eq!(status, 200);
    assert_eq!(csv.lines().count(), 1 + 10_000_000 - 5);
    let peak = peak_rss(console.child.id());
    assert!(peak < 250 << 20, "the console peaked at {} MiB", peak >> 20);
}

#[test]
fn history_is_kept_per_user_and_saved_queries_are_files_of_the_catalog() {
    let lake = lake();
    let console = Console::start(&lake.catalog());
    start(&console, "SELECT 1 AS one");
    let (status, _) = console.json("POST", "/api/query", Some(&json!({"sql": "SELEC 2"})));
    assert_eq!(status, 400);
    let (_, history) = console.json("GET", "/api/history", None);
    let entries = history["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{history}");
    assert_eq!(entries[0]["sql"], "SELEC 2");
    assert!(entries[0]["error"].as_str().unwrap().contains("SELEC"));
    assert_eq!(entries[1]["sql"], "SELECT 1 AS one");
    assert!(entries[1].get("error").is_none());
    assert!(
        console
            .data
            .path()
            .join("minerva/console-history.jsonl")
            .exists()
    );

    let sql = "SELECT region, count(*) FROM views GROUP BY 1";
    let (status, saved) = console.json(
        "PUT",
        "/api/saved/weekly-views",
        Some(&json!({ "sql": sql })),
    );
    assert_eq!(status, 200, "{saved}");
    let file = lake.catalog().join(".queries/weekly-views.sql");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), format!("{sql}\n"));
    let (_, listed) = console.json("GET", "/api/saved", None);
    assert_eq!(
        listed["queries"],
        json!([{ "name": "weekly-views", "sql": format!("{sql}\n") }])
    );
    for bad in ["..%2Fescape", ".hidden", "a%20b"] {
        let (status, error) = console.json(
            "PUT",
            &format!("/api/saved/{bad}"),
            Some(&json!({ "sql": sql })),
        );
        assert_eq!(status, 400, "{bad}: {error}");
    }
    // The catalog is unchanged by its saved queries: no database appears.
    let (_, tree) = console.json("GET", "/api/catalog", None);
    assert_eq!(tree["databases"].as_array().unwrap().len(), 1, "{tree}");
    let (status, _) = console.json("DELETE", "/api/saved/weekly-views", None);
    assert_eq!(status, 200);
    assert!(!file.exists());
    let (status, _) = console.json("DELETE", "/api/saved/weekly-views", None);
    assert_eq!(status, 404);
}

/// Where playwright-core is (`node_modules`, as `NODE_PATH`), if Node.js and it and Chromium
/// are there; in CI they must be (`.ci/run` installs them).
fn browser_tools() -> Option<String> {
    let modules = std::env::var("MINERVA_PLAYWRIGHT_NODE_PATH").ok();
    let chromium = std::env::var("MINERVA_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let has = modules
        .as_ref()
        .is_some_and(|m| Path::new(m).join("playwright-core").exists())
        && Path::new(&chromium).exists()
        && Command::new("node").arg("--version").output().is_ok();
    assert!(
        has || std::env::var_os("CI").is_none(),
        "CI must have Node.js, playwright-core (MINERVA_PLAYWRIGHT_NODE_PATH) and Chromium"
    );
    if !has {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "skipped: no playwright-core (MINERVA_PLAYWRIGHT_NODE_PATH) or no Chromium (MINERVA_CHROMIUM)"
            );
        }
    }
    modules.filter(|_| has)
}

/// The page in headless Chromium: the tree expands, a table name completes, Ctrl-Enter runs the
/// statement with its rows and status line, the chart draws a series per key, a long query is
/// cancelled, a query is saved (and is a file of the catalog), a bad token gets a page saying
/// so (`crates/console/web/e2e.cjs`).
#[test]
fn the_page_runs_queries_charts_cancels_and_saves_in_a_browser() {
    let Some(modules) = browser_tools() else {
        return;
    };
    let lake = lake();
    let console = Console::start(&lake.catalog());
    let url = format!("http://{}/?token={}", console.address, console.token);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/console/web/e2e.cjs");
    let shot = tempfile::tempdir().unwrap();
    let output = Command::new("node")
        .arg(&script)
        .arg(&url)
        .arg(shot.path().join("console.png"))
        .env("NODE_PATH", &modules)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        printed.lines().filter(|l| l.starts_with("ok: ")).count(),
        9,
        "{printed}"
    );
    assert!(lake.catalog().join(".queries/e2e-saved.sql").exists());
    // The chart was drawn: the screenshot is a real image.
    let png = std::fs::read(shot.path().join("console.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
}

#[test]
fn the_rows_not_yet_paged_download_as_parquet() {
    let lake = lake();
    let console = Console::start(&lake.catalog());
    let id = ten_rows_in(&console, "listing_id, price, region");
    let bearer = format!("Bearer {}", console.token);
    let (status, file) = console.bytes(
        "GET",
        &format!("/api/query/{id}/parquet"),
        None,
        &[("Authorization", &bearer)],
    );
    assert_eq!(status, 200);
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(file),
    )
    .unwrap();
    let names: Vec<String> = (reader.schema().fields().iter())
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["listing_id", "price", "region"]);
    let rows: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 2_000 - 10, "the rest, once");
}

/// SIGTERM stops the console at once, cancelling what runs: a page waiting on a long query
/// answers that it was cancelled, and the process exits.
#[test]
fn sigterm_cancels_running_queries_and_stops() {
    let lake = lake();
    let mut console = Console::start(&lake.catalog());
    let (_, page) = waiting_page(&console);
    let pid = console.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (status, page) = page.join().unwrap();
    assert_eq!(status, 400, "{page}");
    assert!(
        page["error"].as_str().unwrap().contains("cancelled"),
        "{page}"
    );
    let started = Instant::now();
    while console.child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the console did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
