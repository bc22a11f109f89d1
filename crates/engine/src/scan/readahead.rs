//! Row groups fetched ahead of the workers that decode them.
//!
//! Over a remote store every request waits tens of milliseconds before its first byte; a
//! worker that fetched its next row group only when it needed it would keep one request in
//! flight per core. [`ReadAhead`] fetches the column chunks of the row groups a scan will read,
//! in the order the workers take them, with up to `depth` row groups in flight at once and at
//! most `budget` bytes fetched but not yet decoded; a worker then decodes from memory through
//! [`FetchedReader`]. Each request still goes through the query's accounting store: counted,
//! and admitted against the scan limit before it is sent.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::common::runtime::SpawnedTask;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use object_store::ObjectStore;
use object_store::path::Path;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, RowSelection};
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::file::metadata::ParquetMetaData;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc};

/// What one unit of work (a row group of a file) needs fetched: its object and byte ranges.
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    pub location: Path,
    pub ranges: Vec<Range<u64>>,
}

/// Byte ranges of one object and their bytes, as fetched.
pub(crate) type Chunks = Arc<Vec<(Range<u64>, Bytes)>>;

/// A unit's bytes, fetched; its share of the budget is given back when it is dropped.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub chunks: Chunks,
    _budget: OwnedSemaphorePermit,
}

/// Units fetched ahead, handed out in order to whichever worker asks next.
pub(crate) struct ReadAhead {
    fetched: Mutex<mpsc::Receiver<(usize, object_store::Result<Fetched>)>>,
    _driver: SpawnedTask<()>,
}

/// The budget is counted in KiB, so that a semaphore's `u32` permits cover terabytes.
const PERMIT: u64 = 1 << 10;

impl ReadAhead {
    /// Starts fetching `units` from `store`, `depth` units in flight at most and at most
    /// `budget` bytes held (a unit larger than the budget is fetched alone). Stops when the
    /// `ReadAhead` is dropped.
    pub(crate) fn start(
        store: Arc<dyn ObjectStore>,
        units: Vec<Wanted>,
        depth: usize,
        budget: u64,
    ) -> Self {
        let depth = depth.max(1);
        let permits = budget.div_ceil(PERMIT).clamp(1, u64::from(u32::MAX >> 4));
        let semaphore = Arc::new(Semaphore::new(permits as usize));
        let (sender, receiver) = mpsc::channel(depth);
        let driver = SpawnedTask::spawn(async move {
            let fetches = futures::stream::iter(units.into_iter().enumerate())
                .map(|(unit, wanted)| {
                    let (store, semaphore) = (Arc::clone(&store), Arc::clone(&semaphore));
                    async move {
                        let bytes: u64 = wanted.ranges.iter().map(|r| r.end - r.start).sum();
                        let share = bytes.div_ceil(PERMIT).clamp(1, permits) as u32;
                        let budget = semaphore
                            .acquire_many_owned(share)
                            .await
                            .expect("the semaphore is never closed");
                        let data = store.get_ranges(&wanted.location, &wanted.ranges).await;
                        let fetched = data.map(|data| Fetched {
                            chunks: Arc::new(wanted.ranges.into_iter().zip(data).collect()),
                            _budget: budget,
                        });
                        (unit, fetched)
                    }
                })
                .buffered(depth);
            futures::pin_mut!(fetches);
            while let Some(fetched) = fetches.next().await {
                let failed = fetched.1.is_err();
                if sender.send(fetched).await.is_err() || failed {
                    break;
                }
            }
        });
        Self {
            fetched: Mutex::new(receiver),
            _driver: driver,
        }
    }

    /// The next unit fetched, in the order given, or its index and why it could not be;
    /// `None` once all were handed out (or one failed).
    pub(crate) async fn next(&self) -> Option<(usize, object_store::Result<Fetched>)> {
        self.fetched.lock().await.recv().await
    }
}

/// The byte ranges of row group `row_group`'s chunks of the columns in `masks` (any of them),
/// in file order, adjacent chunks merged: what a Parquet reader asks for when it reads those
/// columns of that row group whole.
pub(crate) fn chunk_ranges(
    metadata: &ParquetMetaData,
    row_group: usize,
    masks: &[&ProjectionMask],
) -> Vec<Range<u64>> {
    let ranges: Vec<Range<u64>> = metadata
        .row_group(row_group)
        .columns()
        .iter()
        .enumerate()
        .filter(|(leaf, _)| masks.iter().any(|mask| mask.leaf_included(*leaf)))
        .map(|(_, column)| {
            let (start, length) = column.byte_range();
            start..start + length
        })
        .collect();
    merged(ranges)
}

