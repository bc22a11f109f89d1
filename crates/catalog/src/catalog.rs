//! A catalog directory: `<root>/<database>/<table>.toml`, loaded and written.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::line_and_column;
use crate::error::{CatalogError, Result};
use crate::live::{LiveTable, View};
use crate::manifest::Manifest;
use crate::partition::Partition;
use crate::registry::{parse_registry, render_registry};
use crate::storage::{STORAGE_FILE, StorageSettings};
use crate::table::{DEFAULT_DATABASE, FileProblem, Table, TableDefinition, TableFile};

/// Every table of a catalog directory.
///
/// A table file with a mistake does not take the others down: it is kept as that table's error,
/// returned whenever the table is asked for, and listed by [`Catalog::problems`].
#[derive(Debug, Clone)]
pub struct Catalog {
    root: PathBuf,
    databases: Vec<String>,
    tables: BTreeMap<(String, String), Result<Arc<Table>, Arc<CatalogError>>>,
    lives: BTreeMap<(String, String), Result<Arc<LiveTable>, Arc<CatalogError>>>,
    views: BTreeMap<(String, String), Result<Arc<View>, Arc<CatalogError>>>,
    storage: Result<StorageSettings, Arc<CatalogError>>,
}

/// What a name of the catalog is.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A table of files.
    Table(Arc<Table>),
    /// A live table: a batch table and the part of a speed table not compacted into it.
    Live(Arc<LiveTable>),
    /// A view: a query.
    View(Arc<View>),
}

impl Catalog {
    /// Reads every table file under `root`. Fails only when `root` itself cannot be read.
    pub fn load(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let dir_error = |source| CatalogError::CatalogDir {
            path: root.clone(),
            source,
        };
        let mut tables = BTreeMap::new();
        let mut lives = BTreeMap::new();
        let mut views = BTreeMap::new();
        let mut databases = Vec::new();
        let mut table_files = Vec::new();
        for entry in std::fs::read_dir(&root).map_err(dir_error)? {
            let entry = entry.map_err(dir_error)?;
            let path = entry.path();
            let Some(database) = file_name(&path) else {
                continue;
            };
            if path.is_dir() {
                if database.starts_with('.') {
                    continue;
                }
                databases.push(database.clone());
                for table in std::fs::read_dir(&path).map_err(dir_error)? {
                    let table_path = table.map_err(dir_error)?.path();
                    let name = table_path
                        .file_stem()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned();
                    if name.starts_with('.') {
                        continue;
                    }
                    let key = (database.clone(), name.clone());
                    if table_path.extension().is_some_and(|e| e == "toml") {
                        table_files.push((key, table_path));
                    } else if table_path.extension().is_some_and(|e| e == "sql") {
                        let loaded = load_view(&database, &name, &table_path)
                            .map(Arc::new)
                            .map_err(Arc::new);
                        views.insert(key, loaded);
                    }
                }
            } else if path.extension().is_some_and(|e| e == "toml")
                && path.file_name().is_some_and(|n| n != STORAGE_FILE)
            {
                let name = path
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let problem = CatalogError::TableFile {
                    path: path.clone(),
                    line: 1,
                    column: 1,
                    message: format!(
                        "table files belong in a database directory: move it to '{}'",
                        root.join(DEFAULT_DATABASE)
                            .join(format!("{name}.toml"))
                            .display()
                    ),
                };
                tables.insert((DEFAULT_DATABASE.to_string(), name), Err(Arc::new(problem)));
            }
        }
        // Table files parse on every core: a catalog of a thousand tables opens at once.
        for (key, loaded) in load_entries(&root, table_files) {
            match loaded {
                Ok(Entry::Live(live)) => {
                    lives.insert(key, Ok(live));
                }
                Ok(Entry::Table(table)) => {
                    tables.insert(key, Ok(table));
                }
                Ok(Entry::View(_)) => unreachable!("a .toml file is never a view"),
                Err(e) => {
                    tables.insert(key, Err(Arc::new(e)));
                }
            }
        }
        databases.sort();
        // One name, one entry: a view beside a table file of its name is a mistake to fix.
        let clashes: Vec<(String, String)> = views
            .keys()
            .filter(|key| tables.contains_key(*key) || lives.contains_key(*key))
            .cloned()
            .collect();
        for key in clashes {
            views.remove(&key);
            lives.remove(&key);
            let path = root.join(&key.0).join(format!("{}.sql", key.1));
            tables.insert(
                key.clone(),
                Err(Arc::new(CatalogError::TableFile {
                    path,
                    line: 1,
                    column: 1,
                    message: format!(
                        "'{}.{}' is both a table file ({}.toml) and a view ({}.sql): remove one",
                        key.0, key.1, key.1, key.1
                    ),
                })),
            );
        }
        let storage = StorageSettings::load(&root).map_err(Arc::new);
        Ok(Self {
            root,
            databases,
            tables,
            lives,
            views,
            storage,
        })
    }

