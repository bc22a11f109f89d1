//! Distinct rows of fixed-width keys (integers, dates, timestamps: users and listings, days),
//! packed into words instead of arrow's row format: a key is compared and hashed as a few
//! integers, a bucket holds keys of one size (no lengths to parse), and the answer's columns
//! are the words unpacked (no rows to decode).
//!
//! Each key column takes one word, its value as an `i64`; where a key column may be NULL, a
//! last word holds a bit per column, set where it is NULL (its value word then 0), so a NULL
//! equals a NULL and nothing else. The parts, the table in front of them and the folding are
//! those of [`super`].

use std::hash::BuildHasher;
use std::mem::size_of;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch};
use arrow::buffer::{NullBuffer, ScalarBuffer};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, Schema, SchemaRef};
use datafusion::common::DataFusionError;
use datafusion::common::runtime::SpawnedTask;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::physical_plan::ExecutionPlan;
use futures::StreamExt;
use hashbrown::HashTable;

use super::parts::{self, FrontRule, PARTS, part_of};

/// The most words a key takes here (more columns take the row format).
const MAX_WORDS: usize = 4;

/// The words a key of `schema`'s columns takes, if they are all fixed-width and few enough:
/// one per column, and one for their NULLs where any may be NULL.
pub(super) fn words(schema: &Schema) -> Option<usize> {
    let fields = schema.fields();
    if fields.is_empty() || !fields.iter().all(|f| packs(f.data_type())) {
        return None;
    }
    let nullable = fields.iter().any(|f| f.is_nullable());
    let words = fields.len() + usize::from(nullable);
    (words <= MAX_WORDS).then_some(words)
}

/// Whether a column of `ty` goes to an `i64` and back unchanged (arrow's casts, both ways).
fn packs(ty: &DataType) -> bool {
    use DataType::*;
    matches!(
        ty,
        Int8 | Int16
            | Int32
            | Int64
            | UInt8
            | UInt16
            | UInt32
            | Date32
            | Date64
            | Timestamp(_, _)
            | Time32(_)
            | Time64(_)
            | Duration(_)
    )
}

/// A key: the columns' values, then (where they may be NULL) their NULL bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key<const W: usize>([u64; W]);

impl<const W: usize> std::hash::Hash for Key<W> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for &word in &self.0 {
            state.write_u64(word);
        }
    }
}

/// How a batch's key columns become keys, and keys an answer's columns.
#[derive(Debug, Clone, Copy)]
struct Packing {
    /// The word of the NULL bits, if any column may be NULL.
    nulls: Option<usize>,
}

impl Packing {
    fn pack<const W: usize>(&self, batch: &RecordBatch, keys: &mut Vec<Key<W>>) -> Result<()> {
        let rows = batch.num_rows();
        keys.clear();
        keys.resize(rows, Key([0; W]));
        for (c, column) in batch.columns().iter().enumerate() {
            let values = cast(column, &DataType::Int64)?;
            let values = values.as_primitive::<Int64Type>();
            for (key, &value) in keys.iter_mut().zip(values.values().iter()) {
                key.0[c] = value as u64;
            }
            let Some(nulls) = values.nulls().filter(|n| n.null_count() > 0) else {
                continue;
            };
            let Some(word) = self.nulls else {
                return Err(DataFusionError::Internal(format!(
                    "a NULL in key column {c}, declared not NULL"
                )));
            };
            for i in nulls.iter().enumerate().filter(|(_, v)| !v).map(|(i, _)| i) {
                keys[i].0[c] = 0;
                keys[i].0[word] |= 1 << c;
            }
        }
        Ok(())
    }

    /// `key` with only its first `columns` columns (the others 0, and not NULL).
    fn prefix<const W: usize>(&self, key: Key<W>, columns: usize) -> Key<W> {
        let mut prefix = Key([0; W]);
        prefix.0[..columns].copy_from_slice(&key.0[..columns]);
        if let Some(word) = self.nulls {
            prefix.0[word] = key.0[word] & ((1 << columns) - 1);
        }
        prefix
    }

