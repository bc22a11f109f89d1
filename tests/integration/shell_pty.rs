//! The interactive shell in a real pseudo-terminal: completion, `\x`, `\timing`, `\o` and `\i`,
//! `\e`, `\d`, errors that point, the progress line, and Ctrl-C during a query.

use std::path::{Path, PathBuf};
use std::process::Command;

use rexpect::session::{Options, PtySession, spawn_with_options};
use tempfile::TempDir;

use crate::support::regex_escape;

const PROMPT: &str = "minerva> ";
/// A query that runs for minutes unless cancelled (DataFusion counts every generated row).
const ENDLESS: &str = "SELECT count(*) FROM range(0, 1000000000000);";

/// A small demo lake (three days) in a temporary directory.
fn demo_lake() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    let status = Command::new(env!("CARGO_BIN_EXE_minerva"))
        .args([
            "demo",
            "--days",
            "3",
            "--events-per-day",
            "500",
            "--no-shell",
            "--out",
        ])
        .arg(&out)
        .env("MINERVA_CONFIG", dir.path().join("no-config.toml"))
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    (dir, out.join("catalog"))
}

/// The shell on `catalog`, in a pseudo-terminal, with a home of its own (history) and no
/// colours or pager; `env` adds to its environment.
fn shell(dir: &Path, catalog: &Path, env: &[(&str, &str)]) -> PtySession {
    // A terminal of 120 columns and 50 rows (a new pseudo-terminal has none: 0×0), then the
    // shell itself.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("stty cols 120 rows 50 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_minerva"))
        .arg("--catalog")
        .arg(catalog)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("MINERVA_CACHE_DIR", dir.join("cache"))
        .env("MINERVA_CONFIG", dir.join("no-config.toml"))
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .env("MINERVA_PAGER", "off");
    for (key, value) in env {
        command.env(key, value);
    }
    let options = Options::new()
        .timeout_ms(Some(60_000))
        .strip_ansi_escape_codes(true);
    let mut session = spawn_with_options(command, options).unwrap();
    session.exp_string(PROMPT).unwrap();
    session
}

/// rexpect reads the terminal a byte at a time, each byte a `char`: text to expect is spelled
/// the same way.
fn bytes(text: &str) -> String {
    text.bytes().map(char::from).collect()
}

