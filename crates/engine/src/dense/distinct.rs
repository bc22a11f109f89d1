//! Distinct rows of the group keys, each with the number of rows it stands for: the hash
//! aggregation of a `SELECT DISTINCT` or `GROUP BY … count(*)` whose keys are not dense
//! (session ids, URLs: text whose pages hold no dictionary).
//!
//! # Why
//! DataFusion's hash aggregation splits into a partial and a final aggregation with a
//! repartition between them: with millions of groups, most rows are hashed twice, sent between
//! threads, and probed into one table per thread that is far larger than the cache, so nearly
//! every probe misses it. Here every worker encodes its rows once (arrow's row format: one
//! byte string per row, compared with `memcmp`), hashes them, and appends them to one of
//! [`PARTS`] buckets chosen by the hash: sequential writes, no lookups. A small table in front
//! of the buckets (it fits in the cache) folds repeated rows while it finds repeats, and steps
//! aside when it does not. Once the input is read, each part's rows from every worker are
//! folded in one table, part by part in parallel: every table is a `PARTS`th of the groups,
//! small enough to stay in the cache.
//!
//! Keys of integers, dates and timestamps are packed into a few words instead ([`fixed`]).
//!
//! Memory grows with the rows kept (the distinct rows, or the input rows where they barely
//! repeat) and is reserved from the query's pool; when the pool refuses, the caller answers
//! with DataFusion's aggregation, which spills.

use std::hash::BuildHasher;
use std::mem::size_of;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::SchemaRef;
use arrow::row::{RowConverter, Rows, SortField};
use datafusion::common::DataFusionError;
use datafusion::common::runtime::SpawnedTask;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::physical_plan::ExecutionPlan;
use futures::StreamExt;
use hashbrown::HashTable;

mod fixed;
mod parts;

use fixed::Answer;
use parts::{FRONT, FrontRule, PARTS, part_of};

/// The largest block a bucket appends to (its first ones are smaller, for small answers).
const BLOCK: usize = 64 << 10;

/// Encoded rows in arrival order, appended to blocks (never moved once written): each entry
/// is its length (one byte below [`LONG`], else `LONG` and four bytes), its count if the
/// answer counts, then the row. Hashes are not kept: folding computes them again, cheaper
/// than the memory they would take.
#[derive(Debug, Default)]
struct Bucket {
    blocks: Vec<Vec<u8>>,
    /// The blocks' bytes, as allocated: kept as they are allocated, not summed per batch.
    held: usize,
}

/// The length byte of a row of `LONG` bytes or more, whose length follows in four bytes.
const LONG: u8 = u8::MAX;
const COUNT: usize = size_of::<u64>();

impl Bucket {
    fn push(&mut self, row: &[u8], count: Option<u64>) -> Result<()> {
        let len = u32::try_from(row.len()).map_err(|_| {
            DataFusionError::ResourcesExhausted(format!(
                "a group key of {} bytes in a hash aggregation",
                row.len()
            ))
        })?;
        let mut head = [0u8; 5 + COUNT];
        let mut at = match u8::try_from(len) {
            Ok(short) if short < LONG => {
                head[0] = short;
                1
            }
            _ => {
                head[0] = LONG;
                head[1..5].copy_from_slice(&len.to_le_bytes());
                5
            }
        };
        if let Some(count) = count {
            head[at..at + COUNT].copy_from_slice(&count.to_le_bytes());
            at += COUNT;
        }
        let need = at + row.len();
        let block = match self.blocks.last_mut() {
            Some(block) if block.capacity() - block.len() >= need => block,
            _ => {
                let size = (4096 << self.blocks.len().min(4)).min(BLOCK).max(need);
                self.blocks.push(Vec::with_capacity(size));
                self.held += size;
                self.blocks.last_mut().expect("just pushed")
            }
        };
        block.extend_from_slice(&head[..at]);
        block.extend_from_slice(row);
        Ok(())
    }

    /// Each entry's row and count (1 where the answer does not count), hashed by `hasher`.
    fn entries<'a>(
        &'a self,
        counting: bool,
        hasher: &'a hashbrown::DefaultHashBuilder,
    ) -> impl Iterator<Item = Entry<'a>> {
        self.blocks.iter().flat_map(move |block| {
            let mut at = 0;
            std::iter::from_fn(move || {
                let &first = block.get(at)?;
                let len = if first == LONG {
                    let mut word = [0; 4];
                    word.copy_from_slice(&block[at + 1..at + 5]);
                    at += 5;
                    u32::from_le_bytes(word) as usize
                } else {
                    at += 1;
                    usize::from(first)
                };
                let count = if counting {
                    let mut word = [0; COUNT];
                    word.copy_from_slice(&block[at..at + COUNT]);
                    at += COUNT;
                    u64::from_le_bytes(word)
                } else {
                    1
                };
                let row = &block[at..at + len];
                at += len;
                Some(Entry {
                    hash: hasher.hash_one(row),
                    row,
                    count,
                })
            })
        })
    }

    fn size(&self) -> usize {
        self.held + self.blocks.capacity() * size_of::<Vec<u8>>()
    }
}