    /// The catalog directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The databases (directories of the catalog, empty ones included), sorted.
    pub fn databases(&self) -> Vec<&str> {
        let mut dbs: Vec<&str> = self
            .databases
            .iter()
            .map(String::as_str)
            .chain(self.tables.keys().map(|(db, _)| db.as_str()))
            .collect();
        dbs.sort_unstable();
        dbs.dedup();
        dbs
    }

    /// The names of the tables of `database`, live tables and views among them, sorted
    /// (broken ones included).
    pub fn table_names(&self, database: &str) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .tables
            .keys()
            .chain(self.lives.keys())
            .chain(self.views.keys())
            .filter(|(db, _)| db == database)
            .map(|(_, t)| t.as_str())
            .collect();
        names.sort_unstable();
        names
    }

    /// The names of the views of `database`, sorted.
    pub fn view_names(&self, database: &str) -> Vec<&str> {
        self.views
            .keys()
            .filter(|(db, _)| db == database)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Every live table that loaded.
    pub fn live_tables(&self) -> impl Iterator<Item = &Arc<LiveTable>> {
        self.lives.values().filter_map(|t| t.as_ref().ok())
    }

    /// What `database.name` is: `None` if the catalog has no such name, its file's error if it
    /// is broken.
    pub fn entry(&self, database: &str, name: &str) -> Option<Result<Entry, Arc<CatalogError>>> {
        let key = (database.to_string(), name.to_string());
        if let Some(table) = self.tables.get(&key) {
            return Some(table.clone().map(Entry::Table));
        }
        if let Some(live) = self.lives.get(&key) {
            return Some(live.clone().map(Entry::Live));
        }
        self.views
            .get(&key)
            .map(|view| view.clone().map(Entry::View))
    }

    /// What `database.name` is, or why there is none (see [`Catalog::lookup`]).
    pub fn find(&self, database: &str, name: &str) -> Result<Entry, Arc<CatalogError>> {
        self.entry(database, name)
            .unwrap_or_else(|| Err(self.not_found(database, name)))
    }

    fn not_found(&self, database: &str, name: &str) -> Arc<CatalogError> {
        let name = if database == DEFAULT_DATABASE {
            name.to_string()
        } else {
            format!("{database}.{name}")
        };
        let names = self
            .tables
            .keys()
            .chain(self.lives.keys())
            .chain(self.views.keys())
            .map(|(db, table)| {
                if db == DEFAULT_DATABASE {
                    table.clone()
                } else {
                    format!("{db}.{table}")
                }
            })
            .collect::<Vec<_>>();
        let suggestion = nearest(&name, names.iter().map(String::as_str)).map(str::to_string);
        Arc::new(CatalogError::TableNotFound {
            name,
            catalog: self.root.clone(),
            suggestion,
        })
    }

    /// Every table that loaded, sorted by database and name.
    pub fn tables(&self) -> impl Iterator<Item = &Arc<Table>> {
        self.tables.values().filter_map(|t| t.as_ref().ok())
    }

    /// The table files that did not load.
    pub fn problems(&self) -> impl Iterator<Item = &CatalogError> {
        self.storage
            .as_ref()
            .err()
            .map(Arc::as_ref)
            .into_iter()
            .chain(
                self.tables
                    .values()
                    .filter_map(|t| t.as_ref().err().map(Arc::as_ref)),
            )
    }

    /// How to reach the object stores (`storage.toml`), or why that file is not valid.
    pub fn storage(&self) -> Result<&StorageSettings, Arc<CatalogError>> {
        self.storage.as_ref().map_err(Arc::clone)
    }

    /// The table `database.name`: `None` if there is no such file, its error if it is broken.
    pub fn table(
        &self,
        database: &str,
        name: &str,
    ) -> Option<Result<Arc<Table>, Arc<CatalogError>>> {
        self.tables
            .get(&(database.to_string(), name.to_string()))
            .cloned()
    }

    /// The table `database.name`, or why there is none: not found (named as a user would
    /// write it: without the database when it is `default`), or its table file's error.
    pub fn lookup(&self, database: &str, name: &str) -> Result<Arc<Table>, Arc<CatalogError>> {
        match self.find(database, name)? {
            Entry::Table(table) => Ok(table),
            Entry::Live(_) | Entry::View(_) => Err(Arc::new(CatalogError::NotATableOfFiles {
                table: format!("{database}.{name}"),
            })),
        }
    }

    /// Looks up `table` or `database.table` (the database defaults to `default`).
    pub fn resolve(&self, name: &str) -> Result<Arc<Table>, Arc<CatalogError>> {
        let (database, table) = name.split_once('.').unwrap_or((DEFAULT_DATABASE, name));
        self.lookup(database, table)
    }

    /// Writes `table` as `<root>/<database>/<name>.toml`, atomically: a reader sees the old
    /// file or the new one, never a part of it. The registered partitions are not written
    /// (see [`Catalog::write_registry`]).
    ///
    /// The table is checked as if it were read back (names, types, projection properties)
    /// before anything is written.
    pub fn write_table(root: &Path, table: &TableDefinition) -> Result<PathBuf> {
        let path = table_path(root, &table.database, &table.name);
        let text = toml::to_string_pretty(&TableFile::from_definition(table)).map_err(|e| {
            CatalogError::WriteTableFile {
                path: path.clone(),
                source: std::io::Error::other(e),
            }
        })?;
        let invalid = |message: String| CatalogError::InvalidTable {
            table: table.qualified_name(),
            message,
        };
        for (what, ident) in [("database", &table.database), ("table", &table.name)] {
            if !valid_identifier(ident) {
                return Err(invalid(format!(
                    "{what} name '{ident}' is not a valid name (use lower-case letters, digits and '_', not starting with a digit)"
                )));
            }
        }
        TableFile::parse(&text)
            .and_then(|file| file.into_table(&table.database, &table.name, root))
            .map_err(|problem| invalid(problem.message))?;
        write_atomically(&path, &text)?;
        Ok(path)
    }

    /// Replaces the registered partitions of `table` with `partitions`, atomically.
    pub fn write_registry(root: &Path, table: &Table, partitions: &[Partition]) -> Result<PathBuf> {
        let path = registry_path(root, table.database(), table.name());
        let mut sorted = partitions.to_vec();
        sorted.sort();
        write_atomically(&path, &render_registry(table, &sorted))?;
        Ok(path)
    }

    /// Removes the table's file and its registered partitions; its data is never touched.
    /// Returns whether there was such a table.
    pub fn remove_table(root: &Path, database: &str, name: &str) -> Result<bool> {
        let mut found = false;
        for path in [
            manifest_path(root, database, name),
            registry_path(root, database, name),
            table_path(root, database, name),
        ] {
            match std::fs::remove_file(&path) {
                Ok(()) => found = true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(CatalogError::WriteTableFile { path, source }),
            }
        }
        Ok(found)
    }

    /// Writes `view` as `<root>/<database>/<name>.sql`, atomically.
    pub fn write_view(root: &Path, view: &View) -> Result<PathBuf> {
        for (what, ident) in [("database", view.database()), ("view", view.name())] {
            if !valid_identifier(ident) {
                return Err(CatalogError::InvalidTable {
                    table: view.qualified_name(),
                    message: format!(
                        "{what} name '{ident}' is not a valid name (use lower-case letters, digits and '_', not starting with a digit)"
                    ),
                });
            }
        }
        let path = view_path(root, view.database(), view.name());
        let mut text = view.sql().to_string();
        text.push('\n');
        write_atomically(&path, &text)?;
        Ok(path)
    }

    /// Writes the live table file `text` as `<root>/<database>/<name>.toml`, atomically, after
    /// checking it as if it were read back.
    pub fn write_live(root: &Path, database: &str, name: &str, text: &str) -> Result<PathBuf> {
        let path = table_path(root, database, name);
        if !valid_identifier(database) || !valid_identifier(name) || !LiveTable::is_live_file(text)
        {
            return Err(CatalogError::InvalidTable {
                table: format!("{database}.{name}"),
                message: "not a live table file with valid names".to_string(),
            });
        }
        LiveTable::parse(text, database, name).map_err(|problem| CatalogError::InvalidTable {
            table: format!("{database}.{name}"),
            message: problem.message,
        })?;
        write_atomically(&path, text)?;
        Ok(path)
    }

    /// Removes the view's file. Returns whether there was one.
    pub fn remove_view(root: &Path, database: &str, name: &str) -> Result<bool> {
        let path = view_path(root, database, name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(CatalogError::WriteTableFile { path, source }),
        }
    }

    /// Creates the directory of a database. Returns whether it is new.
    pub fn create_database(root: &Path, database: &str) -> Result<bool> {
        let path = root.join(database);
        if !valid_identifier(database) {
            return Err(CatalogError::TableFile {
                path,
                line: 1,
                column: 1,
                message: format!(
                    "database name '{database}' is not a valid name (use lower-case letters, digits and '_', not starting with a digit)"
                ),
            });
        }
        if path.is_dir() {
            return Ok(false);
        }
        std::fs::create_dir_all(&path)
            .map_err(|source| CatalogError::WriteTableFile { path, source })?;
        Ok(true)
    }
}