/// As [`chunk_ranges`], but where `selection` leaves out rows of the row group and the file
/// has an offset index: of each chunk only its dictionary page and the data pages holding rows
/// the selection reads, and for the columns of `filtered` (those a row filter reads, which
/// the reader caches a batch at a time) rows of a batch of `batch_rows` it reads, as the
/// reader fetches them.
pub(crate) fn selected_ranges(
    metadata: &ParquetMetaData,
    row_group: usize,
    masks: &[&ProjectionMask],
    selection: Option<&RowSelection>,
    filtered: &[&ProjectionMask],
    batch_rows: usize,
) -> Vec<Range<u64>> {
    let (Some(selection), Some(offsets)) = (selection, metadata.offset_index()) else {
        return chunk_ranges(metadata, row_group, masks);
    };
    let Some(offsets) = offsets.get(row_group) else {
        return chunk_ranges(metadata, row_group, masks);
    };
    let batch_rows = batch_rows.max(1);
    let rows = usize::try_from(metadata.row_group(row_group).num_rows()).unwrap_or(0);
    let mut batches: Vec<Range<usize>> = Vec::new();
    let mut at = 0;
    for selector in selection.iter() {
        if !selector.skip && selector.row_count > 0 {
            let start = at / batch_rows * batch_rows;
            let end = ((at + selector.row_count).div_ceil(batch_rows) * batch_rows).min(rows);
            match batches.last_mut() {
                Some(last) if start <= last.end => last.end = last.end.max(end),
                _ => batches.push(start..end),
            }
        }
        at += selector.row_count;
    }
    let batches = RowSelection::from_consecutive_ranges(batches.into_iter(), rows);
    let columns = metadata.row_group(row_group).columns();
    let mut ranges = Vec::new();
    for (leaf, column) in columns.iter().enumerate() {
        if !masks.iter().any(|mask| mask.leaf_included(leaf)) {
            continue;
        }
        let (start, length) = column.byte_range();
        let Some(pages) = offsets.get(leaf).map(|o| o.page_locations()) else {
            ranges.push(start..start + length);
            continue;
        };
        match pages.first() {
            Some(first) if first.offset as u64 > start => ranges.push(start..first.offset as u64),
            _ => {}
        }
        match filtered.iter().any(|mask| mask.leaf_included(leaf)) {
            true => ranges.extend(batches.scan_ranges(pages)),
            false => ranges.extend(selection.scan_ranges(pages)),
        }
    }
    merged(ranges)
}

