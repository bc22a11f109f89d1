//! Parquet footers of remote files: from the session's cache in memory, else from the footer
//! cache on disk (a `minerva` process before this one fetched them), else from the store, and
//! then kept in both.
//!
//! On disk a footer is keyed by its object's store, path, size, ETag and modification time, so
//! an object that changed is never read with its old footer.

use std::sync::Arc;

use bytes::Bytes;
use datafusion::datasource::physical_plan::parquet::metadata::{
    CachedParquetMetaData, DFParquetMetadata,
};
use datafusion::error::Result;
use datafusion::execution::cache::cache_manager::{CachedFileMetadataEntry, FileMetadataCache};
use datafusion::execution::object_store::ObjectStoreUrl;
use minerva_store::{CacheKind, DiskCache};
use object_store::ObjectStoreExt;
use object_store::{ObjectMeta, ObjectStore};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};

use crate::options::MinervaOptions;
use crate::report::QueryStats;

/// The footer suffix read first: a compacted file's footer (tens of row groups) and often its
/// page index fit; a larger footer takes a second request.
pub(crate) const FOOTER_HINT: usize = 64 << 10;

/// Footers of a remote store fetched at once: all of a scan's in one round up to this many
/// (at most 16 MiB of suffixes in flight).
const FOOTER_ROUND: usize = 256;

/// Whether `url` names a remote store, where every request waits a round trip (the store
/// crate's accounting draws the same line).
pub(crate) fn is_remote(url: &ObjectStoreUrl) -> bool {
    !url.as_str().starts_with("file:")
}

/// How many footers of a remote store one scan fetches at once.
pub(crate) fn remote_footers_at_once(options: &MinervaOptions) -> usize {
    FOOTER_ROUND.max(options.io_concurrency)
}

/// The session's footer cache on disk (a session config extension; absent: none).
#[derive(Debug)]
pub(crate) struct DiskFooters(pub(crate) Arc<DiskCache>);

/// What one footer fetch needs besides the file.
pub(crate) struct FooterFetch<'a> {
    pub store: &'a dyn ObjectStore,
    pub store_url: &'a ObjectStoreUrl,
    pub memory: Arc<FileMetadataCache>,
    pub disk: Option<&'a DiskFooters>,
    pub stats: Option<&'a QueryStats>,
    pub size_hint: Option<usize>,
    /// `None`: DataFusion's choice (the page index too, where a cache keeps it).
    pub page_index: Option<PageIndexPolicy>,
}

/// The key of `meta`'s footer on disk.
fn key(store_url: &ObjectStoreUrl, meta: &ObjectMeta) -> String {
    format!(
        "{}{}\n{}\n{}\n{}",
        store_url.as_str(),
        meta.location,
        meta.size,
        meta.e_tag.as_deref().unwrap_or(""),
        meta.last_modified.timestamp_nanos_opt().unwrap_or(0)
    )
}

/// A footer as the cache keeps it: a format byte, the file's size, then the file's last bytes
/// as they are (the footer, and the page index where the suffix read held it), so nothing a
/// writer put there is lost in a round trip.
fn encode(size: u64, tail: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(tail.len() + 9);
    bytes.push(FILE_TAIL);
    bytes.extend_from_slice(&size.to_le_bytes());
    bytes.extend_from_slice(tail);
    bytes
}

const FILE_TAIL: u8 = 1;

/// The metadata of a footer the cache kept, if it is one.
fn decode(bytes: &[u8]) -> Option<ParquetMetaData> {
    let (&FILE_TAIL, rest) = bytes.split_first()? else {
        return None;
    };
    let (size, tail) = rest.split_at_checked(8)?;
    parse_tail(tail, u64::from_le_bytes(size.try_into().ok()?))
}

/// The metadata of a file of `size` bytes ending in `tail` (at least its whole footer), with
/// its page index where `tail` holds that too.
fn parse_tail(tail: &[u8], size: u64) -> Option<ParquetMetaData> {
    let bytes = Bytes::copy_from_slice(tail);
    let mut reader = ParquetMetaDataReader::new().with_page_index_policy(PageIndexPolicy::Optional);
    if reader.try_parse_sized(&bytes, size).is_ok()
        && let Ok(metadata) = reader.finish()
    {
        return Some(metadata);
    }
    let mut reader = ParquetMetaDataReader::new().with_page_index_policy(PageIndexPolicy::Skip);
    reader.try_parse_sized(&bytes, size).ok()?;
    reader.finish().ok()
}

/// The footer's length (metadata, length and magic) from a file's last eight bytes.
fn footer_length(tail: &[u8]) -> Option<u64> {
    let tail: &[u8; 8] = tail.get(tail.len().checked_sub(8)?..)?.try_into().ok()?;
    if &tail[4..] != b"PAR1" {
        return None;
    }
    Some(u64::from(u32::from_le_bytes(tail[..4].try_into().ok()?)) + 8)
}