    /// Whether the column `c` of `key` is NULL.
    fn is_null<const W: usize>(&self, key: &Key<W>, c: usize) -> bool {
        self.nulls.is_some_and(|word| key.0[word] & (1 << c) != 0)
    }

    /// The first `columns` key columns of `keys`, cast to the first of `schema`'s fields.
    fn unpack<const W: usize>(
        &self,
        keys: &[(Key<W>, u64)],
        columns: usize,
        schema: &SchemaRef,
    ) -> Result<Vec<ArrayRef>> {
        (0..columns)
            .map(|c| {
                let values: ScalarBuffer<i64> = keys.iter().map(|(k, _)| k.0[c] as i64).collect();
                let nulls = self.nulls.map(|word| {
                    NullBuffer::from_iter(keys.iter().map(|(k, _)| k.0[word] & (1 << c) == 0))
                });
                let array: ArrayRef = Arc::new(Int64Array::new(values, nulls));
                let ty = schema.field(c).data_type();
                Ok(if ty == &DataType::Int64 {
                    array
                } else {
                    cast(&array, ty)?
                })
            })
            .collect()
    }
}

/// The table in front of a worker's parts: keys with their counts.
type Front<const W: usize> = HashTable<(Key<W>, u64)>;

/// One worker: each part's keys and counts, and the table in front while it pays.
struct Worker<const W: usize> {
    keys: Vec<Chunked<Key<W>>>,
    /// Each part's counts, parallel to its keys, where the answer counts.
    counts: Option<Vec<Chunked<u64>>>,
    front: Option<Front<W>>,
    /// Where parts are chosen by the first columns only: how many (see [`Answer`]).
    parted_by: Option<usize>,
    packing: Packing,
    rule: FrontRule,
    seen: usize,
    hits: usize,
    hasher: hashbrown::DefaultHashBuilder,
    reservation: MemoryReservation,
    batch: Vec<Key<W>>,
}

impl<const W: usize> Worker<W> {
    /// Files `key` (hashed to `hash`) in its part.
    fn push(&mut self, hash: u64, key: Key<W>, count: u64) {
        let hash = match self.parted_by {
            Some(columns) => self.hasher.hash_one(self.packing.prefix(key, columns)),
            None => hash,
        };
        let part = part_of(hash);
        self.keys[part].push(key);
        if let Some(counts) = &mut self.counts {
            counts[part].push(count);
        }
    }

    fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut keys = std::mem::take(&mut self.batch);
        self.packing.pack(batch, &mut keys)?;
        match self.front.take() {
            None => {
                for &key in &keys {
                    self.push(self.hasher.hash_one(key), key, 1);
                }
            }
            Some(mut front) => {
                for &key in &keys {
                    let hash = self.hasher.hash_one(key);
                    if let Some(found) = front.find_mut(hash, |e| e.0 == key) {
                        found.1 += 1;
                        self.hits += 1;
                        continue;
                    }
                    if front.len() == self.rule.rows {
                        self.empty(&mut front);
                    }
                    let hasher = &self.hasher;
                    front.insert_unique(hash, (key, 1), |e| hasher.hash_one(e.0));
                }
                self.front = Some(front);
                if self.seen < self.rule.probe {
                    self.seen += keys.len();
                    if self.seen >= self.rule.probe && self.hits * self.rule.hits < self.seen {
                        self.finish_front();
                    }
                }
            }
        }
        self.batch = keys;
        Ok(())
    }

    fn empty(&mut self, front: &mut Front<W>) {
        for (key, count) in front.drain() {
            self.push(self.hasher.hash_one(key), key, count);
        }
    }

    fn finish_front(&mut self) {
        if let Some(mut front) = self.front.take() {
            self.empty(&mut front);
        }
    }

    /// Each part's keys and counts, and the memory reserved for them.
    fn into_parts(self) -> (Vec<Share<W>>, MemoryReservation) {
        let mut counts = self.counts.map(Vec::into_iter);
        let parts = (self.keys.into_iter())
            .map(|keys| (keys, counts.as_mut().and_then(Iterator::next)))
            .collect();
        (parts, self.reservation)
    }

    fn size(&self) -> usize {
        let keys: usize = self.keys.iter().map(Chunked::capacity).sum();
        let counts: usize = (self.counts.iter().flatten()).map(Chunked::capacity).sum();
        let front = self.front.as_ref().map_or(0, |f| f.capacity() + 1);
        (keys + self.batch.capacity()) * size_of::<Key<W>>()
            + counts * size_of::<u64>()
            + front * (size_of::<(Key<W>, u64)>() + 1)
    }
}

