//! A corpus of bad inputs, each run through the real binary: broken catalog files, broken data
//! files, bad SQL and bad command lines. For each: one clear line on stderr that names the
//! thing at fault, a non-zero exit, no panic, the shell still answering the next statement, and
//! the lake's files unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use minerva_demo::DemoSpec;

use crate::support::DemoLake;

/// How a case breaks the lake before it runs, if it does.
type Setup = fn(&Path);

struct Case {
    name: &'static str,
    setup: Setup,
    /// Extra command-line arguments (before the statements).
    args: &'static [&'static str],
    /// The bad statement, sent on stdin before a good one (empty: none).
    sql: &'static str,
    /// What stderr must say (each fragment).
    says: &'static [&'static str],
}

fn nothing(_: &Path) {}

fn write(root: &Path, relative: &str, text: &[u8]) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn first_file(dir: &Path, ending: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = walk(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(ending))
        .collect();
    found.sort();
    found.remove(0)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Every file under `root` and a hash of its bytes; not the catalog's lock file, which the
/// first catalog statement creates (empty) and which holds nothing.
fn checksums(root: &Path) -> BTreeMap<PathBuf, u64> {
    use std::hash::{Hash, Hasher};
    walk(root)
        .into_iter()
        .filter(|path| !path.ends_with(".minerva-catalog.lock"))
        .map(|path| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            std::fs::read(&path).unwrap().hash(&mut hasher);
            (path, hasher.finish())
        })
        .collect()
}

const TABLE_HEAD: &str =
    "location = \"../views\"\ncolumns = [{ name = \"n\", type = \"bigint\" }]\n";

/// A table in a bucket: its store is set up from `storage.toml` (no request is sent when that
/// fails).
const REMOTE: &[u8] =
    b"location = \"s3://some-bucket/t\"\ncolumns = [{ name = \"n\", type = \"bigint\" }]\n";

