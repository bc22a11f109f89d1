//! What the distinct rows' two ways of holding keys (row format, packed words) share: the
//! parts rows are filed in by hash, and when the table in front of them pays.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::BatchCoalescer;
use arrow::datatypes::SchemaRef;
use datafusion::common::DataFusionError;
use datafusion::common::runtime::SpawnedTask;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::MemoryReservation;

/// Buckets per worker, chosen by bits of the hash that the tables do not use (hashbrown takes
/// the low bits for the slot and the top seven for the tag).
pub(super) const PARTS: usize = 256;

pub(super) fn part_of(hash: u64) -> usize {
    (hash >> 48) as usize % PARTS
}

/// When the table in front of a worker's buckets empties, and whether it stays.
#[derive(Debug, Clone, Copy)]
pub(super) struct FrontRule {
    /// Rows it holds before it empties into the buckets (it fits in the cache).
    pub rows: usize,
    /// Rows a worker sees before it decides whether the table pays: it stays if at least a
    /// `hits`th of them were repeats it folded.
    pub probe: usize,
    pub hits: usize,
}

pub(super) const FRONT: FrontRule = FrontRule {
    rows: 16 << 10,
    probe: 1 << 20,
    hits: 10,
};

/// A reader's parts (indexed by part) and the memory reserved for them; `None` where the memory
/// pool refused it.
pub(super) type Read<P> = Option<(Vec<P>, MemoryReservation)>;

/// Each part's shares from every reader, and the readers' reservations (held until the parts
/// are folded); `None` if any reader was refused.
pub(super) async fn gather<P: Send + 'static>(
    readers: Vec<SpawnedTask<Result<Read<P>>>>,
) -> Result<Option<(Vec<Vec<P>>, Vec<MemoryReservation>)>> {
    let mut by_part: Vec<Vec<P>> = (0..PARTS).map(|_| Vec::new()).collect();
    let mut reservations = Vec::new();
    for reader in readers {
        let read = reader
            .join_unwind()
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))??;
        let Some((parts, reservation)) = read else {
            return Ok(None);
        };
        for (p, share) in parts.into_iter().enumerate() {
            by_part[p].push(share);
        }
        reservations.push(reservation);
    }
    Ok(Some((by_part, reservations)))
}

/// Every part folded by `fold` (into batches of `schema`, given the batch size), the parts
/// dealt to one blocking task per target partition, and the answer coalesced into batches of
/// the batch size.
pub(super) async fn fold_parts<P, F>(
    by_part: Vec<P>,
    schema: &SchemaRef,
    context: &TaskContext,
    fold: F,
) -> Result<Vec<RecordBatch>>
where
    P: Send + 'static,
    F: Fn(P, usize) -> Result<Vec<RecordBatch>> + Send + Sync + 'static,
{
    let threads = context.session_config().target_partitions().max(1);
    let batch_size = context.session_config().batch_size().max(1);
    let mut shares: Vec<Vec<P>> = (0..threads).map(|_| Vec::new()).collect();
    for (p, part) in by_part.into_iter().enumerate() {
        shares[p % threads].push(part);
    }
    let fold = Arc::new(fold);
    let folding: Vec<SpawnedTask<Result<Vec<RecordBatch>>>> = shares
        .into_iter()
        .map(|share| {
            let schema = Arc::clone(schema);
            let fold = Arc::clone(&fold);
            SpawnedTask::spawn_blocking(move || {
                let mut answer = BatchCoalescer::new(schema, batch_size);
                let mut batches = Vec::new();
                for part in share {
                    for batch in fold(part, batch_size)? {
                        answer.push_batch(batch)?;
                        while let Some(batch) = answer.next_completed_batch() {
                            batches.push(batch);
                        }
                    }
                }
                answer.finish_buffered_batch()?;
                while let Some(batch) = answer.next_completed_batch() {
                    batches.push(batch);
                }
                Ok(batches)
            })
        })
        .collect();
    let mut batches = Vec::new();
    for task in folding {
        batches.extend(
            task.join_unwind()
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))??,
        );
    }
    Ok(batches)
}