/// What rexpect read, as the UTF-8 text it was.
fn text(read: &str) -> String {
    let bytes: Vec<u8> = read.chars().map(|c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Sends `line` and returns what the shell printed before its next prompt, without the
/// echoed line and carriage returns.
fn run(session: &mut PtySession, line: &str) -> String {
    session.send_line(line).unwrap();
    let text = text(&session.exp_string(PROMPT).unwrap()).replace('\r', "");
    // The first line is the terminal's echo of what was typed.
    text.split_once('\n')
        .map_or(String::new(), |(_, rest)| rest.to_string())
}

/// Types `keys` without Enter (rexpect buffers what it sends until flushed).
fn keys(session: &mut PtySession, keys: &str) {
    session.send(keys).unwrap();
    session.flush().unwrap();
}

fn quit(mut session: PtySession) {
    session.send_line("\\q").unwrap();
    session.exp_eof().unwrap();
}

#[test]
fn tab_completes_tables_columns_and_functions() {
    let (dir, catalog) = demo_lake();
    let mut session = shell(dir.path(), &catalog, &[]);
    // A table after FROM: the one name starting `views_r`.
    keys(&mut session, "SELECT count(*) FROM views_r\t");
    session.exp_string("views_raw").unwrap();
    session.send_control('c').unwrap();
    session.exp_string(PROMPT).unwrap();
    // A column of the table the statement names.
    keys(&mut session, "SELECT count(*) FROM views WHERE regi\t");
    session.exp_string("region").unwrap();
    keys(&mut session, " = '서울 강남구' AND listing_i\t");
    session.exp_string("listing_id").unwrap();
    session.send_control('c').unwrap();
    session.exp_string(PROMPT).unwrap();
    // A function, with its bracket.
    keys(&mut session, "SELECT date_tr\t");
    session.exp_string("date_trunc(").unwrap();
    session.send_control('c').unwrap();
    session.exp_string(PROMPT).unwrap();
    // A meta command and its argument.
    keys(&mut session, "\\tim\t");
    session.exp_string("\\timing").unwrap();
    keys(&mut session, " of\t");
    session.exp_string("off").unwrap();
    session.send_control('c').unwrap();
    session.exp_string(PROMPT).unwrap();
    quit(session);
}

#[test]
fn expanded_display_and_timing() {
    let (dir, catalog) = demo_lake();
    let mut session = shell(dir.path(), &catalog, &[]);
    assert!(run(&mut session, "\\x").contains("Expanded display is on."));
    let text = run(
        &mut session,
        "SELECT 1 AS id, '서울 강남구' AS region UNION ALL SELECT 2, NULL ORDER BY id;",
    );
    assert!(text.contains("-[ RECORD 1 ]"), "{text}");
    assert!(text.contains("region | 서울 강남구"), "{text}");
    assert!(text.contains("-[ RECORD 2 ]"), "{text}");
    assert!(text.contains("region | NULL"), "{text}");
    assert!(run(&mut session, "\\set null ∅").contains("null = '∅'"));
    assert!(run(&mut session, "SELECT NULL AS nothing;").contains("nothing | ∅"));
    assert!(run(&mut session, "\\x off").contains("Expanded display is off."));
    assert!(run(&mut session, "\\timing").contains("Timing is on."));
    let text = run(&mut session, "SELECT 41 + 1 AS answer;");
    assert!(text.contains("│     42 │"), "{text}");
    let timed = text.lines().any(|l| {
        l.strip_prefix("Time: ")
            .and_then(|t| t.strip_suffix(" ms"))
            .is_some_and(|ms| ms.parse::<f64>().is_ok())
    });
    assert!(timed, "{text}");
    let settings = run(&mut session, "\\set");
    assert!(settings.contains("timing = on"), "{settings}");
    assert!(settings.contains("(\\set)"), "{settings}");
    assert!(settings.contains("pager = off"), "{settings}");
    assert!(settings.contains("(env MINERVA_PAGER)"), "{settings}");
    quit(session);
}

#[test]
fn output_to_a_file_then_include_a_file() {
    let (dir, catalog) = demo_lake();
    let mut session = shell(dir.path(), &catalog, &[]);
    let out = dir.path().join("out.csv");
    run(&mut session, &format!("\\o {}", out.display()));
    run(&mut session, "\\format csv");
    let status = run(
        &mut session,
        "SELECT dt, count(*) AS views FROM views GROUP BY dt ORDER BY dt;",
    );
    // Results go to the file; the status line stays on the terminal.
    assert!(status.contains("3 rows"), "{status}");
    assert!(!status.contains("2024-01-01"), "{status}");
    run(&mut session, "\\o");
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(
        written.starts_with("dt,views\n2024-01-01,500\n"),
        "{written}"
    );
    assert_eq!(written.lines().count(), 4, "{written}");

    let script = dir.path().join("q.sql");
    std::fs::write(
        &script,
        "-- a script\nSELECT 'from the file' AS src;\n\\format table\nSELECT count(*) AS n\nFROM views\n",
    )
    .unwrap();
    let text = run(&mut session, &format!("\\i {}", script.display()));
    assert!(text.contains("src\nfrom the file\n"), "{text}");
    // The last statement has no `;`: it runs at the end of the file.
    assert!(text.contains("│ 1500 │"), "{text}");
    let missing = run(&mut session, "\\i /nonexistent/q.sql");
    assert!(
        missing.contains("\\i: cannot read '/nonexistent/q.sql'"),
        "{missing}"
    );
    quit(session);
}

#[test]
fn describe_partitions_and_errors_that_point() {
    let (dir, catalog) = demo_lake();
    let mut session = shell(dir.path(), &catalog, &[]);
    let described = run(&mut session, "\\d views");
    let partitions = run(&mut session, "\\dp views");
    let unknown_table = run(&mut session, "SELECT * FROM veiws;");
    let unknown_column = run(&mut session, "SELECT regoin FROM views;");
    let unknown_function = run(&mut session, "SELECT lenght(region) FROM views;");
    let syntax = run(&mut session, "SELECT * FRM views;");
    let unknown_command = run(&mut session, "\\nope");
    quit(session);
    let text = format!(
        "--- \\d views\n{described}--- \\dp views\n{partitions}--- unknown table\n{unknown_table}\
         --- unknown column\n{unknown_column}--- unknown function\n{unknown_function}\
         --- syntax\n{syntax}--- unknown command\n{unknown_command}"
    );
    // Run times and the lake's directory vary.
    let lake = dir.path().to_string_lossy().into_owned();
    insta::with_settings!({
        snapshot_path => "snapshots",
        prepend_module_to_snapshot => false,
        filters => vec![
            (regex_escape(&lake).leak() as &str, "[LAKE]"),
            (r"[0-9]+\.[0-9]{3} s", "[TIME] s"),
            (r"Athena ≈ \$[0-9.]+", "Athena ≈ $[COST]"),
        ],
    }, {
        insta::assert_snapshot!("shell_describe_and_errors", text);
    });
}

#[test]
fn progress_shows_on_a_terminal_and_ctrl_c_cancels_the_query() {
    let (dir, catalog) = demo_lake();
    let mut session = shell(dir.path(), &catalog, &[]);
    session.send_line(ENDLESS).unwrap();
    // The progress line: rows, elapsed time.
    session
        .exp_regex(&bytes(r"0 rows · [0-9]+\.[0-9] s"))
        .unwrap();
    session.send_control('c').unwrap();
    session.exp_string("query cancelled").unwrap();
    session.exp_string(PROMPT).unwrap();
    // The shell is usable after it.
    let text = run(&mut session, "SELECT 40 + 2 AS answer;");
    assert!(text.contains("42"), "{text}");
    quit(session);
}

#[test]
fn progress_never_goes_to_a_pipe() {
    let (dir, catalog) = demo_lake();
    let output = Command::new(env!("CARGO_BIN_EXE_minerva"))
        .arg("--catalog")
        .arg(&catalog)
        .args(["--timeout", "2s", "-c", ENDLESS, "-c", "SELECT 1 AS one"])
        .env("MINERVA_CONFIG", dir.path().join("no-config.toml"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Only the timeout's one line; stdout holds only results.
    assert!(stderr.contains("query stopped after 2s"), "{stderr}");
    assert!(
        !stderr.contains(" rows ·") && !stderr.contains('\r'),
        "{stderr}"
    );
    assert_eq!(stdout, "one\n1\n");
}

#[test]
fn edit_runs_what_the_editor_saved() {
    let (dir, catalog) = demo_lake();
    // An "editor" that replaces the statement with another.
    let editor = dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\ngrep -q 'SELECT 1 AS first' \"$1\" || exit 3\nprintf \"SELECT 'edited' AS via_editor;\\n\" > \"$1\"\n",
    )
    .unwrap();
    let editor_command = format!("sh {}", editor.display());
    let mut session = shell(dir.path(), &catalog, &[("EDITOR", &editor_command)]);
    run(&mut session, "SELECT 1 AS first;");
    let text = run(&mut session, "\\e");
    assert!(text.contains("via_editor"), "{text}");
    assert!(text.contains("│ edited     │"), "{text}");
    // An editor that fails runs nothing.
    quit(session);
    let mut session = shell(dir.path(), &catalog, &[("EDITOR", "false")]);
    run(&mut session, "SELECT 2 AS second;");
    let text = run(&mut session, "\\e");
    assert!(text.contains("nothing run"), "{text}");
    quit(session);
}

#[test]
fn results_taller_than_the_terminal_go_to_the_pager() {
    let (dir, catalog) = demo_lake();
    let mut session = shell(
        dir.path(),
        &catalog,
        &[("MINERVA_PAGER", "sed 's/^/paged: /'")],
    );
    // 80 rows on a terminal of 50: paged.
    let tall = run(&mut session, "SELECT value FROM range(0, 80);");
    assert!(tall.contains("paged: │    79 │"), "{tall}");
    // 3 rows: printed as they are.
    let short = run(&mut session, "SELECT value FROM range(0, 3);");
    assert!(
        short.contains("│     2 │") && !short.contains("paged:"),
        "{short}"
    );
    quit(session);
}
