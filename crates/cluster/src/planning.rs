//! How a catalog table's scan is split across workers: its chosen files (pruning happened once,
//! on the coordinator) dealt out by size, each task's share with its part of the scan limit.

use std::sync::Arc;

use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig};
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::config::SessionConfig;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use datafusion_distributed::{
    DesiredTaskCountEvent, DesiredTaskCountEventResponse, DistributedLeafExec,
    ScaleUpLeafNodeEvent, ScaleUpLeafNodeEventResponse,
};
use minerva_engine::QueryStats;
use minerva_engine::plans::{DensePart, DenseSpec, NamedScan, dense_partial_with_files};
use minerva_store::ScanLimit;

use crate::share::{Assignment, ScanShareExec};

/// A catalog table's scan (or a dense aggregation's partial) runs on as many workers as it has
/// files (the planner caps this at the workers there are), and on two tasks at least:
/// datafusion-distributed runs a stage of one task where its consumer is, and the coordinator
/// must not read the store for its workers.
pub(crate) fn desired_tasks(
    event: DesiredTaskCountEvent,
) -> Option<DFResult<DesiredTaskCountEventResponse>> {
    let files = match NamedScan::of(event.plan.as_ref()) {
        Some(scan) => scan.scan.file_groups.iter().map(FileGroup::len).sum(),
        None => dense_partial_files(event.plan.as_ref())?.len(),
    };
    Some(Ok(DesiredTaskCountEventResponse::desired(files.max(2))))
}

/// The files of a dense aggregation's partial, if `plan` is one.
fn dense_partial_files(plan: &dyn ExecutionPlan) -> Option<Vec<PartitionedFile>> {
    match DenseSpec::of(plan)? {
        (DensePart::Partial, spec) => Some(spec.files),
        (DensePart::Merge, _) => None,
    }
}

/// Splits a catalog table's scan (or a dense aggregation's partial) into one share per task.
pub(crate) fn split_scan(
    event: ScaleUpLeafNodeEvent,
) -> Option<DFResult<ScaleUpLeafNodeEventResponse>> {
    let original = event.plan;
    let (tasks, config) = (event.task_count, event.session_config);
    Some(match NamedScan::of(original.as_ref()) {
        Some(scan) => {
            let partitions = original.output_partitioning().partition_count();
            let files = (scan.scan.file_groups.iter())
                .flat_map(|g| g.iter().cloned())
                .collect();
            split(files, original, tasks, config, |files| {
                let mut config: FileScanConfig = scan.scan.clone();
                config.file_groups = groups(files, partitions);
                Ok(NamedScan {
                    scan: config,
                    table: scan.table.clone(),
                    strict_types: scan.strict_types,
                }
                .into_plan())
            })
        }
        // Each share a partial of its own files, whose groups' states the coordinator's merge
        // absorbs.
        None => split(
            dense_partial_files(original.as_ref())?,
            original,
            tasks,
            config,
            |files| {
                dense_partial_with_files(original.as_ref(), files).ok_or_else(|| {
                    DataFusionError::Internal("a dense partial did not split".to_string())
                })
            },
        ),
    })
}

/// Deals `files` to `tasks` shares, each reading its files through `input` with its part of the
/// scan limit, as the variants of the distributed leaf `original`.
fn split(
    files: Vec<PartitionedFile>,
    original: &Arc<dyn ExecutionPlan>,
    tasks: usize,
    config: &SessionConfig,
    input: impl Fn(Vec<PartitionedFile>) -> DFResult<Arc<dyn ExecutionPlan>>,
) -> DFResult<ScaleUpLeafNodeEventResponse> {
    let shares = deal(files, tasks.max(1));
    let budgets = budgets(config, &shares);
    let tasks = shares.len();
    let variants = shares
        .into_iter()
        .zip(budgets)
        .enumerate()
        .map(|(task, (files, budget))| {
            let assignment = Assignment {
                task,
                tasks,
                files: files.iter().map(describe).collect(),
                bytes: files.iter().map(size).sum(),
                budget,
            };
            let share = ScanShareExec::new(input(files)?, assignment);
            Ok(Arc::new(share) as Arc<dyn ExecutionPlan>)
        })
        .collect::<DFResult<Vec<_>>>()?;
    let leaf = DistributedLeafExec::try_new(Arc::clone(original), variants)?;
    Ok(ScaleUpLeafNodeEventResponse::new(Arc::new(leaf)))
}