/// A worker's keys of one part, and their counts where the answer counts.
type Share<const W: usize> = (Chunked<Key<W>>, Option<Chunked<u64>>);

/// Values appended in chunks that stay where they are written: a vector that doubles copies
/// what it held and touches twice the memory, page faults included. The first chunks are
/// small, for small answers.
#[derive(Debug)]
struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Chunked<T> {
    /// Values in the first chunk; each next one doubles, up to 128 times this.
    const FIRST: usize = 64;

    fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < chunk.capacity() => chunk.push(value),
            _ => {
                let mut chunk = Vec::with_capacity(Self::FIRST << self.chunks.len().min(7));
                chunk.push(value);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    fn len(&self) -> usize {
        self.len
    }

    fn capacity(&self) -> usize {
        self.chunks.iter().map(Vec::capacity).sum()
    }

    fn into_values(self) -> impl Iterator<Item = T> {
        self.chunks.into_iter().flatten()
    }
}

/// The distinct rows of `input`'s columns (fixed-width keys of `W` words, see [`words`]) as
/// [`super::distinct_rows`] answers them (`answer`: what of them).
pub(super) async fn distinct_rows<const W: usize>(
    input: Arc<dyn ExecutionPlan>,
    schema: &SchemaRef,
    context: Arc<TaskContext>,
    rule: FrontRule,
    answer: Answer,
) -> Result<Option<Vec<RecordBatch>>> {
    let columns = input.schema().fields().len();
    let nullable = input.schema().fields().iter().any(|f| f.is_nullable());
    let packing = Packing {
        nulls: nullable.then_some(columns),
    };
    if columns + usize::from(nullable) != W {
        return Err(DataFusionError::Internal(format!(
            "{columns} key columns packed into {W} words"
        )));
    }
    // The columns answered, and whether a count follows them.
    let (shown, parted_by, counting) = match answer {
        Answer::Rows => (columns, None, schema.fields().len() > columns),
        Answer::DistinctOfLast => (columns - 1, Some(columns - 1), false),
    };
    if shown == 0 && parted_by.is_some() {
        return Err(DataFusionError::Internal(
            "distinct values of the last key per the others, without others".into(),
        ));
    }
    let hasher = hashbrown::DefaultHashBuilder::default();
    let streams = input.properties().output_partitioning().partition_count();
    let tasks: Vec<SpawnedTask<Result<parts::Read<Share<W>>>>> = (0..streams)
        .map(|partition| {
            let mut stream = input.execute(partition, Arc::clone(&context))?;
            let mut worker = Worker::<W> {
                keys: (0..PARTS).map(|_| Chunked::default()).collect(),
                counts: counting.then(|| (0..PARTS).map(|_| Chunked::default()).collect()),
                front: Some(HashTable::with_capacity(rule.rows)),
                parted_by,
                packing,
                rule,
                seen: 0,
                hits: 0,
                hasher: hasher.clone(),
                reservation: MemoryConsumer::new(format!("DistinctRows[{partition}]"))
                    .register(context.memory_pool()),
                batch: Vec::new(),
            };
            Ok(SpawnedTask::spawn(async move {
                while let Some(batch) = stream.next().await {
                    worker.add(&batch?)?;
                    if worker.reservation.try_resize(worker.size()).is_err() {
                        return Ok(None);
                    }
                }
                worker.finish_front();
                Ok(Some(worker.into_parts()))
            }))
        })
        .collect::<Result<_>>()?;
    let Some((by_part, reservations)) = parts::gather(tasks).await? else {
        return Ok(None);
    };
    // Each part's keys folded (and counted per prefix), and answered in batches.
    let answer_schema = Arc::clone(schema);
    let batches = parts::fold_parts(by_part, schema, &context, move |part, batch_size| {
        let mut distinct = fold(part, &hasher)?;
        if let Some(columns) = parted_by {
            distinct = per_prefix(&distinct, &packing, columns, &hasher)?;
        }
        (distinct.chunks(batch_size))
            .map(|rows| {
                let mut columns = packing.unpack(rows, shown, &answer_schema)?;
                if counting || parted_by.is_some() {
                    let counts = (rows.iter()).map(|&(_, n)| i64::try_from(n).unwrap_or(i64::MAX));
                    let counts: ArrayRef = Arc::new(Int64Array::from_iter_values(counts));
                    for field in &answer_schema.fields()[columns.len()..] {
                        columns.push(if field.data_type() == &DataType::Int64 {
                            Arc::clone(&counts)
                        } else {
                            cast(&counts, field.data_type())?
                        });
                    }
                }
                Ok(RecordBatch::try_new(Arc::clone(&answer_schema), columns)?)
            })
            .collect()
    })
    .await?;
    drop(reservations);
    Ok(Some(batches))
}

/// What is answered of the distinct rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The rows, and their counts where the answer has more columns than the input.
    Rows,
    /// For each value of all columns but the last, how many distinct non-NULL values of the
    /// last it has (`count(DISTINCT x) … GROUP BY` the others): parts are chosen by the others,
    /// so each of their values is counted in one part.
    DistinctOfLast,
}