/// `ranges` in file order, overlapping or adjacent ones merged.
pub(crate) fn merged(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// A reader that serves ranges from chunks fetched ahead, and asks `inner` for anything else.
pub(crate) struct FetchedReader {
    chunks: Chunks,
    inner: Box<dyn AsyncFileReader>,
}

impl FetchedReader {
    pub(crate) fn new(
        chunks: Arc<Vec<(Range<u64>, Bytes)>>,
        inner: Box<dyn AsyncFileReader>,
    ) -> Self {
        Self { chunks, inner }
    }

    fn cut(&self, range: &Range<u64>) -> Option<Bytes> {
        cut(&self.chunks, range)
    }
}

/// The bytes of `range`, if one of `chunks` holds them all.
pub(crate) fn cut(chunks: &[(Range<u64>, Bytes)], range: &Range<u64>) -> Option<Bytes> {
    let (held, bytes) = chunks
        .iter()
        .find(|(held, _)| held.start <= range.start && range.end <= held.end)?;
    let from = usize::try_from(range.start - held.start).ok()?;
    let to = usize::try_from(range.end - held.start).ok()?;
    Some(bytes.slice(from..to))
}

impl AsyncFileReader for FetchedReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        match self.cut(&range) {
            Some(bytes) => futures::future::ready(Ok(bytes)).boxed(),
            None => self.inner.get_bytes(range),
        }
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        match ranges
            .iter()
            .map(|r| self.cut(r))
            .collect::<Option<Vec<_>>>()
        {
            Some(all) => futures::future::ready(Ok(all)).boxed(),
            None => self.inner.get_byte_ranges(ranges),
        }
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        self.inner.get_metadata(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::RecordBatch;
    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, PutPayload};

    /// The test readers' metadata: none (the reader is given it).
    fn no_metadata<'a>() -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        futures::future::ready(Err(parquet::errors::ParquetError::General(
            "no metadata here".into(),
        )))
        .boxed()
    }

    struct Unused;

    impl AsyncFileReader for Unused {
        fn get_bytes(
            &mut self,
            range: Range<u64>,
        ) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
            futures::future::ready(Ok(Bytes::from(vec![
                0xEE;
                (range.end - range.start) as usize
            ])))
            .boxed()
        }

        fn get_metadata<'a>(
            &'a mut self,
            _: Option<&'a ArrowReaderOptions>,
        ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
            no_metadata()
        }
    }

    #[tokio::test]
    async fn units_arrive_in_order_within_a_budget_smaller_than_their_sum() {
        let store = Arc::new(InMemory::new());
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        store
            .put(&Path::from("f"), PutPayload::from(data.clone()))
            .await
            .unwrap();
        let units: Vec<Wanted> = (0..20u64)
            .map(|i| Wanted {
                location: Path::from("f"),
                ranges: vec![i * 400..i * 400 + 100, i * 400 + 200..i * 400 + 400],
            })
            .collect();
        // 2 KiB of budget, 300 bytes (one permit of 1 KiB) a unit: two units held at once, so
        // the rest must wait for those handed out to be dropped, in order.
        let ahead = ReadAhead::start(store, units, 8, 2 << 10);
        for i in 0..20usize {
            let (unit, fetched) = ahead.next().await.unwrap();
            let fetched = fetched.unwrap();
            assert_eq!(unit, i);
            let mut reader = FetchedReader::new(Arc::clone(&fetched.chunks), Box::new(Unused));
            let start = i as u64 * 400;
            let inside = reader.get_bytes(start + 10..start + 50).await.unwrap();
            assert_eq!(&inside[..], &data[start as usize + 10..start as usize + 50]);
            let both = reader
                .get_byte_ranges(vec![start..start + 100, start + 250..start + 400])
                .await
                .unwrap();
            assert_eq!(
                &both[1][..],
                &data[start as usize + 250..start as usize + 400]
            );
            // A range never fetched comes from the inner reader.
            let outside = reader.get_bytes(start + 100..start + 150).await.unwrap();
            assert!(outside.iter().all(|&b| b == 0xEE));
        }
        assert!(ahead.next().await.is_none());
    }

    #[tokio::test]
    async fn a_failed_fetch_is_handed_out_and_ends_the_stream() {
        let store = Arc::new(InMemory::new());
        let units = vec![Wanted {
            location: Path::from("missing"),
            ranges: std::iter::once(0..10).collect(),
        }];
        let ahead = ReadAhead::start(store, units, 4, 1 << 20);
        assert!(matches!(
            ahead.next().await,
            Some((0, Err(object_store::Error::NotFound { .. })))
        ));
        assert!(ahead.next().await.is_none());
    }

    /// A reader for whatever the chunks fetched ahead do not hold: an error.
    struct Refuses;

    impl AsyncFileReader for Refuses {
        fn get_bytes(
            &mut self,
            range: Range<u64>,
        ) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
            let error = parquet::errors::ParquetError::General(format!("{range:?} not fetched"));
            futures::future::ready(Err(error)).boxed()
        }

        fn get_metadata<'a>(
            &'a mut self,
            _: Option<&'a ArrowReaderOptions>,
        ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
            no_metadata()
        }
    }

    /// A file of two columns in pages of 40 rows (the first sorted and plain, the second with
    /// nulls and a dictionary), two row groups of 700 and 500 rows.
    fn paged_file() -> Bytes {
        use arrow::array::Int64Array;
        use arrow::datatypes::{DataType, Field, Schema};
        use parquet::arrow::ArrowWriter;
        use parquet::file::properties::WriterProperties;
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Int64, true),
        ]));
        let a = Int64Array::from_iter_values(0..1_200);
        let b: Int64Array = (0..1_200)
            .map(|i| (i % 7 != 0).then_some(i * 31 % 97))
            .collect();
        let batch =
            RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(a), Arc::new(b)]).unwrap();
        let props = WriterProperties::builder()
            .set_column_dictionary_enabled("a".into(), false)
            .set_data_page_row_count_limit(40)
            .set_write_batch_size(20)
            .set_max_row_group_row_count(Some(700))
            .build();
        let mut file = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut file, schema, Some(props)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        Bytes::from(file)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// The ranges chosen for a row selection hold every byte the reader asks for (the
        /// reader behind them refuses anything else), and far fewer than the whole chunks
        /// where the selection is narrow.
        #[test]
        fn selected_pages_hold_what_the_reader_reads(
            runs in proptest::collection::vec((0usize..90, 0usize..90), 1..6),
            row_group in 0usize..2,
            batch_rows in proptest::sample::select(vec![16usize, 64, 1 << 16]),
            filtered in proptest::bool::ANY,
        ) {
            use parquet::arrow::ParquetRecordBatchStreamBuilder;
            use parquet::arrow::arrow_reader::{
                ArrowPredicateFn, ArrowReaderMetadata, ParquetRecordBatchReaderBuilder,
                RowFilter, RowSelector,
            };
            use parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};
            let file = paged_file();
            let metadata = ParquetMetaDataReader::new()
                .with_page_index_policy(PageIndexPolicy::Required)
                .parse_and_finish(&file)
                .unwrap();
            let rows = metadata.row_group(row_group).num_rows() as usize;
            // Alternating runs skipped and selected, the rest skipped.
            let mut selectors = Vec::new();
            let mut left = rows;
            for (skip, select) in runs {
                let (skip, select) = (skip.min(left), select.min(left - skip.min(left)));
                selectors.push(RowSelector::skip(skip));
                selectors.push(RowSelector::select(select));
                left -= skip + select;
            }
            selectors.push(RowSelector::skip(left));
            let selection = RowSelection::from(selectors);
            let descr = metadata.file_metadata().schema_descr_ptr();
            let both = ProjectionMask::all();
            let first = ProjectionMask::leaves(&descr, [0]);
            let cached: Vec<&ProjectionMask> = match filtered {
                true => vec![&first],
                false => vec![],
            };
            let ranges = selected_ranges(&metadata, row_group, &[&both], Some(&selection), &cached, batch_rows);
            let whole: u64 = chunk_ranges(&metadata, row_group, &[&both]).iter().map(|r| r.end - r.start).sum();
            let fetched: u64 = ranges.iter().map(|r| r.end - r.start).sum();
            proptest::prop_assert!(fetched <= whole);
            if selection.row_count() <= 40 && batch_rows <= 64 {
                proptest::prop_assert!(fetched * 2 < whole, "{fetched} of {whole} bytes");
            }
            let chunks: Chunks = Arc::new(
                ranges.iter().map(|r| (r.clone(), file.slice(r.start as usize..r.end as usize))).collect(),
            );
            let filter = || {
                let predicate = ArrowPredicateFn::new(first.clone(), |batch: RecordBatch| {
                    let a = batch.column(0).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap();
                    Ok(a.iter().map(|v| v.map(|v| v % 3 != 0)).collect())
                });
                RowFilter::new(vec![Box::new(predicate)])
            };
            let metadata = Arc::new(metadata);
            let reader_metadata = ArrowReaderMetadata::try_new(Arc::clone(&metadata), Default::default()).unwrap();
            let answer: Vec<RecordBatch> = futures::executor::block_on(async {
                let reader = FetchedReader::new(chunks, Box::new(Refuses));
                let mut builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, reader_metadata.clone())
                    .with_row_groups(vec![row_group])
                    .with_row_selection(selection.clone())
                    .with_batch_size(batch_rows);
                if filtered {
                    builder = builder.with_row_filter(filter());
                }
                futures::TryStreamExt::try_collect(builder.build().unwrap()).await
            }).unwrap();
            let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file.clone(), reader_metadata)
                .with_row_groups(vec![row_group])
                .with_row_selection(selection)
                .with_batch_size(batch_rows);
            if filtered {
                builder = builder.with_row_filter(filter());
            }
            let expected: Vec<RecordBatch> = builder.build().unwrap().collect::<Result<_, _>>().unwrap();
            let concat = |batches: &[RecordBatch]| {
                arrow::compute::concat_batches(&batches.first().map(|b| b.schema()).unwrap_or_else(|| Arc::new(arrow::datatypes::Schema::empty())), batches).unwrap()
            };
            if !expected.is_empty() {
                proptest::prop_assert_eq!(concat(&answer), concat(&expected));
            } else {
                proptest::prop_assert!(answer.iter().all(|b| b.num_rows() == 0));
            }
        }
    }
}
