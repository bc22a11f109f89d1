//! What the console keeps on disk: the history of statements run (per user, outside the
//! catalog), and saved queries as `.sql` files in a directory of the catalog, reviewed in git
//! like its tables. Every write is atomic (a temporary file renamed into place) or an append of
//! one line.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// The most history entries kept; the file is trimmed to them when it holds twice as many.
const HISTORY: usize = 1_000;

/// One statement the console ran.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// When it started, RFC 3339.
    pub at: String,
    pub sql: String,
    /// Why it failed to start, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The history file, one JSON entry per line, oldest first.
#[derive(Debug, Clone)]
pub struct History {
    path: PathBuf,
}

impl History {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Appends `entry`.
    pub(crate) fn add(&self, entry: &Entry) -> Result<(), StoreError> {
        let io = |source| StoreError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut line = serde_json::to_string(entry).expect("an entry serializes");
        line.push('\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        file.write_all(line.as_bytes()).map_err(io)?;
        drop(file);
        let entries = self.read()?;
        if entries.len() > 2 * HISTORY {
            let kept: String = entries[entries.len() - HISTORY..]
                .iter()
                .map(|e| serde_json::to_string(e).expect("an entry serializes") + "\n")
                .collect();
            write_atomically(&self.path, kept.as_bytes())?;
        }
        Ok(())
    }

    /// Every entry, oldest first; lines that do not read (a torn write) are skipped.
    pub(crate) fn read(&self) -> Result<Vec<Entry>, StoreError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(text
                .lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(StoreError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }
}

/// Saved queries: `NAME.sql` files in one directory.
#[derive(Debug, Clone)]
pub struct SavedQueries {
    dir: PathBuf,
}

/// A saved query.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Saved {
    pub(crate) name: String,
    pub(crate) sql: String,
}

impl SavedQueries {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file of query `name`, if `name` is one: letters, digits, `_`, `-` and `.`, not
    /// starting with a dot, at most 100 characters (never a path).
    fn file(&self, name: &str) -> Result<PathBuf, StoreError> {
        let valid = !name.is_empty()
            && name.len() <= 100
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !valid {
            return Err(StoreError::Name {
                name: name.to_string(),
            });
        }
        Ok(self.dir.join(format!("{name}.sql")))
    }

    /// Every saved query, by name.
    pub(crate) fn list(&self) -> Result<Vec<Saved>, StoreError> {
        let io = |source| StoreError::Io {
            path: self.dir.clone(),
            source,
        };
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(e)),
        };
        let mut saved = Vec::new();
        for entry in entries {
            let path = entry.map_err(io)?.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".sql"))
            else {
                continue;
            };
            if self.file(name).is_err() {
                continue;
            }
            let sql = std::fs::read_to_string(&path).map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
            saved.push(Saved {
                name: name.to_string(),
                sql,
            });
        }
        saved.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(saved)
    }

    /// Saves `sql` as `name` (replacing it); the file written.
    pub(crate) fn save(&self, name: &str, sql: &str) -> Result<PathBuf, StoreError> {
        let file = self.file(name)?;
        std::fs::create_dir_all(&self.dir).map_err(|source| StoreError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let mut text = sql.trim_end().to_string();
        text.push('\n');
        write_atomically(&file, text.as_bytes())?;
        Ok(file)
    }

    /// Deletes query `name`; whether there was one.
    pub(crate) fn delete(&self, name: &str) -> Result<bool, StoreError> {
        let file = self.file(name)?;
        match std::fs::remove_file(&file) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(StoreError::Io { path: file, source }),
        }
    }
}

/// Writes `bytes` to `path` whole or not at all: a temporary file beside it, renamed.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&temporary).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_queries_are_files_named_safely() {
        let dir = tempfile::tempdir().unwrap();
        let saved = SavedQueries::new(dir.path().join(".queries"));
        assert_eq!(saved.list().unwrap(), []);
        let file = saved.save("weekly-views", "SELECT 1  \n\n").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "SELECT 1\n");
        saved.save("weekly-views", "SELECT 2").unwrap();
        saved.save("a.b_c", "SELECT 3").unwrap();
        let names: Vec<String> = saved.list().unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["a.b_c", "weekly-views"]);
        assert_eq!(saved.list().unwrap()[1].sql, "SELECT 2\n");
        for bad in ["", "../catalog", "a/b", ".hidden", "x y", &"n".repeat(101)] {
            assert!(
                matches!(saved.save(bad, "SELECT 1"), Err(StoreError::Name { .. })),
                "{bad:?}"
            );
        }
        assert!(saved.delete("a.b_c").unwrap());
        assert!(!saved.delete("a.b_c").unwrap());
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path().join(".queries"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, ["weekly-views.sql"]);
    }

    #[test]
    fn history_appends_and_keeps_the_latest() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::new(dir.path().join("minerva/console-history.jsonl"));
        assert_eq!(history.read().unwrap(), []);
        for i in 0..(2 * HISTORY + 1) {
            history
                .add(&Entry {
                    at: format!("t{i}"),
                    sql: format!("SELECT {i}"),
                    error: (i % 2 == 1).then(|| "no".to_string()),
                })
                .unwrap();
        }
        let entries = history.read().unwrap();
        assert_eq!(entries.len(), HISTORY);
        assert_eq!(
            entries.last().unwrap().sql,
            format!("SELECT {}", 2 * HISTORY)
        );
        assert_eq!(entries[0].sql, format!("SELECT {}", HISTORY + 1));
    }
}