fn view_path(root: &Path, database: &str, name: &str) -> PathBuf {
    root.join(database).join(format!("{name}.sql"))
}

fn table_path(root: &Path, database: &str, name: &str) -> PathBuf {
    root.join(database).join(format!("{name}.toml"))
}

/// The file whose advisory lock serialises catalog edits. Hidden, so never read as a database.
pub const LOCK_FILE: &str = ".minerva-catalog.lock";

/// An exclusive hold on a catalog directory's edits, across processes: every statement that
/// reads a catalog file, changes it and writes it back holds one from before the read to after
/// the write, so two edits never both start from the same old file (and one lose the other's
/// change). Released when dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub struct CatalogLock {
    _file: std::fs::File,
}

impl Catalog {
    /// Waits for, then takes, the edit lock of the catalog at `root` (created if missing).
    pub fn lock(root: &Path) -> Result<CatalogLock> {
        let path = root.join(LOCK_FILE);
        let error = |source| CatalogError::Lock {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(root).map_err(error)?;
        let file = lock_file(&path).map_err(error)?;
        file.lock().map_err(error)?;
        Ok(CatalogLock { _file: file })
    }
}

/// A hold on writing one table's data, across processes: a statement that writes data files
/// and commits them holds it from before its first file to after its commit and clean-up, so
/// two writers never interleave and clean-up never deletes a file a live writer is writing.
/// Released when dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub struct WriteLock {
    _file: std::fs::File,
}

