//! The coordinator: Minerva's own session (catalog, pruning, rules, guardrails) planning each
//! query, with datafusion-distributed cutting the physical plan into stages that run on the
//! workers; after a query, what the workers read is added to its status line.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_distributed::{
    DistributedExec, DistributedExt, DistributedMetricsFormat, NetworkBoundaryExt,
    SessionStateBuilderExt, Stage, WorkerResolver, display_plan_ascii,
    rewrite_distributed_plan_with_metrics,
};
use minerva_engine::{EngineBuilder, Extension, QueryStats, RemoteRead};
use minerva_store::Usage;
use url::Url;

use crate::codec::MinervaCodec;
use crate::error::ClusterError;
use crate::planning;
use crate::share::metric;

/// The workers a coordinator sends stages to.
#[derive(Debug, Clone)]
pub struct Cluster {
    workers: Vec<Url>,
}

impl Cluster {
    /// A cluster of the workers at `urls` (`http://host:port`, as each was started with
    /// `minerva worker --listen`). At least one.
    pub fn new(urls: impl IntoIterator<Item = Url>) -> Result<Self, ClusterError> {
        let workers: Vec<Url> = urls.into_iter().collect();
        if workers.is_empty() {
            return Err(ClusterError::NoWorkers);
        }
        for url in &workers {
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                return Err(ClusterError::WorkerUrl {
                    url: url.to_string(),
                });
            }
        }
        Ok(Self { workers })
    }

    /// Parses a comma-separated list of worker URLs (`--cluster`); `host:port` means
    /// `http://host:port`.
    pub fn parse(list: &str) -> Result<Self, ClusterError> {
        let urls = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                let text = if s.contains("://") {
                    s.to_string()
                } else {
                    format!("http://{s}")
                };
                Url::parse(&text).map_err(|_| ClusterError::WorkerUrl { url: s.to_string() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(urls)
    }

    /// `builder` as a coordinator: its queries' scans and the stages above them run on the
    /// workers. Dense aggregations split into partials over each worker's share of the files
    /// and a merge of their groups' states here; DataFusion's aggregations into partial ones
    /// on the workers and a final merge.
    pub fn coordinate(&self, builder: EngineBuilder) -> EngineBuilder {
        builder
            .dense_partials(true)
            .extension(Arc::new(Coordinator {
                workers: self.workers.clone(),
            }))
    }
}

#[derive(Debug)]
struct Coordinator {
    workers: Vec<Url>,
}

/// The cluster's workers that answer: each is probed (a TCP connection) at most once per
/// [`PROBE_EVERY`], so a worker that died is left out of the next query's plan and one that
/// came back is used again.
#[derive(Debug)]
struct LiveWorkers {
    workers: Vec<Url>,
    probed: Mutex<Option<(Instant, Vec<Url>)>>,
}

/// How long a probe's answer is trusted.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long a probe waits for a worker to accept a connection.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

impl LiveWorkers {
    fn new(workers: Vec<Url>) -> Self {
        Self {
            workers,
            probed: Mutex::new(None),
        }
    }
}

/// Whether the worker at `url` accepts a TCP connection now (within [`PROBE_TIMEOUT`]).
fn answers(url: &Url) -> bool {
    let Ok(addresses) = url.socket_addrs(|| None) else {
        return false;
    };
    addresses
        .iter()
        .any(|a| TcpStream::connect_timeout(a, PROBE_TIMEOUT).is_ok())
}

impl WorkerResolver for LiveWorkers {
    fn get_urls(&self) -> Result<Vec<Url>, DataFusionError> {
        let mut probed = self.probed.lock().expect("probe lock poisoned");
        if let Some((at, live)) = probed.as_ref()
            && at.elapsed() < PROBE_EVERY
            && !live.is_empty()
        {
            return Ok(live.clone());
        }
        let live: Vec<Url> = self
            .workers
            .iter()
            .filter(|url| answers(url))
            .cloned()
            .collect();
        if live.is_empty() {
            return Err(DataFusionError::External(Box::new(
                ClusterError::NoWorkerAnswers {
                    workers: self.workers.iter().map(Url::to_string).collect(),
                },
            )));
        }
        // datafusion-distributed runs a stage of one task where its consumer is (here): one
        // worker listed twice keeps scans on the worker, as two tasks.
        let live = match live.as_slice() {
            [one] => vec![one.clone(), one.clone()],
            _ => live,
        };
        *probed = Some((Instant::now(), live.clone()));
        Ok(live)
    }
}

/// How many times, and how far apart, a failed query's workers are probed for one that died.
const LOST_PROBES: usize = 3;
const LOST_PROBE_GAP: Duration = Duration::from_millis(200);

/// How long a finished query waits for its workers' metrics (a worker that died never sends
/// them; the query's answer is already out).
const METRICS_WAIT: Duration = Duration::from_secs(5);

#[async_trait]
impl Extension for Coordinator {
    fn session(&self, builder: SessionStateBuilder) -> SessionStateBuilder {
        builder
            .with_distributed_planner()
            .with_distributed_worker_resolver(LiveWorkers::new(self.workers.clone()))
            .with_distributed_user_codec(MinervaCodec)
            .with_distributed_desired_task_count_handler(planning::desired_tasks)
            .with_distributed_scale_up_leaf_node_handler(planning::split_scan)
    }

    /// An error of a query that ran on the cluster is explained by the workers that no longer
    /// answer, if any: a worker that died mid-query breaks its streams with a transport error
    /// that does not say whose. A dying worker's listening socket may outlive its connections
    /// by a moment: the workers are probed a few times, [`LOST_PROBE_GAP`] apart.
    async fn failed(&self, error: DataFusionError) -> DataFusionError {
        for round in 0..LOST_PROBES {
            if round > 0 {
                tokio::time::sleep(LOST_PROBE_GAP).await;
            }
            let workers = self.workers.clone();
            let probed = tokio::task::spawn_blocking(move || {
                workers
                    .iter()
                    .filter(|url| !answers(url))
                    .map(Url::to_string)
                    .collect::<Vec<_>>()
            })
            .await;
            match probed {
                Ok(lost) if !lost.is_empty() => {
                    return DataFusionError::External(Box::new(ClusterError::WorkerLost {
                        workers: lost,
                        source: Box::new(error),
                    }));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        error
    }

    /// The stages the query would run in, and each task's share of the scans' files.
    fn describe(&self, plan: &Arc<dyn ExecutionPlan>) -> Vec<(String, String)> {
        let mut distributed = Vec::new();
        find_distributed(plan, &mut distributed);
        distributed
            .iter()
            .map(|exec| {
                (
                    "distributed_plan".to_string(),
                    display_plan_ascii(exec.as_ref(), false),
                )
            })
            .collect()
    }

    async fn finished(&self, plan: Arc<dyn ExecutionPlan>, stats: &QueryStats) {
        let gathered = tokio::time::timeout(METRICS_WAIT, workers_reads(plan)).await;
        if let Ok(Ok(reads)) = gathered {
            for read in reads {
                stats.absorb_remote(read);
            }
        }
    }
}

/// What each worker's shares of the plan's scans read, from their metrics.
async fn workers_reads(plan: Arc<dyn ExecutionPlan>) -> Result<Vec<RemoteRead>, DataFusionError> {
    let mut reads = BTreeMap::new();
    let mut files = BTreeMap::new();
    let mut distributed = Vec::new();
    find_distributed(&plan, &mut distributed);
    for exec in distributed {
        let with_metrics =
            rewrite_distributed_plan_with_metrics(exec, DistributedMetricsFormat::PerTask).await?;
        collect(&with_metrics, &mut reads, &mut files);
    }
    Ok(reads
        .into_iter()
        .map(|(worker, c): (String, [u64; 5])| RemoteRead {
            files: files.remove(&worker).unwrap_or_default(),
            usage: Usage::of_requests(c[0], c[1], c[2], c[3], c[4] as usize),
            reader: worker,
        })
        .collect())
}

fn find_distributed(plan: &Arc<dyn ExecutionPlan>, found: &mut Vec<Arc<dyn ExecutionPlan>>) {
    if plan.downcast_ref::<DistributedExec>().is_some() {
        found.push(Arc::clone(plan));
        return;
    }
    for child in plan.children() {
        find_distributed(child, found);
    }
}

/// Adds the share metrics in `plan` and in the stages below it, per worker label.
fn collect(
    plan: &Arc<dyn ExecutionPlan>,
    reads: &mut BTreeMap<String, [u64; 5]>,
    files: &mut BTreeMap<String, Vec<String>>,
) {
    if let Some(metrics) = plan.metrics() {
        for m in metrics.iter() {
            let label = |name: &str| {
                m.labels()
                    .iter()
                    .find(|l| l.name() == name)
                    .map(|l| l.value().to_string())
            };
            if m.value().name() == metric::FILES
                && let (Some(worker), Some(named)) =
                    (label(metric::WORKER), label(metric::FILES_LABEL))
                && !named.is_empty()
            {
                files.entry(worker).or_default().push(named);
                continue;
            }
            let slot = match m.value().name() {
                metric::BYTES => 0,
                metric::GETS => 1,
                metric::LISTS => 2,
                metric::HEADS => 3,
                metric::OBJECTS => 4,
                _ => continue,
            };
            let Some(worker) = label(metric::WORKER) else {
                continue;
            };
            reads.entry(worker).or_default()[slot] += m.value().as_usize() as u64;
        }
    }
    if let Some(boundary) = plan.as_network_boundary()
        && let Stage::Local(stage) = boundary.input_stage()
    {
        collect(&stage.plan, reads, files);
        return;
    }
    for child in plan.children() {
        collect(child, reads, files);
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    fn url(listener: &TcpListener) -> Url {
        Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap()
    }

    #[test]
    fn a_worker_that_stops_is_left_out_and_one_that_comes_back_is_used_again() {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let b = TcpListener::bind("127.0.0.1:0").unwrap();
        let (url_a, url_b) = (url(&a), url(&b));
        let address_b = b.local_addr().unwrap();
        drop(b);
        let live = LiveWorkers::new(vec![url_a.clone(), url_b.clone()]);
        // One answers: listed twice, so that its stages stay on it.
        assert_eq!(live.get_urls().unwrap(), [url_a.clone(), url_a.clone()]);
        let _b = TcpListener::bind(address_b).unwrap();
        std::thread::sleep(PROBE_EVERY + Duration::from_millis(50));
        assert_eq!(live.get_urls().unwrap(), [url_a, url_b]);
        drop(a);
        drop(_b);
        std::thread::sleep(PROBE_EVERY + Duration::from_millis(50));
        let error = live.get_urls().unwrap_err().to_string();
        assert!(
            error.contains("no worker of the cluster answers"),
            "{error}"
        );
    }
}
