//! What Minerva has committed to a table, kept beside the table file as `<table>.manifest`.
//!
//! Object stores have no rename and no multi-object transaction, so a write's data files are
//! never made visible by where they are: a statement writes its files under fresh names
//! (`minerva-<write id>-<n>.<ext>`) and then commits by replacing this one file, atomically,
//! with a version one higher than the one it started from. Readers honour it:
//!
//! - a partition named here is read from exactly the files listed for it (nothing is listed);
//! - any other partition is listed as before, but an object named `minerva-…` is data only when
//!   a manifest names it: files of a write that has not committed (or never will) are not read.
//!
//! A compaction also records which source objects it consumed (`consumed` lines), so a rerun
//! over the same source skips them and a live table knows the boundary. Files an overwrite
//! replaced are kept as `retired` until a later write or `VACUUM` deletes them, so a query that
//! planned before the overwrite can still read them.
//!
//! Fields are separated by tabs:
//!
//! ```text
//! # Minerva's commits to default.views …
//! version  3
//! file  dt=2024-02-05  dt=2024-02-05/minerva-20261202T050000-1a2b3c4d-00000.zstd.parquet  1234567  1000000  2026-12-02T05:00:00Z
//! consumed  default.views_raw  2024/02/05/00/views-1-2024-02-05-00-00-00.gz
//! retired  dt=2024-02-04/minerva-20261201T050000-9f8e7d6c-00000.zstd.parquet  2026-12-02T05:00:00Z
//! ```

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use object_store::path::Path;

use crate::table::Table;

/// The prefix of every data file Minerva writes. An object so named is data only when a
/// manifest names it.
pub const WRITTEN_FILE_PREFIX: &str = "minerva-";

/// Whether an object's file name marks it as written by Minerva.
pub fn is_written_by_minerva(location: &Path) -> bool {
    location
        .filename()
        .is_some_and(|name| name.starts_with(WRITTEN_FILE_PREFIX))
}

const HEADER: &str = "# Minerva's commits to this table: the data files each partition is read from, the source objects compactions consumed, and replaced files awaiting deletion. Written by CREATE TABLE AS, INSERT, COMPACT and VACUUM; do not edit while a write runs.";

/// One committed data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    path: String,
    bytes: u64,
    /// Unknown for a file another writer left that a commit adopted.
    rows: Option<u64>,
    committed: DateTime<Utc>,
}

impl ManifestFile {
    /// A file of `table` at `location` (in the table's store), of `bytes` bytes and `rows` rows.
    pub fn new(
        table: &Table,
        location: &Path,
        bytes: u64,
        rows: Option<u64>,
        committed: DateTime<Utc>,
    ) -> Self {
        Self {
            path: relative(table, location),
            bytes,
            rows,
            committed,
        }
    }

    /// Where the file is in the table's store.
    pub fn location(&self, table: &Table) -> Path {
        resolve(table, &self.path)
    }

    /// Its size in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Its rows, when Minerva wrote it.
    pub fn rows(&self) -> Option<u64> {
        self.rows
    }

    /// When it was committed.
    pub fn committed(&self) -> DateTime<Utc> {
        self.committed
    }
}

/// A file an overwrite replaced: deleted once no query can still be reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Retired {
    path: String,
    at: DateTime<Utc>,
}

/// A table's committed state (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    version: u64,
    /// Partition name (`dt=2024-02-05`; empty for an unpartitioned table) → its files.
    partitions: BTreeMap<String, Vec<ManifestFile>>,
    /// Source table (`database.table`) → objects consumed, relative to its location.
    consumed: BTreeMap<String, BTreeSet<String>>,
    retired: Vec<Retired>,
}

impl Manifest {
    /// The version committed last (0: nothing committed yet).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// An empty state that commits after this one: what a new table starts from where a
    /// `CREATE TABLE AS` that never wrote its table file left a manifest.
    pub fn cleared(&self) -> Self {
        Self {
            version: self.version,
            ..Self::default()
        }
    }

    /// The files of the partition called `name`, when Minerva has committed it.
    pub fn files(&self, name: &str) -> Option<&[ManifestFile]> {
        self.partitions.get(name).map(Vec::as_slice)
    }

