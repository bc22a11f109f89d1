//! `minerva serve` with real clients: the `psql` binary, Python's psycopg and SQLAlchemy
//! (`pg/clients.py`), BI tools' connect-time queries replayed (`pg/bi_startup.sql`), and the
//! faults a server meets: wrong passwords, clients without TLS, garbage, clients killed
//! mid-result, floods, cancels, the connection limit, SIGTERM.
//!
//! psql comes from Debian's postgresql-client; psycopg and SQLAlchemy from PyPI, in the Python
//! that `MINERVA_PG_PYTHON` names (`.ci/run` installs both). Without them a test says so and
//! passes, except in CI (`CI` set), where it fails.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{DemoLake, fresh_cache_dir, seed_spec, sql_files};

/// A `minerva serve` process, stopped when dropped.
struct Served {
    child: Child,
    addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
}

impl Served {
    fn start(catalog: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_minerva"));
        command
            .env_remove("MINERVA_CATALOG")
            .env_remove("MINERVA_PG_PASSWORD")
            .env("MINERVA_CACHE_DIR", fresh_cache_dir())
            .arg("--catalog")
            .arg(catalog)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("minerva starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the server says where it listens");
        let addr = line
            .split("postgres://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no address in the startup line: {line}"));
        Self {
            child,
            addr,
            stderr: rx,
        }
    }

    /// `psql` against the server: `-X` (no psqlrc), stop at the first error.
    fn psql(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        Command::new("psql")
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-U",
                "analyst",
            ])
            .args(["-p", &self.addr.port().to_string(), "-d", "minerva"])
            .args(args)
            .env("PGCONNECT_TIMEOUT", "20")
            .env_remove("PGPASSWORD")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("psql runs")
    }

    /// `psql -c sql`, which must succeed; its stdout.
    fn psql_ok(&self, args: &[&str]) -> String {
        let out = self.psql(args, &[]);
        assert!(
            out.status.success(),
            "psql {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A scenario of `pg/clients.py`, which must succeed.
    fn python(&self, python: &str, scenario: &[&str]) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/pg/clients.py");
        let out = Command::new(python)
            .arg(script)
            .args(["127.0.0.1", &self.addr.port().to_string()])
            .args(scenario)
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "scenario {scenario:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Served {
    /// Sends SIGTERM and waits for the process to end (30 s at most): its exit status and how
    /// long it took.
    fn terminate(&mut self) -> (std::process::ExitStatus, Duration) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the server did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether psql is here; in CI it must be.
fn have_psql() -> bool {
    let found = Command::new("psql").arg("--version").output().is_ok();
    assert!(
        found || std::env::var_os("CI").is_none(),
        "CI must have psql (postgresql-client)"
    );
    if !found {
        // Outside CI a developer without psql sees why the test passed vacuously.
        #[allow(clippy::print_stderr)]
        {
            eprintln!("skipped: psql not found (apt-get install postgresql-client)");
        }
    }
    found
}

/// The Python with psycopg and SQLAlchemy; in CI it must be there.
fn pg_python() -> Option<String> {
    let python = std::env::var("MINERVA_PG_PYTHON").unwrap_or_else(|_| "python3".into());
    let has = Command::new(&python)
        .args(["-c", "import psycopg, sqlalchemy"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has || std::env::var_os("CI").is_none(),
        "CI must have psycopg and SQLAlchemy: set MINERVA_PG_PYTHON"
    );
    if !has {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "skipped: no Python with psycopg and SQLAlchemy (pip install 'psycopg[binary]' sqlalchemy, or MINERVA_PG_PYTHON)"
            );
        }
    }
    has.then_some(python)
}

/// The seed lake: three weeks across two months.
fn lake() -> DemoLake {
    DemoLake::new(seed_spec())
}

/// The demo lake's dates (35 days from 2024-01-01), which the seed questions of
/// `benches/queries` ask about, small.
fn demo_dates_lake() -> DemoLake {
    DemoLake::new(minerva_demo::DemoSpec {
        days: 35,
        events_per_day: 400,
        rows_per_file: 250,
        ..Default::default()
    })
}

fn total_rows(lake: &DemoLake) -> u64 {
    (lake.spec.days as u64) * (lake.spec.events_per_day as u64)
}

#[test]
fn psql_lists_describes_and_answers() {
    if !have_psql() {
        return;
    }
    let lake = lake();
    let server = Served::start(&lake.catalog(), &[], &[]);
    let tables = server.psql_ok(&["-c", r"\dt"]);
    assert!(tables.contains("default | views"), "{tables}");
    let described = server.psql_ok(&["-c", r"\d views"]);
    assert!(
        described.contains(r#"Table "default.views""#),
        "{described}"
    );
    assert!(
        described.contains("dt ") && described.contains("| date"),
        "{described}"
    );
    assert!(described.contains("listing_id | bigint"), "{described}");
    let databases = server.psql_ok(&["-c", r"\l"]);
    assert!(databases.contains("minerva"), "{databases}");
    let count = server.psql_ok(&["-A", "-t", "-c", "SELECT count(*) FROM views"]);
    assert_eq!(count.trim(), total_rows(&lake).to_string());
    // Several statements in one simple query, as psql sends `-c 'a; b'`.
    let both = server.psql_ok(&["-A", "-t", "-c", "SELECT 1; SELECT 2"]);
    assert_eq!(both.trim(), "1\n2");
}

#[test]
fn each_seed_question_over_the_wire_equals_the_shells_answer() {
    if !have_psql() {
        return;
    }
    let lake = demo_dates_lake();
    let server = Served::start(&lake.catalog(), &[], &[]);
    let files = sql_files("benches/queries");
    assert!(
        files.len() >= 20,
        "the seed questions are in benches/queries"
    );
    let mut answered = 0;
    for file in &files {
        let wire = server.psql_ok(&["--csv", "-f", file.to_str().unwrap()]);
        let shell = Command::new(env!("CARGO_BIN_EXE_minerva"))
            .env("MINERVA_CACHE_DIR", fresh_cache_dir())
            .arg("--catalog")
            .arg(lake.catalog())
            .args(["--format", "csv", "-f"])
            .arg(file)
            .output()
            .unwrap();
        assert!(
            shell.status.success(),
            "{}",
            String::from_utf8_lossy(&shell.stderr)
        );
        let shell = String::from_utf8(shell.stdout).unwrap();
        answered += usize::from(shell.lines().count() > 1);
        // Byte for byte, as row sets: some questions have no ORDER BY (or ties in it).
        let rows = |text: &str| {
            let mut lines: Vec<String> = text.lines().map(String::from).collect();
            if let Some(rows) = lines.get_mut(1..) {
                rows.sort();
            }
            lines
        };
        assert_eq!(
            rows(&wire),
            rows(&shell),
            "{}: the wire's answer differs from the shell's",
            file.display()
        );
    }
    assert_eq!(answered, files.len(), "every question has rows");
}

#[test]
fn bi_tools_connect_time_queries_all_answer() {
    if !have_psql() {
        return;
    }
    let lake = lake();
    let server = Served::start(&lake.catalog(), &[], &[]);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/pg/bi_startup.sql");
    let replay = server.psql_ok(&["-f", fixture.to_str().unwrap()]);
    // Tableau's cursor fetched the tables; its first query grouped them.
    assert!(replay.contains("views"), "{replay}");
    assert!(replay.contains("PostgreSQL 16.6 (Minerva"), "{replay}");
}

#[test]
fn psycopg_and_sqlalchemy_round_trip_types_parameters_and_reflection() {
    let Some(python) = pg_python() else {
        return;
    };
    let lake = lake();
    let server = Served::start(&lake.catalog(), &[], &[]);
    server.python(&python, &["types"]);
    server.python(&python, &["sqlalchemy"]);
}

#[test]
fn fifty_concurrent_connections_all_answer_and_a_cancel_stops_a_query() {
    let Some(python) = pg_python() else {
        return;
    };
    let lake = lake();
    let server = Served::start(&lake.catalog(), &["--max-queries", "4"], &[]);
    let expected = total_rows(&lake).to_string();
    server.python(&python, &["concurrent", "50", &expected]);
    server.python(&python, &["cancel"]);
}

#[test]
fn past_the_connection_limit_clients_are_refused_by_name() {
    let Some(python) = pg_python() else {
        return;
    };
    let lake = lake();
    let server = Served::start(&lake.catalog(), &["--max-connections", "3"], &[]);
    server.python(&python, &["limit", "3"]);
}

#[test]
fn writes_need_allow_writes() {
    if !have_psql() {
        return;
    }
    let lake = lake();
    let server = Served::start(&lake.catalog(), &[], &[]);
    let refused = server.psql(
        &["-c", "CREATE TABLE copy AS SELECT * FROM views LIMIT 5"],
        &[],
    );
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("read-only"), "{message}");
    drop(server);
    let server = Served::start(&lake.catalog(), &["--allow-writes"], &[]);
    let out = server.psql_ok(&["-c", "CREATE TABLE copy AS SELECT * FROM views LIMIT 5"]);
    let _ = out;
    let count = server.psql_ok(&["-A", "-t", "-c", "SELECT count(*) FROM copy"]);
    assert_eq!(count.trim(), "5");
}

/// A self-signed certificate and key for 127.0.0.1, made by openssl.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    (cert, key)
}