/// Of distinct `keys`, each value of their first `columns` columns with how many of them have
/// it and a non-NULL last column (the one after them).
fn per_prefix<const W: usize>(
    keys: &[(Key<W>, u64)],
    packing: &Packing,
    columns: usize,
    hasher: &hashbrown::DefaultHashBuilder,
) -> Result<Vec<(Key<W>, u64)>> {
    let counted = keys.iter().map(|(key, _)| {
        let last = u64::from(!packing.is_null(key, columns));
        (packing.prefix(*key, columns), last)
    });
    fold_counts(counted, keys.len(), hasher)
}

/// One part's distinct keys, each with the total of its counts (1 per key where there are
/// none), in the order they first appear.
fn fold<const W: usize>(
    part: Vec<Share<W>>,
    hasher: &hashbrown::DefaultHashBuilder,
) -> Result<Vec<(Key<W>, u64)>> {
    let entries: usize = part.iter().map(|(keys, _)| keys.len()).sum();
    let counted = part.into_iter().flat_map(|(keys, counts)| {
        let counts = (counts.into_iter())
            .flat_map(Chunked::into_values)
            .chain(std::iter::repeat(1));
        keys.into_values().zip(counts)
    });
    fold_counts(counted, entries, hasher)
}

/// The distinct keys of `counted` (at most `entries` of them), each with the total of its
/// counts, in the order they first appear: one table, sized for them all.
fn fold_counts<const W: usize>(
    counted: impl Iterator<Item = (Key<W>, u64)>,
    entries: usize,
    hasher: &hashbrown::DefaultHashBuilder,
) -> Result<Vec<(Key<W>, u64)>> {
    let mut slots: HashTable<u32> = HashTable::with_capacity(entries);
    let mut distinct: Vec<(Key<W>, u64)> = Vec::with_capacity(entries);
    for (key, count) in counted {
        let hash = hasher.hash_one(key);
        match slots.find(hash, |&j| distinct[j as usize].0 == key) {
            Some(&j) => distinct[j as usize].1 += count,
            None => {
                let j = u32::try_from(distinct.len()).map_err(|_| {
                    DataFusionError::ResourcesExhausted(
                        "more than 2^32 distinct rows in one part of a hash aggregation".into(),
                    )
                })?;
                distinct.push((key, count));
                slots.insert_unique(hash, j, |&j| hasher.hash_one(distinct[j as usize].0));
            }
        }
    }
    Ok(distinct)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Date32Array, Int32Array};
    use arrow::datatypes::Field;

    #[test]
    fn keys_pack_when_fixed_width_and_few() {
        let schema = |fields: Vec<Field>| Schema::new(fields);
        let int = |name: &str, nullable| Field::new(name, DataType::Int64, nullable);
        assert_eq!(
            words(&schema(vec![int("a", false), int("b", false)])),
            Some(2)
        );
        assert_eq!(
            words(&schema(vec![int("a", true), int("b", false)])),
            Some(3)
        );
        let four = vec![
            int("a", true),
            int("b", true),
            int("c", true),
            int("d", true),
        ];
        assert_eq!(words(&schema(four)), None);
        let text = vec![int("a", false), Field::new("s", DataType::Utf8, false)];
        assert_eq!(words(&schema(text)), None);
        // A u64 may not fit an i64.
        assert_eq!(
            words(&schema(vec![Field::new("u", DataType::UInt64, false)])),
            None
        );
        assert_eq!(words(&schema(vec![])), None);
    }

    type Row = (Option<i64>, i32, Option<i32>);

    #[test]
    fn chunks_give_back_what_they_took_in_order() {
        let mut chunked = Chunked::default();
        for i in 0..20_000u64 {
            chunked.push(i);
        }
        assert_eq!(chunked.len(), 20_000);
        assert!(chunked.chunks.len() > 2, "{} chunks", chunked.chunks.len());
        assert!(chunked.capacity() >= chunked.len());
        assert!(
            chunked
                .chunks
                .iter()
                .all(|c| c.capacity() <= Chunked::<u64>::FIRST << 7)
        );
        assert!(chunked.into_values().eq(0..20_000));
    }

    #[test]
    fn a_refused_reservation_hands_the_aggregation_back() {
        use datafusion::execution::runtime_env::RuntimeEnvBuilder;
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Int32, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from_iter_values(0..20_000)),
                Arc::new(Int32Array::from_iter_values(0..20_000)),
            ],
        )
        .unwrap();
        let input = datafusion::datasource::memory::MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            Arc::clone(&schema),
            None,
        )
        .unwrap();
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(64 << 10, 1.0)
            .build_arc()
            .unwrap();
        let context = Arc::new(TaskContext::default().with_runtime(runtime));
        let answer = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(super::super::distinct_rows(input, &schema, context))
            .unwrap();
        assert!(answer.is_none());
    }

    proptest::proptest! {
        /// Whatever the columns' NULLs, the streams, batches and front table do, the answer is
        /// each distinct key once with the number of rows equal to it, typed as asked.
        #[test]
        fn packed_keys_count_as_a_map_does(
            rows in proptest::collection::vec(
                (
                    proptest::option::of(proptest::prop_oneof![
                        -3i64..3,
                        proptest::strategy::Just(i64::MIN),
                        proptest::strategy::Just(i64::MAX),
                    ]),
                    -2i32..2,
                    proptest::option::of(0i32..3),
                ),
                0..300,
            ),
            columns in 1usize..4,
            nullable: bool,
            partitions in 1usize..4,
            batch in 1usize..50,
            front_rows in 1usize..20,
            probe in 0usize..200,
            counting: bool,
            of_last: bool,
        ) {
            // Distinct values of the last column per the others, where there are others.
            let of_last = of_last && columns > 1;
            use std::collections::BTreeMap;
            // Without NULLs where the columns are declared not NULL.
            let rows: Vec<Row> = rows
                .into_iter()
                .map(|(a, b, c)| if nullable { (a, b, c) } else { (Some(a.unwrap_or(7)), b, Some(c.unwrap_or(1))) })
                .collect();
            let all = [
                Field::new("a", DataType::Int64, nullable),
                Field::new("b", DataType::Int32, false),
                Field::new("c", DataType::Date32, nullable),
            ];
            let key_fields: Vec<Field> = all[..columns].to_vec();
            let input_schema = Arc::new(Schema::new(key_fields.clone()));
            let key = |r: &Row| {
                let all = [r.0, Some(i64::from(r.1)), r.2.map(i64::from)];
                all[..columns].to_vec()
            };
            let mut expected: BTreeMap<Vec<Option<i64>>, i64> = BTreeMap::new();
            let mut streams: Vec<Vec<RecordBatch>> = vec![Vec::new(); partitions];
            for (i, chunk) in rows.chunks(batch).enumerate() {
                for row in chunk {
                    *expected.entry(key(row)).or_insert(0) += 1;
                }
                let arrays: Vec<ArrayRef> = vec![
                    Arc::new(chunk.iter().map(|r| r.0).collect::<Int64Array>()),
                    Arc::new(Int32Array::from_iter_values(chunk.iter().map(|r| r.1))),
                    Arc::new(chunk.iter().map(|r| r.2).collect::<Date32Array>()),
                ];
                let batch = RecordBatch::try_new(
                    Arc::clone(&input_schema),
                    arrays[..columns].to_vec(),
                )
                .unwrap();
                streams[i % partitions].push(batch);
            }
            let input = datafusion::datasource::memory::MemorySourceConfig::try_new_exec(
                &streams,
                Arc::clone(&input_schema),
                None,
            )
            .unwrap();
            let mut fields = key_fields;
            if of_last {
                // Each value of the others with its distinct non-NULL last values.
                let mut per: BTreeMap<Vec<Option<i64>>, i64> = BTreeMap::new();
                for key in expected.keys() {
                    let (last, others) = key.split_last().unwrap();
                    *per.entry(others.to_vec()).or_insert(0) += i64::from(last.is_some());
                }
                expected = per;
                fields.pop();
                fields.push(Field::new("n", DataType::Int64, false));
            } else if counting {
                fields.push(Field::new("n", DataType::Int64, false));
            }
            let (columns, counting) = if of_last {
                (columns - 1, true)
            } else {
                (columns, counting)
            };
            let answer = if of_last { Answer::DistinctOfLast } else { Answer::Rows };
            let schema = Arc::new(Schema::new(fields));
            let rule = FrontRule { rows: front_rows, probe, hits: 2 };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .unwrap();
            let batches = runtime
                .block_on(super::super::distinct_rows_by(
                    input,
                    &schema,
                    Arc::new(TaskContext::default()),
                    rule,
                    answer,
                ))
                .unwrap()
                .expect("no memory limit");
            let mut found = BTreeMap::new();
            for batch in &batches {
                proptest::prop_assert_eq!(batch.schema(), Arc::clone(&schema));
                for i in 0..batch.num_rows() {
                    let key: Vec<Option<i64>> = (0..columns)
                        .map(|c| {
                            let column = cast(batch.column(c), &DataType::Int64).unwrap();
                            let column = column.as_primitive::<Int64Type>();
                            column.is_valid(i).then(|| column.value(i))
                        })
                        .collect();
                    let count = if counting {
                        batch.column(columns).as_primitive::<Int64Type>().value(i)
                    } else {
                        expected.get(&key).copied().unwrap_or(0)
                    };
                    proptest::prop_assert!(found.insert(key, count).is_none(), "a key twice");
                }
            }
            proptest::prop_assert_eq!(found, expected);
        }
    }
}