    /// The names of the committed partitions, sorted.
    pub fn partition_names(&self) -> impl Iterator<Item = &str> {
        self.partitions.keys().map(String::as_str)
    }

    /// Every committed file.
    pub fn all_files(&self) -> impl Iterator<Item = &ManifestFile> {
        self.partitions.values().flatten()
    }

    /// Adds files to a partition (an append).
    pub fn add(&mut self, partition: &str, files: impl IntoIterator<Item = ManifestFile>) {
        self.partitions
            .entry(partition.to_string())
            .or_default()
            .extend(files);
    }

    /// Makes `files` the partition's only files; those it had before are retired at `now`.
    pub fn replace(
        &mut self,
        partition: &str,
        files: Vec<ManifestFile>,
        now: DateTime<Utc>,
    ) -> Vec<ManifestFile> {
        let old = self
            .partitions
            .insert(partition.to_string(), files)
            .unwrap_or_default();
        for file in &old {
            self.retire_path(file.path.clone(), now);
        }
        old
    }

    /// Marks an object of `table` (one the manifest does not name, e.g. a file another writer
    /// left in a partition an overwrite replaced) for deletion.
    pub fn retire(&mut self, table: &Table, location: &Path, now: DateTime<Utc>) {
        self.retire_path(relative(table, location), now);
    }

    fn retire_path(&mut self, path: String, at: DateTime<Utc>) {
        if !self.retired.iter().any(|r| r.path == path) {
            self.retired.push(Retired { path, at });
        }
    }

    /// Records that the objects at `paths` (relative to `source`'s location) were consumed.
    pub fn consume(&mut self, source: &Table, paths: impl IntoIterator<Item = Path>) {
        let paths: Vec<String> = paths.into_iter().map(|p| relative(source, &p)).collect();
        if !paths.is_empty() {
            let entry = self.consumed.entry(source.qualified_name()).or_default();
            entry.extend(paths);
        }
    }

    /// Whether the object of `source` at `location` was consumed by a compaction.
    pub fn is_consumed(&self, source: &Table, location: &Path) -> bool {
        self.consumed
            .get(&source.qualified_name())
            .is_some_and(|paths| paths.contains(&relative(source, location)))
    }

    /// The objects of `source` compactions consumed, relative to its location, sorted.
    pub fn consumed(&self, source: &str) -> impl DoubleEndedIterator<Item = &str> {
        self.consumed
            .get(source)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// How many objects of `source` compactions consumed.
    pub fn consumed_count(&self, source: &str) -> usize {
        self.consumed.get(source).map_or(0, BTreeSet::len)
    }

    /// Whether `location` is an object this manifest still names (committed or retired).
    pub fn names(&self, table: &Table, location: &Path) -> bool {
        let path = relative(table, location);
        self.all_files().any(|f| f.path == path) || self.retired.iter().any(|r| r.path == path)
    }

    /// Forgets the retired files retired before `cutoff` and returns where they are: they may
    /// now be deleted.
    pub fn expire_retired(&mut self, table: &Table, cutoff: DateTime<Utc>) -> Vec<Path> {
        let (expired, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retired)
            .into_iter()
            .partition(|r| r.at <= cutoff);
        self.retired = kept;
        expired.iter().map(|r| resolve(table, &r.path)).collect()
    }

    /// How many replaced files await deletion.
    pub fn retired_count(&self) -> usize {
        self.retired.len()
    }

    /// The manifest as written to its file, at `version`.
    pub(crate) fn render(&self, version: u64) -> String {
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut text = format!("{HEADER}\nversion\t{version}\n");
        for (partition, files) in &self.partitions {
            for f in files {
                text.push_str(&format!(
                    "file\t{partition}\t{}\t{}\t{}\t{}\n",
                    f.path,
                    f.bytes,
                    f.rows.map_or("-".to_string(), |r| r.to_string()),
                    time(&f.committed)
                ));
            }
        }
        for (source, paths) in &self.consumed {
            for path in paths {
                text.push_str(&format!("consumed\t{source}\t{path}\n"));
            }
        }
        for r in &self.retired {
            text.push_str(&format!("retired\t{}\t{}\n", r.path, time(&r.at)));
        }
        text
    }

    /// Reads a manifest file. Errors carry the 1-based line.
    pub(crate) fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut manifest = Self::default();
        let time = |field: &str, line: usize| {
            DateTime::parse_from_rfc3339(field)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| (line, format!("'{field}' is not a time ({e})")))
        };
        let number = |field: &str, what: &str, line: usize| {
            field
                .parse::<u64>()
                .map_err(|_| (line, format!("'{field}' is not a {what}")))
        };
        for (i, line) in text.lines().enumerate() {
            let at = i + 1;
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            match fields.as_slice() {
                ["version", v] => manifest.version = number(v, "version number", at)?,
                ["file", partition, path, bytes, rows, committed] => {
                    check_path(path, at)?;
                    manifest
                        .partitions
                        .entry(partition.to_string())
                        .or_default()
                        .push(ManifestFile {
                            path: path.to_string(),
                            bytes: number(bytes, "size in bytes", at)?,
                            rows: match *rows {
                                "-" => None,
                                rows => Some(number(rows, "row count", at)?),
                            },
                            committed: time(committed, at)?,
                        });
                }
                ["consumed", source, path] => {
                    check_path(path, at)?;
                    manifest
                        .consumed
                        .entry(source.to_string())
                        .or_default()
                        .insert(path.to_string());
                }
                ["retired", path, when] => {
                    check_path(path, at)?;
                    manifest.retired.push(Retired {
                        path: path.to_string(),
                        at: time(when, at)?,
                    });
                }
                [kind, ..] => {
                    return Err((
                        at,
                        format!(
                            "'{kind}' with {} field(s) is not a manifest line (version, file, consumed, retired)",
                            fields.len() - 1
                        ),
                    ));
                }
                [] => {}
            }
        }
        Ok(manifest)
    }
}