#[test]
fn a_password_over_required_tls() {
    if !have_psql() {
        return;
    }
    let lake = lake();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let server = Served::start(
        &lake.catalog(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--require-tls",
        ],
        &[("MINERVA_PG_PASSWORD", "correct horse")],
    );
    let count = ["-A", "-t", "-c", "SELECT count(*) FROM views"];
    // Without TLS: refused, saying why.
    let plain = server.psql(
        &count,
        &[("PGSSLMODE", "disable"), ("PGPASSWORD", "correct horse")],
    );
    assert!(!plain.status.success());
    let why = String::from_utf8_lossy(&plain.stderr);
    assert!(why.contains("requires TLS"), "{why}");
    // With TLS and the wrong password: refused.
    let wrong = server.psql(&count, &[("PGSSLMODE", "require"), ("PGPASSWORD", "wrong")]);
    assert!(!wrong.status.success());
    let why = String::from_utf8_lossy(&wrong.stderr).to_lowercase();
    assert!(why.contains("password authentication failed"), "{why}");
    // With TLS and the password: served.
    let right = server.psql(
        &count,
        &[("PGSSLMODE", "require"), ("PGPASSWORD", "correct horse")],
    );
    assert!(
        right.status.success(),
        "{}",
        String::from_utf8_lossy(&right.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&right.stdout).trim(),
        total_rows(&lake).to_string()
    );
    drop(server);
    // TLS offered, not required: a plain client's password exchange is plain SCRAM (offering
    // the channel-bound kind without TLS makes libpq give up).
    let server = Served::start(
        &lake.catalog(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[("MINERVA_PG_PASSWORD", "correct horse")],
    );
    for mode in ["disable", "require"] {
        let out = server.psql(
            &count,
            &[("PGSSLMODE", mode), ("PGPASSWORD", "correct horse")],
        );
        assert!(
            out.status.success(),
            "sslmode={mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_non_loopback_address_without_a_password_does_not_start() {
    let lake = lake();
    let out = Command::new(env!("CARGO_BIN_EXE_minerva"))
        .env_remove("MINERVA_PG_PASSWORD")
        .arg("--catalog")
        .arg(lake.catalog())
        .args(["serve", "--listen", "0.0.0.0:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("needs a password"), "{message}");
    assert_eq!(message.lines().count(), 1, "one line: {message}");
}

#[test]
fn garbage_and_clients_killed_mid_result_leave_the_server_serving() {
    if !have_psql() {
        return;
    }
    let lake = lake();
    let server = Served::start(&lake.catalog(), &[], &[]);
    // A malformed startup packet (an absurd length), then bytes that are no protocol at all.
    for garbage in [
        &[0xff, 0xff, 0xff, 0xff, 0, 3, 0, 0][..],
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        &[0, 0, 0, 8, 0x12, 0x34, 0x56, 0x78][..],
    ] {
        let mut socket = TcpStream::connect(server.addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = socket.write_all(garbage);
        let mut answer = Vec::new();
        let _ = socket.read_to_end(&mut answer);
    }
    // A client killed while rows stream to it.
    let mut reader = Command::new("psql")
        .args([
            "-X",
            "-h",
            "127.0.0.1",
            "-p",
            &server.addr.port().to_string(),
            "-d",
            "minerva",
        ])
        .args(["-c", "SELECT * FROM views a CROSS JOIN views b"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    reader.kill().unwrap();
    reader.wait().unwrap();
    let count = server.psql_ok(&["-A", "-t", "-c", "SELECT count(*) FROM views"]);
    assert_eq!(count.trim(), total_rows(&lake).to_string());
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let lake = lake();
    let mut server = Served::start(&lake.catalog(), &["--grace", "2s"], &[]);
    let (status, _) = server.terminate();
    assert!(status.success(), "{status:?}");
    let said: Vec<String> = server.stderr.try_iter().collect();
    assert!(
        said.iter().any(|l| l.contains("server stopped")),
        "{said:?}"
    );
    // Nothing listens any more.
    assert!(TcpStream::connect(server.addr).is_err());
}

#[test]
fn the_statement_timeout_and_the_scan_limit_stop_queries_with_their_sqlstates() {
    if !have_psql() {
        return;
    }
    let lake = lake();
    let server = Served::start(&lake.catalog(), &["--max-scan", "2KB"], &[]);
    let verbose = ["-v", "VERBOSITY=verbose"];
    // The scan limit of the command line holds for every query over the wire.
    let scan = server.psql(
        &[
            &verbose[..],
            &["-c", "SELECT count(DISTINCT user_id) FROM views"],
        ]
        .concat(),
        &[],
    );
    assert!(!scan.status.success());
    let message = String::from_utf8_lossy(&scan.stderr);
    assert!(
        message.contains("54000") && message.contains("would read more than"),
        "{message}"
    );
    drop(server);
    let server = Served::start(&lake.catalog(), &[], &[]);
    // A client's statement_timeout stops its own long query, with Postgres's SQLSTATE.
    let slow = "SELECT count(*) FROM views a CROSS JOIN views b CROSS JOIN views c WHERE a.dt = DATE '2024-01-22' AND b.dt = DATE '2024-01-22'";
    let started = Instant::now();
    let timed = server.psql(
        &[
            &verbose[..],
            &["-c", "SET statement_timeout = '300ms'", "-c", slow],
        ]
        .concat(),
        &[],
    );
    assert!(!timed.status.success());
    let message = String::from_utf8_lossy(&timed.stderr);
    assert!(
        message.contains("57014") && message.contains("timeout"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // Another connection has no timeout of its own: `SET` is per connection.
    let shown = server.psql_ok(&["-A", "-t", "-c", "SHOW statement_timeout"]);
    assert_eq!(shown.trim(), "0");
}

#[test]
fn sigterm_cancels_a_running_query_after_the_grace_period() {
    if !have_psql() {
        return;
    }
    let lake = lake();
    let mut server = Served::start(&lake.catalog(), &["--grace", "1s"], &[]);
    let running = Command::new("psql")
        .args([
            "-X",
            "-h",
            "127.0.0.1",
            "-p",
            &server.addr.port().to_string(),
            "-d",
            "minerva",
        ])
        .args([
            "-c",
            "SELECT count(*) FROM views a CROSS JOIN views b CROSS JOIN views c",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let (status, took) = server.terminate();
    assert!(status.success(), "{status:?}");
    // The grace period was waited for, not skipped.
    assert!(took >= Duration::from_millis(900), "{took:?}");
    let client = running.wait_with_output().unwrap();
    assert!(
        !client.status.success(),
        "the long query cannot have finished"
    );
}