const CASES: &[Case] = &[
    // --- catalog files
    Case {
        name: "a table file that is not TOML",
        setup: |root| write(root, "catalog/default/broken.toml", b"location = \n"),
        args: &[],
        sql: "SELECT * FROM broken",
        says: &["default/broken.toml:1:"],
    },
    Case {
        name: "an unknown field in a table file",
        setup: |root| {
            write(
                root,
                "catalog/default/broken.toml",
                format!("{TABLE_HEAD}colour = \"red\"\n").as_bytes(),
            )
        },
        args: &[],
        sql: "SELECT * FROM broken",
        says: &["default/broken.toml", "colour"],
    },
    Case {
        name: "an unknown column type",
        setup: |root| {
            write(
                root,
                "catalog/default/broken.toml",
                b"location = \"../views\"\ncolumns = [{ name = \"n\", type = \"bigintt\" }]\n",
            )
        },
        args: &[],
        sql: "SELECT * FROM broken",
        says: &["default/broken.toml", "bigintt"],
    },
    Case {
        name: "a location that does not exist",
        setup: |root| {
            write(
                root,
                "catalog/default/broken.toml",
                b"location = \"../nowhere\"\ncolumns = [{ name = \"n\", type = \"bigint\" }]\n",
            )
        },
        args: &[],
        sql: "SELECT * FROM broken",
        says: &["default.broken", "../nowhere", "does not exist"],
    },
    Case {
        name: "an unknown format",
        setup: |root| {
            write(
                root,
                "catalog/default/broken.toml",
                format!("{TABLE_HEAD}format = \"orc\"\n").as_bytes(),
            )
        },
        args: &[],
        sql: "SELECT * FROM broken",
        says: &["default/broken.toml", "orc"],
    },
    Case {
        name: "a column declared twice",
        setup: |root| {
            write(
                root,
                "catalog/default/broken.toml",
                b"location = \"../views\"\ncolumns = [{ name = \"n\", type = \"bigint\" }, { name = \"n\", type = \"string\" }]\n",
            )
        },
        args: &[],
        sql: "SELECT * FROM broken",
        says: &["default/broken.toml", "'n'"],
    },
    Case {
        name: "a projection range that is not a date",
        setup: |root| {
            write(
                root,
                "catalog/default/broken.toml",
                b"location = \"../views\"\ncolumns = [{ name = \"n\", type = \"bigint\" }]\npartition_columns = [{ name = \"dt\", type = \"string\" }]\n[properties]\n\"projection.enabled\" = \"true\"\n\"projection.dt.type\" = \"date\"\n\"projection.dt.format\" = \"yyyy-MM-dd\"\n\"projection.dt.range\" = \"2024-13-01,NOW\"\n",
            )
        },
        args: &[],
        sql: "SELECT * FROM broken",
        says: &["default/broken.toml", "projection.dt.range", "2024-13-01"],
    },
    Case {
        name: "a projection of an unknown type",
        setup: |root| {
            write(
                root,
                "catalog/default/broken.toml",
                b"location = \"../views\"\ncolumns = [{ name = \"n\", type = \"bigint\" }]\npartition_columns = [{ name = \"dt\", type = \"string\" }]\n[properties]\n\"projection.enabled\" = \"true\"\n\"projection.dt.type\" = \"lunar\"\n",
            )
        },
        args: &[],
        sql: "SELECT * FROM broken",
        says: &["default/broken.toml", "lunar"],
    },
    Case {
        name: "a storage.toml duration that is not one",
        setup: |root| {
            write(root, "catalog/storage.toml", b"[s3]\ntimeout = \"soon\"\n");
            write(root, "catalog/default/remote.toml", REMOTE);
        },
        args: &[],
        sql: "SELECT count(*) FROM remote",
        says: &["storage.toml:2:", "timeout", "soon"],
    },
    Case {
        name: "an unknown storage.toml field",
        setup: |root| {
            write(root, "catalog/storage.toml", b"listing_tll = \"5m\"\n");
            write(root, "catalog/default/remote.toml", REMOTE);
        },
        args: &[],
        sql: "SELECT count(*) FROM remote",
        says: &["storage.toml:1:", "listing_tll"],
    },
    Case {
        name: "a table file in a directory too deep",
        setup: |root| write(root, "catalog/default/deeper/t.toml", TABLE_HEAD.as_bytes()),
        args: &[],
        sql: "SELECT * FROM deeper.t",
        says: &["deeper"],
    },
    // --- data files
    Case {
        name: "a zero-byte Parquet file",
        setup: |root| write(root, "views/dt=2024-01-02/zz.parquet", b""),
        args: &[],
        sql: "SELECT dt, count(*) FROM views GROUP BY dt",
        says: &[
            "dt=2024-01-02/zz.parquet",
            "is empty (0 bytes)",
            "ignore_corrupt_files",
        ],
    },
    Case {
        name: "a file that is not Parquet",
        setup: |root| {
            write(
                root,
                "views/dt=2024-01-02/zz.parquet",
                b"PAR2 not a parquet file at all",
            )
        },
        args: &[],
        sql: "SELECT sum(price) FROM views",
        says: &["table 'default.views'", "dt=2024-01-02/zz.parquet"],
    },
    Case {
        name: "a truncated Parquet file (dense path)",
        setup: |root| {
            let file = first_file(&root.join("views/dt=2024-01-01"), ".parquet");
            let bytes = std::fs::read(&file).unwrap();
            std::fs::write(&file, &bytes[..bytes.len() / 3]).unwrap();
        },
        args: &[],
        sql: "SELECT count(DISTINCT user_id) FROM views",
        says: &["table 'default.views'", "dt=2024-01-01/"],
    },
    Case {
        name: "a truncated Parquet file (DataFusion's path)",
        setup: |root| {
            let file = first_file(&root.join("views/dt=2024-01-01"), ".parquet");
            let bytes = std::fs::read(&file).unwrap();
            std::fs::write(&file, &bytes[..bytes.len() / 3]).unwrap();
        },
        args: &[],
        sql: "SELECT avg(price) FROM views",
        says: &["table 'default.views'", "dt=2024-01-01/"],
    },
    Case {
        name: "a partition directory of the wrong type",
        setup: |root| std::fs::create_dir_all(root.join("views/dt=2024-13-45")).unwrap(),
        args: &[],
        sql: "SELECT count(*) FROM views",
        says: &["partition directory", "dt=2024-13-45", "not a valid date"],
    },
    Case {
        name: "a malformed JSON line",
        setup: |root| {
            write(
                root,
                "raw/views/2024/01/03/05/zz-broken.json",
                b"{\"event_id\": \"a\", \"user_id\": 1}\n{\"event_id\": \n",
            )
        },
        args: &[],
        sql: "SELECT count(*) FROM views_raw",
        says: &["table 'default.views_raw'", "zz-broken.json"],
    },
    Case {
        name: "a gzip object cut short",
        setup: |root| {
            let file = first_file(&root.join("raw/views"), ".json.gz");
            let bytes = std::fs::read(&file).unwrap();
            std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
        },
        args: &[],
        sql: "SELECT count(*) FROM views_raw",
        says: &["table 'default.views_raw'", ".json.gz"],
    },
    Case {
        name: "a JSON value of the wrong type",
        setup: |root| {
            write(
                root,
                "raw/views/2024/01/03/05/zz-typed.json",
                b"{\"event_id\": \"a\", \"user_id\": \"not a number\"}\n",
            )
        },
        args: &[],
        sql: "SELECT sum(user_id) FROM views_raw",
        says: &["table 'default.views_raw'", "zz-typed.json"],
    },
    // --- SQL
    Case {
        name: "a syntax error",
        setup: nothing,
        args: &[],
        sql: "SELEC 1",
        says: &["syntax error", "SELEC"],
    },
    Case {
        name: "an unknown table",
        setup: nothing,
        args: &[],
        sql: "SELECT * FROM nope",
        says: &["nope", "not found"],
    },
    Case {
        name: "an unknown database",
        setup: nothing,
        args: &[],
        sql: "SELECT * FROM elsewhere.views",
        says: &["elsewhere.views", "not found"],
    },
    Case {
        name: "an unknown column",
        setup: nothing,
        args: &[],
        sql: "SELECT nope FROM views",
        says: &["nope"],
    },
    Case {
        name: "a Trino function Minerva lacks",
        setup: nothing,
        args: &[],
        sql: "SELECT ngrams(ARRAY['a'], 2)",
        says: &["function `ngrams` is not supported", "array functions"],
    },
    Case {
        name: "a function that does not exist anywhere",
        setup: nothing,
        args: &[],
        sql: "SELECT no_such_function(1)",
        says: &["no_such_function"],
    },
    Case {
        name: "a write Minerva does not do",
        setup: nothing,
        args: &[],
        sql: "DELETE FROM views WHERE dt = DATE '2024-01-01'",
        says: &["DELETE is not supported"],
    },
    Case {
        name: "division by zero",
        setup: nothing,
        args: &[],
        sql: "SELECT 1 / 0",
        says: &["divide by zero"],
    },
    Case {
        name: "a cast that cannot be",
        setup: nothing,
        args: &[],
        sql: "SELECT CAST('seven' AS INTEGER)",
        says: &["seven"],
    },
    Case {
        name: "a date that does not exist",
        setup: nothing,
        args: &[],
        sql: "SELECT DATE '2024-02-30'",
        says: &["2024-02-30"],
    },
    Case {
        name: "a bad regular expression",
        setup: nothing,
        args: &[],
        sql: "SELECT regexp_like('a', '(')",
        says: &["regex"],
    },
    Case {
        name: "a bad date_parse pattern",
        setup: nothing,
        args: &[],
        sql: "SELECT date_parse('2024', '%Q')",
        says: &["%Q"],
    },
    Case {
        name: "a recursion without an end",
        setup: nothing,
        args: &[],
        sql: "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
        says: &["recursion depth limit exceeded (10)", "max_recursion_depth"],
    },
    Case {
        name: "a table that requires a partition filter",
        setup: |root| {
            let file = root.join("catalog/default/views.toml");
            let text = std::fs::read_to_string(&file).unwrap();
            std::fs::write(
                file,
                crate::support::with_property(&text, "require_partition_filter", "true"),
            )
            .unwrap();
        },
        args: &[],
        sql: "SELECT count(*) FROM views",
        says: &[
            "default.views",
            "requires a filter on its partition columns (dt)",
        ],
    },
    Case {
        name: "a query past the scan limit",
        setup: nothing,
        args: &["--max-scan", "1KiB"],
        sql: "SELECT sum(price) FROM views",
        says: &["1.0 KiB"],
    },
    Case {
        name: "a query past the timeout",
        setup: nothing,
        args: &["--timeout", "1s"],
        sql: "SELECT count(*) FROM range(1000000) a CROSS JOIN range(1000000) b WHERE a.value + b.value < 0",
        says: &["query stopped after 1s"],
    },
    Case {
        name: "a query past the memory limit",
        setup: nothing,
        args: &["--memory-limit", "64KiB"],
        sql: "SELECT session_id, count(DISTINCT user_id) FROM views GROUP BY session_id",
        says: &["out of memory", "memory limit"],
    },
    Case {
        name: "CREATE EXTERNAL TABLE without a location",
        setup: nothing,
        args: &[],
        sql: "CREATE EXTERNAL TABLE t (n bigint) STORED AS PARQUET",
        says: &["LOCATION"],
    },
    Case {
        name: "a partition of a table without partition columns",
        setup: |root| write(root, "catalog/default/flat.toml", TABLE_HEAD.as_bytes()),
        args: &[],
        sql: "ALTER TABLE flat ADD PARTITION (dt = '2024-01-01')",
        says: &["default.flat", "no partition columns"],
    },
    Case {
        name: "dropping a partition that is not there",
        setup: nothing,
        args: &[],
        sql: "ALTER TABLE views DROP PARTITION (dt = '2023-01-01')",
        says: &["default.views"],
    },
    Case {
        name: "SHOW PARTITIONS of an unknown table",
        setup: nothing,
        args: &[],
        sql: "SHOW PARTITIONS nope",
        says: &["nope", "not found"],
    },
    Case {
        name: "a bad session setting",
        setup: nothing,
        args: &[],
        sql: "SET SESSION max_recursion_depth = 'deep'",
        says: &["deep"],
    },
];

