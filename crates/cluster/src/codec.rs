//! How Minerva's own plan nodes travel to workers: catalog table scans (DataFusion's Parquet,
//! JSON and CSV scans under Minerva's error naming), task shares of a scan, and the recursion
//! bound. Everything DataFusion knows is serialized by DataFusion's own protobuf codec, nested
//! in a message of ours.

use std::sync::Arc;

use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{
    PhysicalExtensionCodec, PhysicalPlanDecodeContext, PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf::PhysicalPlanNode;
use minerva_engine::plans::{NamedScan, RecursionBound};
use minerva_store::ScanLimit;
use prost::Message;

use crate::share::{Assignment, ScanShareExec};

/// Minerva's physical extension codec: registered on the coordinator and on every worker.
#[derive(Debug, Default, Clone, Copy)]
pub struct MinervaCodec;

/// One of Minerva's nodes.
#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(oneof = "Node", tags = "1, 2, 3")]
    node: Option<Node>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Node {
    #[prost(message, tag = "1")]
    Scan(NamedScanProto),
    #[prost(message, tag = "2")]
    Share(ShareProto),
    #[prost(message, tag = "3")]
    Bound(BoundProto),
}

#[derive(Clone, PartialEq, Message)]
struct NamedScanProto {
    /// DataFusion's own scan.
    #[prost(message, optional, tag = "1")]
    scan: Option<PhysicalPlanNode>,
    #[prost(string, tag = "2")]
    table: String,
    #[prost(bool, tag = "3")]
    strict_types: bool,
}

#[derive(Clone, PartialEq, Message)]
struct ShareProto {
    #[prost(uint64, tag = "1")]
    task: u64,
    #[prost(uint64, tag = "2")]
    tasks: u64,
    #[prost(string, repeated, tag = "3")]
    files: Vec<String>,
    #[prost(uint64, tag = "4")]
    bytes: u64,
    #[prost(uint64, optional, tag = "5")]
    budget: Option<u64>,
    #[prost(string, tag = "6")]
    budget_source: String,
}

#[derive(Clone, PartialEq, Message)]
struct BoundProto {
    #[prost(uint64, tag = "1")]
    max: u64,
}

fn malformed(what: &str, error: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!(
        "a Minerva plan node ({what}) did not decode: {error}"
    ))
}

impl PhysicalExtensionCodec for MinervaCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let proto = NodeProto::decode(buf).map_err(|e| malformed("message", e))?;
        let one_input = || match inputs {
            [input] => Ok(Arc::clone(input)),
            _ => Err(malformed(
                "inputs",
                format!("{} inputs where one was expected", inputs.len()),
            )),
        };
        match proto.node {
            Some(Node::Scan(scan)) => {
                let node = scan
                    .scan
                    .ok_or_else(|| malformed("scan", "no DataFusion scan"))?;
                let decode = PhysicalPlanDecodeContext::new(ctx, self);
                let plan = proto_converter.proto_to_execution_plan(&node, &decode)?;
                let config = plan
                    .downcast_ref::<DataSourceExec>()
                    .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
                    .ok_or_else(|| malformed("scan", "not a file scan"))?;
                Ok(NamedScan {
                    scan: config.clone(),
                    table: scan.table,
                    strict_types: scan.strict_types,
                }
                .into_plan())
            }
            Some(Node::Share(share)) => {
                let budget = share.budget.map(|bytes| ScanLimit {
                    bytes,
                    source: share.budget_source,
                });
                let assignment = Assignment {
                    task: usize::try_from(share.task).map_err(|e| malformed("share", e))?,
                    tasks: usize::try_from(share.tasks).map_err(|e| malformed("share", e))?,
                    files: share.files,
                    bytes: share.bytes,
                    budget,
                };
                Ok(Arc::new(ScanShareExec::new(one_input()?, assignment)))
            }
            Some(Node::Bound(bound)) => Ok(RecursionBound {
                input: one_input()?,
                max: usize::try_from(bound.max).map_err(|e| malformed("recursion bound", e))?,
            }
            .into_plan()),
            None => Err(malformed("message", "no node")),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> DFResult<()> {
        let node = if let Some(scan) = NamedScan::of(node.as_ref()) {
            let plain: Arc<dyn ExecutionPlan> = DataSourceExec::from_data_source(scan.scan);
            Node::Scan(NamedScanProto {
                scan: Some(proto_converter.execution_plan_to_proto(&plain, self)?),
                table: scan.table,
                strict_types: scan.strict_types,
            })
        } else if let Some(share) = node.downcast_ref::<ScanShareExec>() {
            let a = share.assignment();
            Node::Share(ShareProto {
                task: a.task as u64,
                tasks: a.tasks as u64,
                files: a.files.clone(),
                bytes: a.bytes,
                budget: a.budget.as_ref().map(|b| b.bytes),
                budget_source: a
                    .budget
                    .as_ref()
                    .map(|b| b.source.clone())
                    .unwrap_or_default(),
            })
        } else if let Some(bound) = RecursionBound::of(node.as_ref()) {
            Node::Bound(BoundProto {
                max: bound.max as u64,
            })
        } else {
            return Err(DataFusionError::NotImplemented(format!(
                "{} cannot run on a worker: Minerva's codec does not know it",
                node.name()
            )));
        };
        NodeProto { node: Some(node) }
            .encode(buf)
            .map_err(|e| DataFusionError::Internal(format!("encoding a plan node: {e}")))
    }
}
