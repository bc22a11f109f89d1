//! The committed state of every table one query reads, read once per query: each table's
//! manifest (its committed files, see `minerva_catalog::Manifest`), so two scans of one table in
//! a query (a self-join) see the same commit, and a compaction's view of its source (the objects
//! earlier compactions consumed are left out, the ones read are recorded for its commit).

use std::collections::HashMap;
use std::path::Path as FsPath;
use std::sync::{Arc, Mutex};

use minerva_catalog::{Catalog, Manifest, Table};
use object_store::path::Path;

use crate::error::Result;

/// One query's table states; a session config extension, like the query's stats.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    manifests: Mutex<HashMap<String, Arc<Manifest>>>,
    consuming: Option<Consuming>,
}

/// A compaction reading `source`: what it must skip, and what it read.
#[derive(Debug)]
struct Consuming {
    source: String,
    /// The target's manifest: it says which of the source's objects are consumed.
    target: Arc<Manifest>,
    read: Mutex<Vec<Path>>,
}

impl Snapshot {
    /// A snapshot for a compaction into a table whose committed state is `target`: scans of
    /// `source` skip what `target` consumed and record what they read.
    pub(crate) fn consuming(source: &Table, target: Arc<Manifest>) -> Self {
        Self {
            manifests: Mutex::default(),
            consuming: Some(Consuming {
                source: source.qualified_name(),
                target,
                read: Mutex::default(),
            }),
        }
    }

    /// The committed state of `table`, read on first use.
    pub(crate) fn manifest(&self, catalog_root: &FsPath, table: &Table) -> Result<Arc<Manifest>> {
        let key = table.qualified_name();
        if let Some(m) = self
            .manifests
            .lock()
            .expect("snapshot lock poisoned")
            .get(&key)
        {
            return Ok(Arc::clone(m));
        }
        let read = Arc::new(Catalog::read_manifest(
            catalog_root,
            table.database(),
            table.name(),
        )?);
        Ok(Arc::clone(
            self.manifests
                .lock()
                .expect("snapshot lock poisoned")
                .entry(key)
                .or_insert(read),
        ))
    }

    /// For a compaction's scan of its source `table`: the target's manifest, whose consumed
    /// objects the scan leaves out.
    pub(crate) fn consumer(&self, table: &Table) -> Option<Arc<Manifest>> {
        self.consuming
            .as_ref()
            .filter(|c| c.source == table.qualified_name())
            .map(|c| Arc::clone(&c.target))
    }

    /// Records that a scan of `table` reads `locations` (kept only for a compaction's source).
    pub(crate) fn reading(&self, table: &Table, locations: impl IntoIterator<Item = Path>) {
        if let Some(c) = &self.consuming
            && c.source == table.qualified_name()
        {
            c.read
                .lock()
                .expect("snapshot lock poisoned")
                .extend(locations);
        }
    }

    /// The source objects the compaction's scans read, sorted, each once.
    pub(crate) fn consumed_now(&self) -> Vec<Path> {
        let mut read = self
            .consuming
            .as_ref()
            .map(|c| c.read.lock().expect("snapshot lock poisoned").clone())
            .unwrap_or_default();
        read.sort();
        read.dedup();
        read
    }
}