/// A row as a bucket holds it.
#[derive(Debug, Clone, Copy)]
struct Entry<'a> {
    hash: u64,
    row: &'a [u8],
    count: u64,
}

/// The distinct rows among `entries`, each the first entry of its row, with the total of the
/// counts of its entries: a table of a part, small enough for the cache.
fn fold(entries: &[Entry<'_>]) -> Result<(Vec<u32>, Vec<u64>)> {
    // At most one row per entry: a part's entries are few enough to size for them all.
    let mut slots: HashTable<u32> = HashTable::with_capacity(entries.len());
    let mut firsts: Vec<u32> = Vec::with_capacity(entries.len());
    let mut totals: Vec<u64> = Vec::with_capacity(entries.len());
    for (e, entry) in entries.iter().enumerate() {
        let found = slots.find(entry.hash, |&j| {
            let first = &entries[firsts[j as usize] as usize];
            first.hash == entry.hash && first.row == entry.row
        });
        match found {
            Some(&j) => totals[j as usize] += entry.count,
            None => {
                let index = u32::try_from(firsts.len()).map_err(|_| {
                    DataFusionError::ResourcesExhausted(
                        "more than 2^32 distinct rows in one part of a hash aggregation".into(),
                    )
                })?;
                slots.insert_unique(entry.hash, index, |&j| {
                    entries[firsts[j as usize] as usize].hash
                });
                firsts.push(e as u32);
                totals.push(entry.count);
            }
        }
    }
    Ok((firsts, totals))
}

/// The table in front of a worker's buckets: distinct rows with their counts, owned.
#[derive(Debug, Default)]
struct Front {
    slots: HashTable<u32>,
    hashes: Vec<u64>,
    /// Where each row ends in `bytes` (it starts where the previous one ends).
    ends: Vec<usize>,
    bytes: Vec<u8>,
    counts: Vec<u64>,
}

impl Front {
    fn len(&self) -> usize {
        self.hashes.len()
    }

    fn row(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// Where a row equal to `row` (hashed to `hash`) is, if it is there.
    fn find(&self, hash: u64, row: &[u8]) -> Option<usize> {
        self.slots
            .find(hash, |&i| {
                let i = i as usize;
                self.hashes[i] == hash && self.row(i) == row
            })
            .map(|&i| i as usize)
    }

    /// Adds `row`, known not to be there, counted once.
    fn add_new(&mut self, hash: u64, row: &[u8]) {
        let index = self.hashes.len() as u32;
        self.hashes.push(hash);
        self.bytes.extend_from_slice(row);
        self.ends.push(self.bytes.len());
        self.counts.push(1);
        let hashes = &self.hashes;
        self.slots
            .insert_unique(hash, index, |&i| hashes[i as usize]);
    }

    /// Moves every row to its bucket.
    fn empty_into(&mut self, buckets: &mut [Bucket], counting: bool) -> Result<()> {
        for i in 0..self.len() {
            let hash = self.hashes[i];
            let count = counting.then_some(self.counts[i]);
            buckets[part_of(hash)].push(self.row(i), count)?;
        }
        self.slots.clear();
        self.hashes.clear();
        self.ends.clear();
        self.bytes.clear();
        self.counts.clear();
        Ok(())
    }

    fn size(&self) -> usize {
        self.slots.capacity() * (size_of::<u32>() + 1)
            + self.hashes.capacity() * size_of::<u64>()
            + self.ends.capacity() * size_of::<usize>()
            + self.bytes.capacity()
            + self.counts.capacity() * size_of::<u64>()
    }
}

/// One worker: its buckets, and the table in front of them while it pays.
struct Worker {
    buckets: Vec<Bucket>,
    front: Option<Front>,
    rule: FrontRule,
    /// Whether the answer counts rows (else it only needs them distinct).
    counting: bool,
    /// Rows seen, and repeats the front table folded, until it is decided.
    seen: usize,
    hits: usize,
    hasher: hashbrown::DefaultHashBuilder,
    reservation: MemoryReservation,
    hashes: Vec<u64>,
}

impl Worker {
    fn add(&mut self, rows: &Rows) -> Result<()> {
        self.hashes.clear();
        self.hashes
            .extend(rows.iter().map(|row| self.hasher.hash_one(row.as_ref())));
        let once = self.counting.then_some(1);
        let Some(front) = &mut self.front else {
            for (i, &hash) in self.hashes.iter().enumerate() {
                self.buckets[part_of(hash)].push(rows.row(i).as_ref(), once)?;
            }
            return Ok(());
        };
        for (i, &hash) in self.hashes.iter().enumerate() {
            let row = rows.row(i);
            if let Some(found) = front.find(hash, row.as_ref()) {
                front.counts[found] += 1;
                self.hits += 1;
                continue;
            }
            if front.len() == self.rule.rows {
                front.empty_into(&mut self.buckets, self.counting)?;
            }
            front.add_new(hash, row.as_ref());
        }
        if self.seen < self.rule.probe {
            self.seen += rows.num_rows();
            if self.seen >= self.rule.probe && self.hits * self.rule.hits < self.seen {
                self.finish_front()?;
            }
        }
        Ok(())
    }

    /// Empties the front table into the buckets, for good.
    fn finish_front(&mut self) -> Result<()> {
        match self.front.take() {
            Some(mut front) => front.empty_into(&mut self.buckets, self.counting),
            None => Ok(()),
        }
    }

    fn size(&self) -> usize {
        self.buckets.iter().map(Bucket::size).sum::<usize>()
            + self.front.as_ref().map_or(0, Front::size)
            + self.hashes.capacity() * size_of::<u64>()
    }
}

/// The distinct rows of `input`'s columns (all of them keys), each with its count; `None` when
/// the memory pool refused what they need.
///
/// The answer's columns are the keys, cast to `schema`'s first fields, then the count in each
/// of `schema`'s remaining fields (each a `count(*)`), in batches of the session's batch size.
pub(crate) async fn distinct_rows(
    input: Arc<dyn ExecutionPlan>,
    schema: &SchemaRef,
    context: Arc<TaskContext>,
) -> Result<Option<Vec<RecordBatch>>> {
    distinct_rows_by(input, schema, context, FRONT, Answer::Rows).await
}

/// For each value of all but the last of `input`'s columns (fixed-width: see
/// [`packs_all`]), how many distinct non-NULL values of the last it has, as `schema`'s
/// columns; `None` when the memory pool refused what they need.
pub(crate) async fn distinct_counts_of_last(
    input: Arc<dyn ExecutionPlan>,
    schema: &SchemaRef,
    context: Arc<TaskContext>,
) -> Result<Option<Vec<RecordBatch>>> {
    distinct_rows_by(input, schema, context, FRONT, Answer::DistinctOfLast).await
}

/// Whether keys of `schema`'s columns are packed into words (as
/// [`distinct_counts_of_last`] needs).
pub(crate) fn packs_all(schema: &arrow::datatypes::Schema) -> bool {
    fixed::words(schema).is_some()
}

async fn distinct_rows_by(
    input: Arc<dyn ExecutionPlan>,
    schema: &SchemaRef,
    context: Arc<TaskContext>,
    rule: FrontRule,
    answer: Answer,
) -> Result<Option<Vec<RecordBatch>>> {
    let fields: Vec<SortField> = input
        .schema()
        .fields()
        .iter()
        .map(|f| SortField::new(f.data_type().clone()))
        .collect();
    if fields.is_empty() || fields.len() > schema.fields().len() {
        return Err(DataFusionError::Internal(format!(
            "distinct rows of {} keys answered as {} columns",
            fields.len(),
            schema.fields().len()
        )));
    }
    // Integers, dates and timestamps: packed into words rather than encoded as rows.
    match fixed::words(&input.schema()) {
        Some(1) => return fixed::distinct_rows::<1>(input, schema, context, rule, answer).await,
        Some(2) => return fixed::distinct_rows::<2>(input, schema, context, rule, answer).await,
        Some(3) => return fixed::distinct_rows::<3>(input, schema, context, rule, answer).await,
        Some(4) => return fixed::distinct_rows::<4>(input, schema, context, rule, answer).await,
        _ if answer != Answer::Rows => {
            return Err(DataFusionError::Internal(
                "distinct values per key of keys that do not pack into words".into(),
            ));
        }
        _ => {}
    }
    let counting = schema.fields().len() > fields.len();
    let converter = Arc::new(RowConverter::new(fields)?);
    let hasher = hashbrown::DefaultHashBuilder::default();
    let streams = input.properties().output_partitioning().partition_count();
    let tasks: Vec<SpawnedTask<Result<parts::Read<Bucket>>>> = (0..streams)
        .map(|partition| {
            let mut stream = input.execute(partition, Arc::clone(&context))?;
            let converter = Arc::clone(&converter);
            let mut worker = Worker {
                buckets: (0..PARTS).map(|_| Bucket::default()).collect(),
                front: Some(Front::default()),
                rule,
                counting,
                seen: 0,
                hits: 0,
                hasher: hasher.clone(),
                reservation: MemoryConsumer::new(format!("DistinctRows[{partition}]"))
                    .register(context.memory_pool()),
                hashes: Vec::new(),
            };
            Ok(SpawnedTask::spawn(async move {
                let mut rows = converter.empty_rows(0, 0);
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    rows.clear();
                    converter.append(&mut rows, batch.columns())?;
                    worker.add(&rows)?;
                    if worker.reservation.try_resize(worker.size()).is_err() {
                        return Ok(None);
                    }
                }
                worker.finish_front()?;
                Ok(Some((worker.buckets, worker.reservation)))
            }))
        })
        .collect::<Result<_>>()?;
    let Some((by_part, reservations)) = parts::gather(tasks).await? else {
        return Ok(None);
    };
    // Each part's rows folded, and answered in batches.
    let answer_schema = Arc::clone(schema);
    let batches = parts::fold_parts(by_part, schema, &context, move |buckets, batch_size| {
        let entries: Vec<Entry<'_>> = buckets
            .iter()
            .flat_map(|b| b.entries(counting, &hasher))
            .collect();
        let (firsts, totals) = fold(&entries)?;
        let distinct: Vec<Entry<'_>> = firsts
            .iter()
            .zip(totals)
            .map(|(&e, count)| Entry {
                count,
                ..entries[e as usize]
            })
            .collect();
        (distinct.chunks(batch_size))
            .map(|rows| answer_batch(&converter, &answer_schema, rows))
            .collect()
    })
    .await?;
    drop(reservations);
    Ok(Some(batches))
}

/// `rows` as a batch of `schema`: the keys decoded, then their counts.
fn answer_batch(
    converter: &RowConverter,
    schema: &SchemaRef,
    rows: &[Entry<'_>],
) -> Result<RecordBatch> {
    let parser = converter.parser();
    let keys = converter.convert_rows(rows.iter().map(|e| parser.parse(e.row)))?;
    let count: ArrayRef = Arc::new(Int64Array::from_iter_values(
        rows.iter()
            .map(|e| i64::try_from(e.count).unwrap_or(i64::MAX)),
    ));
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let array = keys.get(i).unwrap_or(&count);
            if array.data_type() == field.data_type() {
                Ok(Arc::clone(array))
            } else {
                Ok(cast(array, field.data_type())?)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries_of<'a>(rows: &[&'a [u8]], hasher: &hashbrown::DefaultHashBuilder) -> Vec<Entry<'a>> {
        rows.iter()
            .map(|&row| Entry {
                hash: hasher.hash_one(row),
                row,
                count: 1,
            })
            .collect()
    }

    #[test]
    fn folding_counts_equal_rows_once() {
        let hasher = hashbrown::DefaultHashBuilder::default();
        let rows: [&[u8]; 5] = [b"a", b"bb", b"a", b"", b"bb"];
        let entries = entries_of(&rows, &hasher);
        let (firsts, totals) = fold(&entries).unwrap();
        assert_eq!(firsts, [0, 1, 3]);
        assert_eq!(totals, [2, 2, 1]);
    }

    #[test]
    fn a_bucket_gives_back_what_it_took_across_blocks() {
        let mut bucket = Bucket::default();
        let long = vec![7u8; 5000];
        let (below, at) = (vec![1u8; 254], vec![2u8; 255]);
        let rows: Vec<&[u8]> = vec![b"x", &long, b"", &below, b"yz", &at, &long];
        for (i, row) in rows.iter().enumerate() {
            bucket.push(row, Some(10 + i as u64)).unwrap();
        }
        assert!(bucket.blocks.len() > 1);
        let allocated: usize = bucket.blocks.iter().map(Vec::capacity).sum();
        assert_eq!(
            bucket.held, allocated,
            "the bytes held are the blocks' capacities"
        );
        let hasher = hashbrown::DefaultHashBuilder::default();
        let back: Vec<(u64, Vec<u8>, u64)> = bucket
            .entries(true, &hasher)
            .map(|e| (e.hash, e.row.to_vec(), e.count))
            .collect();
        let expected: Vec<(u64, Vec<u8>, u64)> = rows
            .iter()
            .enumerate()
            .map(|(i, row)| (hasher.hash_one(row), row.to_vec(), 10 + i as u64))
            .collect();
        assert_eq!(back, expected);
    }

    type Counted = std::collections::BTreeMap<(Option<i64>, Option<String>), i64>;

    /// Rows of (an integer, a text) with nulls, in `partitions` streams of batches, and what a
    /// plain map says their distinct rows and counts are.
    fn input_of(
        rows: &[(Option<i64>, Option<u8>)],
        partitions: usize,
        batch: usize,
    ) -> (Arc<dyn ExecutionPlan>, Counted) {
        use arrow::array::StringArray;
        use arrow::datatypes::{DataType, Field, Schema};
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let text = |t: Option<u8>| t.map(|t| format!("s{}", "x".repeat(t as usize)));
        let mut expected = std::collections::BTreeMap::new();
        let mut streams: Vec<Vec<RecordBatch>> = vec![Vec::new(); partitions];
        for (c, chunk) in rows.chunks(batch.max(1)).enumerate() {
            for &(k, t) in chunk {
                *expected.entry((k, text(t))).or_insert(0) += 1;
            }
            let keys = Int64Array::from_iter(chunk.iter().map(|r| r.0));
            let texts: StringArray = chunk.iter().map(|r| text(r.1)).collect();
            let batch =
                RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(keys), Arc::new(texts)])
                    .unwrap();
            streams[c % partitions].push(batch);
        }
        let exec = datafusion::datasource::memory::MemorySourceConfig::try_new_exec(
            &streams, schema, None,
        )
        .unwrap();
        (exec, expected)
    }

    #[test]
    fn a_refused_reservation_hands_the_aggregation_back() {
        use arrow::datatypes::{DataType, Field, Schema};
        let rows: Vec<(Option<i64>, Option<u8>)> = (0..5_000).map(|i| (Some(i), None)).collect();
        let (input, _) = input_of(&rows, 2, 100);
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
            .with_memory_limit(64 << 10, 1.0)
            .build_arc()
            .unwrap();
        let context = Arc::new(TaskContext::default().with_runtime(runtime));
        let answer = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(distinct_rows(input, &schema, context))
            .unwrap();
        assert!(answer.is_none());
    }

    proptest::proptest! {
        /// Whatever the streams, batches and front table do, the answer is each distinct row
        /// once with the number of rows equal to it.
        #[test]
        fn distinct_rows_count_as_a_map_does(
            rows in proptest::collection::vec(
                (proptest::option::of(0i64..40), proptest::option::of(0u8..40)),
                0..400,
            ),
            partitions in 1usize..4,
            batch in 1usize..70,
            front_rows in 1usize..20,
            probe in 0usize..300,
            hits in 1usize..4,
            counting: bool,
        ) {
            use arrow::array::{Array, AsArray};
            use arrow::datatypes::{DataType, Field, Schema};
            let (input, expected) = input_of(&rows, partitions, batch);
            let mut fields = vec![
                Field::new("k", DataType::Int64, true),
                Field::new("s", DataType::Utf8, true),
            ];
            if counting {
                fields.push(Field::new("n", DataType::Int64, false));
            }
            let schema = Arc::new(Schema::new(fields));
            let context = Arc::new(TaskContext::default());
            let rule = FrontRule { rows: front_rows, probe, hits };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .unwrap();
            let batches = runtime
                .block_on(distinct_rows_by(input, &schema, context, rule, Answer::Rows))
                .unwrap()
                .expect("no memory limit");
            let mut found = std::collections::BTreeMap::new();
            for batch in &batches {
                proptest::prop_assert_eq!(batch.schema(), Arc::clone(&schema));
                let keys = batch.column(0).as_primitive::<arrow::datatypes::Int64Type>();
                let texts = batch.column(1).as_string::<i32>();
                for i in 0..batch.num_rows() {
                    let key = (
                        keys.is_valid(i).then(|| keys.value(i)),
                        texts.is_valid(i).then(|| texts.value(i).to_string()),
                    );
                    let count = if counting {
                        batch.column(2).as_primitive::<arrow::datatypes::Int64Type>().value(i)
                    } else {
                        expected.get(&key).copied().unwrap_or(0)
                    };
                    proptest::prop_assert!(found.insert(key, count).is_none(), "a row twice");
                }
            }
            proptest::prop_assert_eq!(found, expected);
        }
    }
}