impl Catalog {
    /// Takes the write lock of table `database.name`, or fails at once with
    /// [`CatalogError::TableBusy`] when another statement holds it.
    pub fn lock_writes(root: &Path, database: &str, name: &str) -> Result<WriteLock> {
        let path = root.join(database).join(format!(".{name}.writing"));
        let error = |source| CatalogError::Lock {
            path: path.clone(),
            source,
        };
        let file = lock_file(&path).map_err(error)?;
        match file.try_lock() {
            Ok(()) => Ok(WriteLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(CatalogError::TableBusy {
                table: format!("{database}.{name}"),
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(error(source)),
        }
    }

    /// The committed state of table `database.name` now (empty when nothing was committed).
    /// Read once per query, so every scan of the query sees the same commit.
    pub fn read_manifest(root: &Path, database: &str, name: &str) -> Result<Manifest> {
        let path = manifest_path(root, database, name);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                Manifest::parse(&text).map_err(|(line, message)| CatalogError::ManifestFile {
                    path: path.clone(),
                    line,
                    message,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(source) => Err(CatalogError::ReadTableFile { path, source }),
        }
    }

    /// Commits `manifest` as the next version of table `database.name`'s state: the one atomic
    /// step that makes a write's files visible. Fails with [`CatalogError::CommitConflict`],
    /// writing nothing, when the table's state is no longer the version `manifest` was read at.
    pub fn commit_manifest(
        root: &Path,
        database: &str,
        name: &str,
        manifest: &Manifest,
    ) -> Result<u64> {
        let _lock = Self::lock(root)?;
        let current = Self::read_manifest(root, database, name)?.version();
        if current != manifest.version() {
            return Err(CatalogError::CommitConflict {
                table: format!("{database}.{name}"),
                expected: manifest.version(),
                found: current,
            });
        }
        let version = current + 1;
        write_atomically(
            &manifest_path(root, database, name),
            &manifest.render(version),
        )?;
        Ok(version)
    }
}

/// Opens (creating) a file whose advisory lock is taken; its content is never used.
fn lock_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
}

fn manifest_path(root: &Path, database: &str, name: &str) -> PathBuf {
    root.join(database).join(format!("{name}.manifest"))
}

fn registry_path(root: &Path, database: &str, name: &str) -> PathBuf {
    root.join(database).join(format!("{name}.partitions"))
}

/// Writes `text` to `path` through a hidden temporary file in the same directory, synced and
/// renamed into place: a reader sees the old file or the new one, never a part of either.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let write_error = |source| CatalogError::WriteTableFile {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().expect("catalog files live in a directory");
    std::fs::create_dir_all(dir).map_err(write_error)?;
    let mut file = tempfile::Builder::new()
        .prefix(".")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(write_error)?;
    file.write_all(text.as_bytes()).map_err(write_error)?;
    file.as_file().sync_all().map_err(write_error)?;
    file.persist(path).map_err(|e| write_error(e.error))?;
    // The rename is durable only once the directory itself is synced.
    if let Ok(dir) = std::fs::File::open(dir) {
        dir.sync_all().map_err(write_error)?;
    }
    Ok(())
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name().map(|n| n.to_string_lossy().into_owned())
}

fn valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn load_view(database: &str, name: &str, path: &Path) -> Result<View> {
    let text = std::fs::read_to_string(path).map_err(|source| CatalogError::ReadTableFile {
        path: path.to_path_buf(),
        source,
    })?;
    let problem = |message: String| CatalogError::TableFile {
        path: path.to_path_buf(),
        line: 1,
        column: 1,
        message,
    };
    if !valid_identifier(database) || !valid_identifier(name) {
        return Err(problem(format!(
            "view file name '{name}' is not a valid name (use lower-case letters, digits and '_', not starting with a digit)"
        )));
    }
    let view = View::new(database, name, &text);
    if view.sql().is_empty() {
        return Err(problem(
            "the view's file is empty: it holds the view's query".to_string(),
        ));
    }
    Ok(view)
}

/// A table file: a table of files, or a live table (it has a `[live]` section).
/// Loads each `((database, name), path)` table file, on as many threads as there are cores
/// (in order: the result's order is `files`').
fn load_entries(
    root: &Path,
    files: Vec<((String, String), PathBuf)>,
) -> Vec<((String, String), Result<Entry>)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().div_ceil(64).max(1));
    let load = |chunk: &[((String, String), PathBuf)]| -> Vec<_> {
        chunk
            .iter()
            .map(|((database, name), path)| {
                let loaded = load_entry(root, database, name, path);
                ((database.clone(), name.clone()), loaded)
            })
            .collect()
    };
    if threads <= 1 {
        return load(&files);
    }
    let size = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(size)
            .map(|chunk| scope.spawn(move || load(chunk)))
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

fn load_entry(root: &Path, database: &str, name: &str, path: &Path) -> Result<Entry> {
    let text = std::fs::read_to_string(path).map_err(|source| CatalogError::ReadTableFile {
        path: path.to_path_buf(),
        source,
    })?;
    // A file whose names are not valid is reported as a table file's would be.
    if !LiveTable::is_live_file(&text) || !valid_identifier(database) || !valid_identifier(name) {
        return load_table(root, database, name, path, &text).map(|t| Entry::Table(Arc::new(t)));
    }
    LiveTable::parse(&text, database, name)
        .map(|live| Entry::Live(Arc::new(live)))
        .map_err(|problem| placed(path, &text, problem))
}

/// A problem in the file at `path`, placed at its line and column in `text`.
fn placed(path: &Path, text: &str, problem: FileProblem) -> CatalogError {
    let (line, column) = problem
        .span
        .map_or((1, 1), |span| line_and_column(text, span.start));
    CatalogError::TableFile {
        path: path.to_path_buf(),
        line,
        column,
        message: problem.message,
    }
}

fn load_table(root: &Path, database: &str, name: &str, path: &Path, text: &str) -> Result<Table> {
    let at = |problem: FileProblem| placed(path, text, problem);
    for (what, ident) in [("database directory", database), ("table file", name)] {
        if !valid_identifier(ident) {
            return Err(at(FileProblem {
                span: None,
                message: format!(
                    "{what} name '{ident}' is not a valid name (use lower-case letters, digits and '_', not starting with a digit)"
                ),
            }));
        }
    }
    let table = TableFile::parse(text)
        .and_then(|file| file.into_table(database, name, root))
        .map_err(at)?;
    let registry = registry_path(root, database, name);
    match std::fs::read_to_string(&registry) {
        Ok(text) => {
            let partitions = parse_registry(&table, &text, root).map_err(|(line, message)| {
                CatalogError::RegistryFile {
                    path: registry.clone(),
                    line,
                    message,
                }
            })?;
            Ok(table.with_registry(partitions))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(table),
        Err(source) => Err(CatalogError::ReadTableFile {
            path: registry,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ColumnType;

    fn catalog_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let catalog = Catalog::load(dir.path()).unwrap();
        (dir, catalog)
    }

    fn error_of(catalog: &Catalog, name: &str) -> String {
        catalog.resolve(name).unwrap_err().to_string()
    }

    const VIEWS: &str = r#"
location = "../lake/views"
format = "parquet"
comment = "listing views"
columns = [
  { name = "event_time", type = "timestamp" },
  { name = "region", type = "string" },
]
partition_columns = [{ name = "dt", type = "date" }]

[properties]
"projection.enabled" = "false"
"#;

    #[test]
    fn loads_a_table_file() {
        let (dir, catalog) =
            catalog_with(&[("default/views.toml", VIEWS), ("README.md", "# notes")]);
        let table = catalog.resolve("views").unwrap();
        assert_eq!(table.qualified_name(), "default.views");
        assert_eq!(
            table.location().local_path(),
            Some(dir.path().parent().unwrap().join("lake/views/"))
        );
        let columns = table.columns().unwrap();
        assert_eq!(columns[0].name, "event_time");
        assert_eq!(columns[0].ty, ColumnType::Timestamp);
        assert_eq!(table.partition_columns()[0].ty, ColumnType::Date);
        assert_eq!(table.properties()["projection.enabled"], "false");
        assert_eq!(catalog.resolve("default.views").unwrap(), table);
        assert_eq!(catalog.databases(), vec!["default"]);
        assert_eq!(catalog.problems().count(), 0);
    }

    #[test]
    fn columns_are_optional_and_format_defaults_to_parquet() {
        let (_dir, catalog) = catalog_with(&[("web/hits.toml", "location = \"s3://b/hits\"\n")]);
        let table = catalog.resolve("web.hits").unwrap();
        assert_eq!(table.columns(), None);
        assert_eq!(table.format(), crate::Format::Parquet);
    }

    #[test]
    fn errors_name_the_file_line_and_field() {
        let (dir, catalog) = catalog_with(&[
            (
                "default/bad_type.toml",
                "location = \"x\"\ncolumns = [\n  { name = \"a\", type = \"text\" },\n]\n",
            ),
            ("default/no_location.toml", "format = \"parquet\"\n"),
            ("default/bad_toml.toml", "location = \"x\"\nformat = \n"),
            (
                "default/unknown_field.toml",
                "location = \"x\"\nlocaton = \"y\"\n",
            ),
            (
                "default/bad_format.toml",
                "location = \"x\"\nformat = \"orc\"\n",
            ),
            (
                "default/twice.toml",
                "location = \"x\"\ncolumns = [{ name = \"dt\", type = \"int\" }]\npartition_columns = [{ name = \"dt\", type = \"date\" }]\n",
            ),
            (
                "default/ts_partition.toml",
                "location = \"x\"\npartition_columns = [{ name = \"t\", type = \"timestamp\" }]\n",
            ),
            ("default/Upper.toml", "location = \"x\"\n"),
        ]);
        let file = |name: &str| {
            dir.path()
                .join("default")
                .join(format!("{name}.toml"))
                .display()
                .to_string()
        };
        let expect = [
            (
                "bad_type",
                "3:24",
                "field 'columns', column 'a': unknown column type 'text'",
            ),
            ("no_location", "1:1", "missing field `location`"),
            ("bad_toml", "2:10", "string values must be quoted"),
            ("unknown_field", "2:1", "unknown field `locaton`"),
            ("bad_format", "2:10", "field 'format': unknown format 'orc'"),
            ("twice", "3:31", "column 'dt' is declared twice"),
            (
                "ts_partition",
                "2:31",
                "partition column 't' has type timestamp",
            ),
            (
                "Upper",
                "1:1",
                "table file name 'Upper' is not a valid name",
            ),
        ];
        for (name, position, message) in expect {
            let error = error_of(&catalog, &format!("default.{name}"));
            assert!(
                error.starts_with(&format!("{}:{position}: ", file(name))),
                "{error}"
            );
            assert!(error.contains(message), "{error}");
        }
        assert_eq!(catalog.problems().count(), expect.len());
        assert_eq!(catalog.tables().count(), 0);
    }

    #[test]
    fn unknown_tables_and_missing_catalogs_are_named() {
        let (dir, catalog) = catalog_with(&[("default/views.toml", VIEWS)]);
        let error = error_of(&catalog, "nope");
        assert_eq!(
            error,
            format!(
                "table 'nope' not found in catalog '{}'",
                dir.path().display()
            )
        );
        let missing = Catalog::load(dir.path().join("absent"))
            .unwrap_err()
            .to_string();
        assert!(
            missing.starts_with("catalog directory '") && missing.contains("absent"),
            "{missing}"
        );
    }

    #[test]
    fn live_tables_and_views_load_beside_tables_and_a_clash_is_named() {
        let (dir, catalog) = catalog_with(&[
            ("default/views.toml", "location = \"../v\"\n"),
            (
                "default/views_live.toml",
                "[live]\nbatch = \"views\"\nspeed = \"raw\"\n",
            ),
            ("default/daily.sql", "SELECT 1 AS one\n"),
            ("default/broken.sql", "  \n"),
            ("default/views.sql", "SELECT 2\n"),
        ]);
        assert!(matches!(
            catalog.find("default", "views_live"),
            Ok(Entry::Live(_))
        ));
        match catalog.find("default", "daily") {
            Ok(Entry::View(view)) => assert_eq!(view.sql(), "SELECT 1 AS one"),
            other => panic!("{other:?}"),
        }
        assert!(
            catalog
                .find("default", "broken")
                .unwrap_err()
                .to_string()
                .contains("the view's file is empty")
        );
        let clash = catalog.find("default", "views").unwrap_err().to_string();
        assert!(
            clash.contains("both a table file (views.toml) and a view (views.sql)"),
            "{clash}"
        );
        assert_eq!(
            catalog.table_names("default"),
            ["broken", "daily", "views", "views_live"]
        );
        assert_eq!(catalog.view_names("default"), ["broken", "daily"]);
        assert!(matches!(
            catalog
                .lookup("default", "views_live")
                .unwrap_err()
                .as_ref(),
            CatalogError::NotATableOfFiles { .. }
        ));
        // Views are written and removed atomically, as files reviewed in git.
        let root = dir.path();
        let view = View::new("default", "weekly", "SELECT 3 -- three\n;");
        let path = Catalog::write_view(root, &view).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "SELECT 3 -- three\n"
        );
        assert!(Catalog::remove_view(root, "default", "weekly").unwrap());
        assert!(!Catalog::remove_view(root, "default", "weekly").unwrap());
        assert!(Catalog::write_view(root, &View::new("default", "Bad!", "SELECT 1")).is_err());
        assert!(Catalog::write_live(root, "default", "l", "[live]\nbatch = \"a\"\n").is_err());
    }

    #[test]
    fn write_then_load_round_trips() {
        let (dir, catalog) = catalog_with(&[("default/views.toml", VIEWS)]);
        let table = catalog.resolve("views").unwrap();
        let mut copy = table.definition().clone();
        copy.database = "archive".into();
        Catalog::write_table(dir.path(), &copy).unwrap();
        let reloaded = Catalog::load(dir.path()).unwrap();
        assert_eq!(
            reloaded.resolve("archive.views").unwrap().definition(),
            &copy
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("archive"))
            .unwrap()
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_and_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_and_column("가나\n다", 7), (2, 1));
    }
}

/// The candidate nearest to `name` if it is close enough to be a typo of it: at most a third
/// of its characters edited (at least one), compared without case. Ties go to the first.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = name.to_lowercase();
    let allowed = (wanted.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| {
            let distance = strsim::damerau_levenshtein(&wanted, &candidate.to_lowercase());
            (distance, candidate)
        })
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod nearest_tests {
    use super::nearest;

    #[test]
    fn suggests_only_close_names() {
        let names = ["views", "views_raw", "web.hits"];
        assert_eq!(nearest("veiws", names), Some("views"));
        assert_eq!(nearest("VIEWS_RAWW", names), Some("views_raw"));
        assert_eq!(nearest("web.hit", names), Some("web.hits"));
        assert_eq!(nearest("orders", names), None);
        assert_eq!(nearest("x", ["y"]), Some("y"));
        assert_eq!(nearest("anything", []), None);
    }
}