/// Command lines that are wrong before any statement runs.
const COMMAND_LINES: &[(&str, &[&str], &[&str])] = &[
    (
        "a memory limit that is not a size",
        &["--memory-limit", "banana", "-c", "SELECT 1"],
        &["banana"],
    ),
    (
        "a timeout that is not a duration",
        &["--timeout", "soon", "-c", "SELECT 1"],
        &["soon"],
    ),
    (
        "an unknown output format",
        &["--format", "pdf", "-c", "SELECT 1"],
        &["pdf"],
    ),
    (
        "an unknown option",
        &["--colour", "-c", "SELECT 1"],
        &["--colour"],
    ),
    (
        "a script file that does not exist",
        &["-f", "no-such-script.sql"],
        &["no-such-script.sql"],
    ),
    (
        "a catalog that does not exist",
        &["--catalog", "no-such-catalog", "-c", "SELECT 1"],
        &["no-such-catalog"],
    ),
    (
        "a scan limit that is not a size",
        &["--max-scan", "lots", "-c", "SELECT 1"],
        &["lots"],
    ),
];

fn lake() -> DemoLake {
    DemoLake::new(DemoSpec {
        days: 2,
        events_per_day: 300,
        rows_per_file: 300,
        ..Default::default()
    })
}

fn minerva(catalog: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_minerva"));
    command
        .env_remove("MINERVA_CATALOG")
        .env_remove("MINERVA_TIMEOUT")
        .arg("--catalog")
        .arg(catalog)
        .args(["--format", "csv"]);
    command
}