fn check_path(path: &str, line: usize) -> Result<(), (usize, String)> {
    let inner = path.strip_prefix('/').unwrap_or(path);
    match Path::parse(inner) {
        Ok(_) if !inner.is_empty() => Ok(()),
        _ => Err((line, format!("'{path}' is not an object path"))),
    }
}

/// `location` as the manifest writes it: relative to the table's root when under it (so a
/// catalog and its lake can move together), else from the store's root, after a `/`.
fn relative(table: &Table, location: &Path) -> String {
    let root = table.location().prefix();
    match location.prefix_match(&root) {
        Some(parts) => parts
            .map(|p| p.as_ref().to_string())
            .collect::<Vec<_>>()
            .join("/"),
        None => format!("/{location}"),
    }
}

fn resolve(table: &Table, path: &str) -> Path {
    match path.strip_prefix('/') {
        Some(absolute) => Path::from(absolute),
        None => {
            let root = table.location().prefix();
            Path::from(format!("{root}/{path}").trim_start_matches('/'))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path as FsPath;

    use super::*;
    use crate::column::Column;
    use crate::location::Location;
    use crate::table::{Format, TableDefinition};
    use crate::types::ColumnType;

    fn table(location: &str) -> Table {
        let location = Location::parse(location, FsPath::new("/")).unwrap();
        let mut definition = TableDefinition::new("default", "t", location, Format::Parquet);
        definition.partition_columns = vec![Column::new("dt", ColumnType::Date)];
        Table::new(definition, FsPath::new("/")).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn round_trips_files_consumption_and_retired_files() {
        let t = table("s3://bucket/lake/t");
        let raw = table("s3://bucket/raw");
        let mut m = Manifest::default();
        let file = |name: &str| {
            ManifestFile::new(
                &t,
                &Path::from(format!("lake/t/dt=2024-01-01/{name}")),
                10,
                Some(2),
                at("2024-01-02T00:00:00Z"),
            )
        };
        m.add("dt=2024-01-01", [file("minerva-a-00000.parquet")]);
        m.consume(&raw, [Path::from("raw/2024/01/01/00/x.gz")]);
        let old = m.replace(
            "dt=2024-01-01",
            vec![file("minerva-b-00000.parquet")],
            at("2024-01-03T00:00:00Z"),
        );
        assert_eq!(old.len(), 1);
        m.retire(
            &t,
            &Path::from("elsewhere/p.parquet"),
            at("2024-01-03T00:00:00Z"),
        );
        let text = m.render(4);
        let back = Manifest::parse(&text).unwrap();
        assert_eq!(back.version(), 4);
        assert_eq!(
            Manifest {
                version: 0,
                ..back.clone()
            },
            m
        );
        assert!(
            text.contains("\tdt=2024-01-01/minerva-b-00000.parquet\t10\t2\t"),
            "{text}"
        );
        assert!(text.contains("retired\t/elsewhere/p.parquet\t"), "{text}");
        assert!(back.is_consumed(&raw, &Path::from("raw/2024/01/01/00/x.gz")));
        assert!(!back.is_consumed(&raw, &Path::from("raw/2024/01/01/01/x.gz")));
        assert_eq!(
            back.files("dt=2024-01-01").unwrap()[0]
                .location(&t)
                .as_ref(),
            "lake/t/dt=2024-01-01/minerva-b-00000.parquet"
        );
        assert!(back.names(
            &t,
            &Path::from("lake/t/dt=2024-01-01/minerva-a-00000.parquet")
        ));
        let mut expiring = back.clone();
        assert!(
            expiring
                .expire_retired(&t, at("2024-01-02T00:00:00Z"))
                .is_empty()
        );
        let expired = expiring.expire_retired(&t, at("2024-01-03T00:00:00Z"));
        assert_eq!(expired.len(), 2);
        assert_eq!(expiring.retired_count(), 0);
    }

    #[test]
    fn bad_lines_name_the_line() {
        for (text, line, message) in [
            ("version\tx\n", 1, "'x' is not a version number"),
            ("\nfile\tdt=1\tp\t1\t2\n", 2, "'file' with 4 field(s)"),
            (
                "file\t\tp\tten\t1\t2024-01-01T00:00:00Z\n",
                1,
                "'ten' is not a size in bytes",
            ),
            ("retired\tp\tyesterday\n", 1, "'yesterday' is not a time"),
            ("consumed\tdefault.raw\t\n", 1, "'' is not an object path"),
            (
                "commit\t1\n",
                1,
                "'commit' with 1 field(s) is not a manifest line",
            ),
        ] {
            let (at, error) = Manifest::parse(text).unwrap_err();
            assert_eq!(at, line, "{text}");
            assert!(error.contains(message), "{error}");
        }
    }

    #[test]
    fn minerva_names_its_files() {
        assert!(is_written_by_minerva(&Path::from(
            "t/dt=1/minerva-x-00000.parquet"
        )));
        assert!(is_written_by_minerva(&Path::from(
            "t/minerva-x-00000.parquet#3"
        )));
        assert!(!is_written_by_minerva(&Path::from(
            "t/minerva-dir/part-0.parquet"
        )));
        assert!(!is_written_by_minerva(&Path::from("t/part-00000.parquet")));
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_names_a_line(text in "(version|file|consumed|retired|#|\\t|[a-z0-9=/._:-]{0,12}|\\n){0,40}") {
            match Manifest::parse(&text) {
                Ok(m) => {
                    let back = Manifest::parse(&m.render(m.version())).unwrap();
                    proptest::prop_assert_eq!(back, m);
                }
                Err((line, _)) => proptest::prop_assert!(line >= 1 && line <= text.lines().count()),
            }
        }

        #[test]
        fn manifests_round_trip(
            files in proptest::collection::vec(("[a-z]{1,3}=[0-9]{1,2}", "[a-z0-9]{1,8}", 0u64..1 << 40, proptest::option::of(0u64..1 << 30)), 0..12),
            consumed in proptest::collection::vec("[a-z0-9/]{0,6}[a-z0-9]", 0..6),
            version in 0u64..1000,
        ) {
            let t = table("s3://bucket/t");
            let mut m = Manifest::default();
            for (partition, name, bytes, rows) in &files {
                let location = Path::from(format!("t/{partition}/{name}"));
                m.add(partition, [ManifestFile::new(&t, &location, *bytes, *rows, at("2024-01-02T03:04:05Z"))]);
            }
            m.consume(&t, consumed.iter().map(|c| Path::from(format!("t/{c}"))));
            let back = Manifest::parse(&m.render(version)).unwrap();
            proptest::prop_assert_eq!(back.version(), version);
            proptest::prop_assert_eq!(Manifest { version: 0, ..back }, m);
        }
    }
}