impl FooterFetch<'_> {
    /// The footer of `meta`.
    pub(crate) async fn fetch(&self, meta: &ObjectMeta) -> Result<Arc<ParquetMetaData>> {
        let in_memory = self
            .memory
            .get(&meta.location)
            .is_some_and(|entry| entry.is_valid_for(meta));
        if let (false, Some(disk)) = (in_memory, self.disk) {
            let key = key(self.store_url, meta);
            let cached = match disk.0.get(CacheKind::Footer, &key) {
                Ok(Some(bytes)) => match decode(&bytes) {
                    Some(metadata) => {
                        if let Some(stats) = self.stats {
                            stats.meter().footer_from_cache();
                        }
                        Some(metadata)
                    }
                    None => {
                        disk.0
                            .discard(CacheKind::Footer, &key, "not a Parquet footer");
                        None
                    }
                },
                Ok(None) => None,
                Err(warning) => {
                    disk.0.report(warning);
                    None
                }
            };
            // Else the footer's bytes from the store, kept as they are; one that does not
            // read is left to DataFusion's reader below, which names what is wrong.
            let metadata = match cached {
                Some(metadata) => Some(metadata),
                None => match self.file_tail(meta).await {
                    Some((tail, metadata)) => {
                        let entry = encode(meta.size, &tail);
                        if let Err(warning) = disk.0.put(CacheKind::Footer, &key, &entry) {
                            disk.0.report(warning);
                        }
                        Some(metadata)
                    }
                    None => None,
                },
            };
            if let Some(metadata) = metadata {
                self.memory.put(
                    &meta.location,
                    CachedFileMetadataEntry::new(
                        meta.clone(),
                        Arc::new(CachedParquetMetaData::new(Arc::new(metadata))),
                    ),
                );
            }
        }
        // From the memory cache where it is there (the page index fetched now if wanted).
        let mut fetch = DFParquetMetadata::new(self.store, meta)
            .with_metadata_size_hint(self.size_hint)
            .with_file_metadata_cache(Some(Arc::clone(&self.memory)));
        if let Some(policy) = self.page_index {
            fetch = fetch.with_page_index_policy(Some(policy));
        }
        fetch.fetch_metadata().await
    }

    /// The object's last bytes (its footer, and what else the size hint took in) and its
    /// metadata: one request when the footer fits the size hint, two otherwise. `None` if it
    /// is not a Parquet footer or the store fails (DataFusion's reader then says which).
    async fn file_tail(&self, meta: &ObjectMeta) -> Option<(Vec<u8>, ParquetMetaData)> {
        let hint = self.size_hint.unwrap_or(FOOTER_HINT).max(8) as u64;
        let start = meta.size.saturating_sub(hint);
        let mut tail = self
            .store
            .get_range(&meta.location, start..meta.size)
            .await
            .ok()?
            .to_vec();
        let length = footer_length(&tail)?;
        if length > meta.size {
            return None;
        }
        if length > tail.len() as u64 {
            let rest = self
                .store
                .get_range(&meta.location, meta.size - length..start)
                .await
                .ok()?;
            tail.splice(0..0, rest.iter().copied());
        }
        let metadata = parse_tail(&tail, meta.size)?;
        Some((tail, metadata))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    #[test]
    fn a_file_tail_round_trips_as_its_bytes_and_anything_else_is_refused() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from_iter(
                (0..10_000).map(|i| (i % 7 != 0).then_some(i)),
            ))],
        )
        .unwrap();
        let mut file = Vec::new();
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(3_000))
            .build();
        let mut writer = ArrowWriter::try_new(&mut file, schema, Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let size = file.len() as u64;
        let read = parse_tail(&file, size).unwrap();
        assert!(read.offset_index().is_some(), "the page index, read whole");
        // A suffix with the footer and the page index, and one with the footer alone.
        let length = footer_length(&file).unwrap() as usize;
        let with_index = decode(&encode(size, &file[file.len() - 4_096..])).unwrap();
        assert!(with_index.offset_index().is_some());
        let footer_only = decode(&encode(size, &file[file.len() - length..])).unwrap();
        assert!(footer_only.offset_index().is_none());
        let back = footer_only;
        // Everything the writer put there, encoding statistics included.
        assert_eq!(back.row_groups(), read.row_groups());
        assert_eq!(back.num_row_groups(), 4);
        assert!(
            back.row_group(0)
                .column(0)
                .page_encoding_stats_mask()
                .is_some()
        );
        assert!(decode(b"\x01\x10\0\0\0\0\0\0\0PAR1 not a footer").is_none());
        assert!(decode(b"\x07").is_none());
        assert!(decode(b"\x01\x10").is_none());
        assert!(decode(b"").is_none());
        assert_eq!(footer_length(b"PAR1"), None);
        assert_eq!(footer_length(b"\x10\0\0\0PAR2"), None);
        assert_eq!(footer_length(b"\x10\0\0\0PAR1"), Some(24));
    }
}
