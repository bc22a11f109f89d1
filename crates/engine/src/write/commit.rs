//! Making a write visible: the table's next manifest (files appended, partitions replaced, a
//! compaction's source objects consumed), committed in one atomic step, then the clean-up of
//! what no commit names (files of writes that never committed, replaced files past their
//! retention). See `minerva_catalog::Manifest` for the protocol.

use std::collections::BTreeMap;
use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use minerva_catalog::{Catalog, Manifest, ManifestFile, Partition, Table, is_written_by_minerva};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use super::files::ClosedFile;
use crate::error::{EngineError, Result};
use crate::scan::is_data_file;

/// How long a file an overwrite replaced is kept for queries that planned before it.
pub(crate) const RETAIN_REPLACED: Duration = Duration::from_secs(3600);

/// What a commit does with the written files.
#[derive(Debug)]
pub(crate) enum Change {
    /// `INSERT INTO`: the files join their partitions.
    Append,
    /// `INSERT OVERWRITE`: the files replace their partitions' files.
    Overwrite,
    /// `COMPACT`: appended, and the source objects read are consumed.
    Compact { source: Arc<Table>, read: Vec<Path> },
}

/// A committed write, for the statement's answer and stats.
#[derive(Debug, Default)]
pub(crate) struct Committed {
    pub(crate) files: usize,
    pub(crate) bytes: u64,
    pub(crate) partitions: usize,
}

/// Commits `written` to `table` as `change`, starting from `base` (the manifest the write
/// read when it began), then cleans up the partitions written.
pub(crate) async fn commit(
    catalog_root: &FsPath,
    table: &Table,
    store: &Arc<dyn ObjectStore>,
    mut base: Manifest,
    change: Change,
    written: &[(Partition, ClosedFile)],
    now: DateTime<Utc>,
) -> Result<(Committed, Manifest)> {
    let mut by_partition: BTreeMap<String, (Partition, Vec<ManifestFile>)> = BTreeMap::new();
    for (partition, file) in written {
        let name = partition.name(table.partition_columns());
        by_partition
            .entry(name)
            .or_insert_with(|| (partition.clone(), Vec::new()))
            .1
            .push(ManifestFile::new(
                table,
                &file.location,
                file.bytes,
                Some(file.rows),
                now,
            ));
    }
    let consumes = matches!(&change, Change::Compact { read, .. } if !read.is_empty());
    if written.is_empty() && !consumes {
        // Nothing to commit: the table stays at its version (a rerun changes nothing).
        return Ok((Committed::default(), base));
    }
    let overwrite = matches!(change, Change::Overwrite);
    for (name, (partition, files)) in &by_partition {
        // A partition Minerva commits for the first time keeps the files another writer put
        // there (an append), or retires them (an overwrite).
        let foreign = if base.files(name).is_none() {
            foreign_files(table, store, &partition.prefix).await?
        } else {
            Vec::new()
        };
        if overwrite {
            base.replace(name, files.clone(), now);
            for meta in foreign {
                base.retire(table, &meta.location, now);
            }
        } else {
            base.add(
                name,
                foreign.into_iter().map(|meta| {
                    ManifestFile::new(table, &meta.location, meta.size, None, meta.last_modified)
                }),
            );
            base.add(name, files.iter().cloned());
        }
    }
    if let Change::Compact { source, read } = change {
        base.consume(&source, read);
    }
    let expired = base.expire_retired(table, now - RETAIN_REPLACED);
    Catalog::commit_manifest(catalog_root, table.database(), table.name(), &base)?;
    let manifest = base;
    super::failpoint::pause("clean").await;
    delete(store, expired).await;
    for (partition, _) in by_partition.values() {
        clean(table, store, &manifest, &partition.prefix).await?;
    }
    let committed = Committed {
        files: written.len(),
        bytes: written.iter().map(|(_, f)| f.bytes).sum(),
        partitions: by_partition.len(),
    };
    Ok((committed, manifest))
}

/// Deletes, under `prefix`, every object Minerva wrote that `manifest` does not name: files
/// of writes that failed or were killed before their commit. Only a holder of the table's
/// write lock may call it (no write is in flight). Returns how many it deleted.
pub(crate) async fn clean(
    table: &Table,
    store: &Arc<dyn ObjectStore>,
    manifest: &Manifest,
    prefix: &Path,
) -> Result<usize> {
    let garbage: Vec<Path> = store
        .list(Some(prefix))
        .try_filter(|meta| {
            futures::future::ready(
                is_written_by_minerva(&meta.location) && !manifest.names(table, &meta.location),
            )
        })
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .map_err(|e| list_error(table, prefix, e))?;
    Ok(delete(store, garbage).await)
}

/// Deletes `locations`; one that cannot be deleted is left for a later clean-up (it is not
/// data: no commit names it). Returns how many were deleted.
pub(crate) async fn delete(store: &Arc<dyn ObjectStore>, locations: Vec<Path>) -> usize {
    let mut deleted = 0;
    for location in locations {
        match store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => deleted += 1,
            Err(_) => {}
        }
    }
    deleted
}

/// Data files under `prefix` that Minerva did not write (not hidden, not `minerva-…`).
async fn foreign_files(
    table: &Table,
    store: &Arc<dyn ObjectStore>,
    prefix: &Path,
) -> Result<Vec<object_store::ObjectMeta>> {
    store
        .list(Some(prefix))
        .try_filter(|meta| {
            futures::future::ready(
                is_data_file(prefix, meta) && !is_written_by_minerva(&meta.location),
            )
        })
        .try_collect()
        .await
        .map_err(|e| list_error(table, prefix, e))
}

fn list_error(table: &Table, prefix: &Path, source: object_store::Error) -> EngineError {
    minerva_catalog::CatalogError::List {
        table: table.qualified_name(),
        location: format!("{}/{prefix}/", table.location().store_url()),
        source,
    }
    .into()
}