#[test]
fn every_bad_input_is_named_on_one_line_and_the_shell_goes_on() {
    assert!(CASES.len() + COMMAND_LINES.len() >= 40);
    let mut wrong = Vec::new();
    for case in CASES {
        let lake = lake();
        (case.setup)(lake.dir.path());
        let before = checksums(lake.dir.path());
        // The bad statement, then a good one: the shell must still answer it.
        let script = format!("{};\nSELECT 42 AS still_here;\n", case.sql);
        let mut child = minerva(&lake.catalog())
            .args(case.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), script.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let problems: Vec<String> = [
            (output.status.code() != Some(1)).then(|| format!("exit {:?}", output.status.code())),
            stderr.contains("panicked").then(|| "panicked".to_string()),
            (stderr.trim().lines().count() != 1)
                .then(|| format!("{} lines on stderr", stderr.trim().lines().count())),
            (!stdout.contains("still_here\n42")).then(|| "the next statement did not run".into()),
            (checksums(lake.dir.path()) != before).then(|| "the lake's files changed".into()),
        ]
        .into_iter()
        .flatten()
        .chain(
            case.says
                .iter()
                .filter(|fragment| !stderr.to_lowercase().contains(&fragment.to_lowercase()))
                .map(|fragment| format!("does not say {fragment:?}")),
        )
        .collect();
        if !problems.is_empty() {
            wrong.push(format!(
                "{}: {} — stderr: {}",
                case.name,
                problems.join(", "),
                stderr.trim()
            ));
        }
    }
    let lake = lake();
    for (name, args, says) in COMMAND_LINES {
        let has_catalog = args.contains(&"--catalog");
        let mut command = Command::new(env!("CARGO_BIN_EXE_minerva"));
        command
            .env_remove("MINERVA_CATALOG")
            .env_remove("MINERVA_TIMEOUT");
        if !has_catalog {
            command.arg("--catalog").arg(lake.catalog());
        }
        let output = command
            .current_dir(lake.dir.path())
            .args(*args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut problems = Vec::new();
        if output.status.success() {
            problems.push("exit 0".to_string());
        }
        if stderr.contains("panicked") {
            problems.push("panicked".to_string());
        }
        problems.extend(
            says.iter()
                .filter(|fragment| !stderr.contains(*fragment))
                .map(|fragment| format!("does not say {fragment:?}")),
        );
        if !problems.is_empty() {
            wrong.push(format!(
                "{name}: {} — stderr: {}",
                problems.join(", "),
                stderr.trim()
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}