fn size(file: &PartitionedFile) -> u64 {
    file.effective_size()
}

fn describe(file: &PartitionedFile) -> String {
    match &file.range {
        Some(range) => format!(
            "{} [{}..{}]",
            file.object_meta.location, range.start, range.end
        ),
        None => file.object_meta.location.to_string(),
    }
}

/// Deals `files` to `tasks` shares, largest first to the lightest share, so shares carry
/// nearly equal bytes. Every share is returned, empty ones too (a task with nothing to read).
pub(crate) fn deal(mut files: Vec<PartitionedFile>, tasks: usize) -> Vec<Vec<PartitionedFile>> {
    files.sort_by(|a, b| {
        size(b)
            .cmp(&size(a))
            .then_with(|| a.object_meta.location.cmp(&b.object_meta.location))
    });
    let mut shares: Vec<(u64, Vec<PartitionedFile>)> = vec![(0, Vec::new()); tasks];
    for file in files {
        let lightest = shares
            .iter_mut()
            .min_by_key(|(bytes, _)| *bytes)
            .expect("at least one share");
        lightest.0 += size(&file);
        lightest.1.push(file);
    }
    shares
        .into_iter()
        .map(|(_, mut files)| {
            files.sort_by(|a, b| a.object_meta.location.cmp(&b.object_meta.location));
            files
        })
        .collect()
}

/// A share's files as `partitions` groups (some empty when it has fewer files): every share
/// must have the same partitions.
fn groups(files: Vec<PartitionedFile>, partitions: usize) -> Vec<FileGroup> {
    let partitions = partitions.max(1);
    let mut groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); partitions];
    for (i, file) in files.into_iter().enumerate() {
        groups[i % partitions].push(file);
    }
    groups.into_iter().map(FileGroup::new).collect()
}

/// Each share's part of the query's scan limit: what the coordinator has not read yet, in
/// proportion to the share's bytes among every scan the query chose (so that all shares of all
/// its scans together stay within the limit).
fn budgets(config: &SessionConfig, shares: &[Vec<PartitionedFile>]) -> Vec<Option<ScanLimit>> {
    let Some(stats) = config.get_extension::<QueryStats>() else {
        return vec![None; shares.len()];
    };
    let Some(limit) = stats.scan_limit() else {
        return vec![None; shares.len()];
    };
    let left = limit.bytes.saturating_sub(stats.bytes_read());
    let chosen: u64 = stats.scans().iter().map(|s| s.bytes).sum();
    let share_bytes: Vec<u64> = shares.iter().map(|s| s.iter().map(size).sum()).collect();
    let total = chosen.max(share_bytes.iter().sum()).max(1);
    share_bytes
        .iter()
        .map(|&bytes| {
            let part = u128::from(left) * u128::from(bytes) / u128::from(total);
            Some(ScanLimit {
                bytes: u64::try_from(part).unwrap_or(u64::MAX),
                source: format!("{}, of which this worker's share", limit.source),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, bytes: u64) -> PartitionedFile {
        PartitionedFile::new(name.to_string(), bytes)
    }

    #[test]
    fn dealing_balances_bytes_and_loses_no_file() {
        let files = vec![
            file("a", 100),
            file("b", 60),
            file("c", 50),
            file("d", 40),
            file("e", 10),
        ];
        let shares = deal(files, 2);
        let bytes: Vec<u64> = shares.iter().map(|s| s.iter().map(size).sum()).collect();
        assert_eq!(bytes, vec![140, 120]);
        let mut names: Vec<String> = shares
            .iter()
            .flatten()
            .map(|f| f.object_meta.location.to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
    }

    #[test]
    fn more_tasks_than_files_leaves_empty_shares() {
        let shares = deal(vec![file("a", 1)], 3);
        assert_eq!(shares.iter().map(Vec::len).collect::<Vec<_>>(), [1, 0, 0]);
        let groups = groups(shares[1].clone(), 4);
        assert_eq!(groups.len(), 4);
        assert!(groups.iter().all(|g| g.is_empty()));
    }
}
