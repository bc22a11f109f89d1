//! How Minerva's own plan nodes travel to workers: catalog table scans (DataFusion's Parquet,
//! JSON and CSV scans under Minerva's error naming), task shares of a scan, and the recursion
//! bound. Everything DataFusion knows is serialized by DataFusion's own protobuf codec, nested
//! in a message of ours.

use std::sync::Arc;

use datafusion::common::DFSchemaRef;
use datafusion::common::parsers::CompressionTypeVariant;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::physical_plan::{FileGroup, ParquetSource};
use datafusion::datasource::physical_plan::{FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::TaskContext;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::DefaultLogicalExtensionCodec;
use datafusion_proto::logical_plan::from_proto::parse_exprs;
use datafusion_proto::logical_plan::to_proto::serialize_exprs;
use datafusion_proto::physical_plan::{
    PhysicalExtensionCodec, PhysicalPlanDecodeContext, PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf;
use datafusion_proto::protobuf::PhysicalPlanNode;
use minerva_engine::plans::{DensePart, DenseSpec, NamedScan, RecursionBound};
use minerva_store::ScanLimit;
use prost::Message;

use crate::share::{Assignment, ScanShareExec};

/// Minerva's physical extension codec: registered on the coordinator and on every worker.
#[derive(Debug, Default, Clone, Copy)]
pub struct MinervaCodec;

/// One of Minerva's nodes.
#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(oneof = "Node", tags = "1, 2, 3, 4")]
    node: Option<Node>,
    /// The [`WIRE`] of the build that encoded it: a worker refuses another build's nodes.
    #[prost(string, tag = "15")]
    wire: String,
}

/// What this build's nodes look like on the wire: the crate's version, and after the slash a
/// revision bumped whenever a node's encoding changes (3: dense aggregation parts). A
/// coordinator and a worker of different builds fail the query with a clear error rather than
/// misread each other's plans.
pub const WIRE: &str = concat!(env!("CARGO_PKG_VERSION"), "/3");

#[derive(Clone, PartialEq, prost::Oneof)]
enum Node {
    #[prost(message, tag = "1")]
    Scan(NamedScanProto),
    #[prost(message, tag = "2")]
    Share(ShareProto),
    #[prost(message, tag = "3")]
    Bound(BoundProto),
    #[prost(message, boxed, tag = "4")]
    Dense(Box<DenseProto>),
}

/// A part of a split dense aggregation: the table's facts and the query as written (DataFusion's
/// logical expressions), planned again on the worker; its files as DataFusion's Parquet scan of
/// them carries files (ranges, sizes, partition values).
#[derive(Clone, PartialEq, Message)]
struct DenseProto {
    /// 0: a partial, 1: a merge.
    #[prost(uint32, tag = "1")]
    part: u32,
    #[prost(string, tag = "2")]
    table: String,
    #[prost(message, optional, tag = "3")]
    columns: Option<protobuf::Schema>,
    #[prost(string, repeated, tag = "4")]
    partitions: Vec<String>,
    #[prost(string, tag = "5")]
    store_url: String,
    #[prost(message, repeated, tag = "6")]
    filters: Vec<protobuf::LogicalExprNode>,
    #[prost(message, repeated, tag = "7")]
    groups: Vec<protobuf::LogicalExprNode>,
    #[prost(message, repeated, tag = "8")]
    aggregates: Vec<protobuf::LogicalExprNode>,
    #[prost(message, optional, tag = "9")]
    output: Option<protobuf::DfSchema>,
    #[prost(message, optional, boxed, tag = "10")]
    files: Option<Box<PhysicalPlanNode>>,
}

#[derive(Clone, PartialEq, Message)]
struct NamedScanProto {
    /// DataFusion's own scan.
    #[prost(message, optional, boxed, tag = "1")]
    scan: Option<Box<PhysicalPlanNode>>,
    #[prost(string, tag = "2")]
    table: String,
    #[prost(bool, tag = "3")]
    strict_types: bool,
    /// The files' compression (`GZIP`, …): DataFusion's proto does not carry it for JSON.
    #[prost(string, tag = "4")]
    compression: String,
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
        if proto.wire != WIRE {
            return Err(DataFusionError::Plan(format!(
                "this worker runs Minerva's cluster protocol {WIRE}, the coordinator sent {}: run the same build of minerva on the coordinator and every worker",
                if proto.wire.is_empty() {
                    "an older one"
                } else {
                    proto.wire.as_str()
                }
            )));
        }
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
                let compression = scan
                    .compression
                    .parse::<CompressionTypeVariant>()
                    .map_err(|e| malformed("scan compression", e))?;
                let scan_config = FileScanConfigBuilder::from(config.clone())
                    .with_file_compression_type(FileCompressionType::from(compression))
                    .build();
                Ok(NamedScan {
                    scan: scan_config,
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
            Some(Node::Dense(dense)) => decode_dense(*dense, inputs, ctx, self, proto_converter),
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
            let compression = scan.scan.file_compression_type.get_variant().to_string();
            let plain: Arc<dyn ExecutionPlan> = DataSourceExec::from_data_source(scan.scan);
            Node::Scan(NamedScanProto {
                scan: Some(Box::new(
                    proto_converter.execution_plan_to_proto(&plain, self)?,
                )),
                table: scan.table,
                strict_types: scan.strict_types,
                compression,
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
        } else if let Some((part, spec)) = DenseSpec::of(node.as_ref()) {
            Node::Dense(Box::new(encode_dense(part, spec, self, proto_converter)?))
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
        NodeProto {
            node: Some(node),
            wire: WIRE.to_string(),
        }
        .encode(buf)
        .map_err(|e| DataFusionError::Internal(format!("encoding a plan node: {e}")))
    }
}

fn encode_dense(
    part: DensePart,
    spec: DenseSpec,
    codec: &MinervaCodec,
    proto_converter: &dyn PhysicalProtoConverterExtension,
) -> DFResult<DenseProto> {
    let logical = DefaultLogicalExtensionCodec {};
    let exprs = |exprs: &[Expr]| {
        serialize_exprs(exprs, &logical).map_err(|e| malformed("dense expressions", e))
    };
    let files = files_scan(&spec)?;
    Ok(DenseProto {
        part: match part {
            DensePart::Partial => 0,
            DensePart::Merge => 1,
        },
        columns: Some(
            protobuf::Schema::try_from(spec.columns.as_ref())
                .map_err(|e| malformed("dense table columns", e))?,
        ),
        partitions: spec.partitions,
        store_url: spec.store_url,
        filters: exprs(&spec.filters)?,
        groups: exprs(&spec.groups)?,
        aggregates: exprs(&spec.aggregates)?,
        output: Some(
            protobuf::DfSchema::try_from(&spec.output)
                .map_err(|e| malformed("dense output schema", e))?,
        ),
        files: Some(Box::new(
            proto_converter.execution_plan_to_proto(&files, codec)?,
        )),
        table: spec.table,
    })
}

/// A Parquet scan of `spec`'s files: how DataFusion's proto carries files.
fn files_scan(spec: &DenseSpec) -> DFResult<Arc<dyn ExecutionPlan>> {
    let file_fields: Vec<_> = (spec.columns.fields().iter())
        .filter(|f| !spec.partitions.contains(f.name()))
        .cloned()
        .collect();
    let partition_fields: Vec<_> = (spec.partitions.iter())
        .map(|name| {
            spec.columns
                .field_with_name(name)
                .map(|f| Arc::new(f.clone()))
        })
        .collect::<Result<_, _>>()?;
    let schema = TableSchema::builder(Arc::new(datafusion::arrow::datatypes::Schema::new(
        file_fields,
    )))
    .with_table_partition_cols(partition_fields)
    .build();
    let config = FileScanConfigBuilder::new(
        ObjectStoreUrl::parse(&spec.store_url)?,
        Arc::new(ParquetSource::new(schema)),
    )
    .with_file_group(FileGroup::new(spec.files.clone()))
    .build();
    Ok(DataSourceExec::from_data_source(config))
}

fn decode_dense(
    dense: DenseProto,
    inputs: &[Arc<dyn ExecutionPlan>],
    ctx: &TaskContext,
    codec: &MinervaCodec,
    proto_converter: &dyn PhysicalProtoConverterExtension,
) -> DFResult<Arc<dyn ExecutionPlan>> {
    let logical = DefaultLogicalExtensionCodec {};
    let exprs = |protos: &[protobuf::LogicalExprNode]| {
        parse_exprs(protos, ctx, &logical).map_err(|e| malformed("dense expressions", e))
    };
    let part = match dense.part {
        0 => DensePart::Partial,
        1 => DensePart::Merge,
        other => return Err(malformed("dense part", other)),
    };
    let columns = dense
        .columns
        .as_ref()
        .ok_or_else(|| malformed("dense", "no table columns"))?;
    let output = dense
        .output
        .ok_or_else(|| malformed("dense", "no output schema"))?;
    let node = dense.files.ok_or_else(|| malformed("dense", "no files"))?;
    let decode = PhysicalPlanDecodeContext::new(ctx, codec);
    let scan = proto_converter.proto_to_execution_plan(&node, &decode)?;
    let files = scan
        .downcast_ref::<DataSourceExec>()
        .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
        .ok_or_else(|| malformed("dense files", "not a file scan"))?
        .file_groups
        .iter()
        .flat_map(|g| g.iter().cloned())
        .collect();
    let spec = DenseSpec {
        table: dense.table,
        columns: Arc::new(
            datafusion::arrow::datatypes::Schema::try_from(columns)
                .map_err(|e| malformed("dense table columns", e))?,
        ),
        partitions: dense.partitions,
        store_url: dense.store_url,
        filters: exprs(&dense.filters)?,
        groups: exprs(&dense.groups)?,
        aggregates: exprs(&dense.aggregates)?,
        output: DFSchemaRef::try_from(output).map_err(|e| malformed("dense output schema", e))?,
        files,
    };
    spec.into_plan(part, inputs, ctx)
}

#[cfg(test)]
mod tests {
    use datafusion::physical_plan::{ExecutionPlan, displayable};
    use datafusion_proto::physical_plan::AsExecutionPlan;
    use minerva_engine::Engine;

    use super::*;

    fn lake() -> (tempfile::TempDir, Engine) {
        let dir = tempfile::tempdir().unwrap();
        let spec = minerva_demo::DemoSpec {
            days: 2,
            events_per_day: 300,
            ..Default::default()
        };
        let summary = minerva_demo::write_lake(&spec, dir.path(), &|_| {}).unwrap();
        let engine = Engine::builder(minerva_catalog::Catalog::load(&summary.catalog).unwrap())
            .dense_aggregation(false)
            .build();
        (dir, engine)
    }

    async fn plan(engine: &Engine, sql: &str) -> Arc<dyn ExecutionPlan> {
        engine
            .session()
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap()
    }

    fn round_trip(engine: &Engine, plan: &Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        let node =
            PhysicalPlanNode::try_from_physical_plan(Arc::clone(plan), &MinervaCodec).unwrap();
        let mut bytes = Vec::new();
        node.try_encode(&mut bytes).unwrap();
        let node = PhysicalPlanNode::try_decode(&bytes).unwrap();
        node.try_into_physical_plan(&engine.session().task_ctx(), &MinervaCodec)
            .unwrap()
    }

    fn scans(plan: &Arc<dyn ExecutionPlan>, found: &mut Vec<NamedScan>) {
        found.extend(NamedScan::of(plan.as_ref()));
        for child in plan.children() {
            scans(child, found);
        }
    }

    /// The rows `plan` gives in `engine`'s session.
    async fn rows(engine: &Engine, plan: Arc<dyn ExecutionPlan>) -> usize {
        datafusion::physical_plan::collect(plan, engine.session().task_ctx())
            .await
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum()
    }

    fn text(plan: &Arc<dyn ExecutionPlan>) -> String {
        displayable(plan.as_ref()).indent(true).to_string()
    }

    #[tokio::test]
    async fn catalog_table_scans_travel_with_their_table_files_and_filters() {
        let (_dir, engine) = lake();
        for sql in [
            // Parquet, with a pushed-down filter and a projection.
            "SELECT listing_id, price FROM views WHERE dt = DATE '2024-01-02' AND price > 100",
            // JSON lines (the raw speed layer).
            "SELECT * FROM views_raw LIMIT 5",
        ] {
            let original = plan(&engine, sql).await;
            let decoded = round_trip(&engine, &original);
            assert_eq!(text(&decoded), text(&original), "{sql}");
            let (mut before, mut after) = (Vec::new(), Vec::new());
            scans(&original, &mut before);
            scans(&decoded, &mut after);
            assert!(!before.is_empty(), "{sql} scans a catalog table");
            assert_eq!(before.len(), after.len());
            for (b, a) in before.iter().zip(&after) {
                assert_eq!(a.table, b.table);
                assert_eq!(a.strict_types, b.strict_types);
                assert_eq!(a.scan.file_compression_type, b.scan.file_compression_type);
                assert_eq!(a.scan.file_groups.len(), b.scan.file_groups.len());
                let files = |s: &NamedScan| -> Vec<String> {
                    s.scan
                        .file_groups
                        .iter()
                        .flat_map(|g| g.iter().map(|f| f.object_meta.location.to_string()))
                        .collect()
                };
                assert_eq!(files(a), files(b));
            }
            // And it runs, with the same rows.
            assert_eq!(
                rows(&engine, decoded).await,
                rows(&engine, original).await,
                "{sql}"
            );
        }
    }

    /// The rows `plan` gives, printed and sorted.
    async fn printed(engine: &Engine, plan: Arc<dyn ExecutionPlan>) -> Vec<String> {
        let batches = datafusion::physical_plan::collect(plan, engine.session().task_ctx())
            .await
            .unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        lines
    }

    #[tokio::test]
    async fn dense_partials_and_their_merge_travel_and_answer_alike() {
        let dir = tempfile::tempdir().unwrap();
        let spec = minerva_demo::DemoSpec {
            days: 3,
            events_per_day: 400,
            rows_per_file: 150,
            ..Default::default()
        };
        let summary = minerva_demo::write_lake(&spec, dir.path(), &|_| {}).unwrap();
        let engine = Engine::builder(minerva_catalog::Catalog::load(&summary.catalog).unwrap())
            .dense_partials(true)
            .build();
        for sql in [
            // Partition, text, derived keys; counts, distinct ids, sums, extremes, a filter
            // per dictionary entry and one per row, a conditional count.
            "SELECT dt, region, count(*), count(DISTINCT user_id), sum(price), max(event_time) \
             FROM views WHERE event_type = 'view' AND price > 0 GROUP BY dt, region",
            "SELECT date_trunc('hour', event_time) AS h, count_if(platform = 'ios') FROM views \
             WHERE dt = DATE '2024-01-02' GROUP BY 1",
            // An integer key, and no keys at all.
            "SELECT listing_id, count(*) FROM views GROUP BY listing_id",
            "SELECT count(DISTINCT user_id), avg(price) FROM views",
        ] {
            let original = plan(&engine, sql).await;
            let shown = text(&original);
            assert!(
                shown.contains("DenseMergeExec") && shown.contains("mode=partial"),
                "{sql}: {shown}"
            );
            let decoded = round_trip(&engine, &original);
            assert_eq!(text(&decoded), shown, "{sql}");
            assert_eq!(
                printed(&engine, decoded).await,
                printed(&engine, original).await,
                "{sql}"
            );
        }
    }

    #[tokio::test]
    async fn a_share_travels_with_its_files_and_budget() {
        let (_dir, engine) = lake();
        let original = plan(&engine, "SELECT * FROM views WHERE dt = DATE '2024-01-01'").await;
        let mut found = Vec::new();
        scans(&original, &mut found);
        let scan = found.remove(0).into_plan();
        let assignment = Assignment {
            task: 1,
            tasks: 3,
            files: vec!["views/dt=2024-01-01/a.parquet".into()],
            bytes: 1234,
            budget: Some(ScanLimit {
                bytes: 999,
                source: "max_scan".into(),
            }),
        };
        let share: Arc<dyn ExecutionPlan> = Arc::new(ScanShareExec::new(scan, assignment.clone()));
        let decoded = round_trip(&engine, &share);
        let back = decoded.downcast_ref::<ScanShareExec>().unwrap();
        assert_eq!(back.assignment(), &assignment);
        assert_eq!(text(&decoded), text(&share));
    }

    #[tokio::test]
    async fn a_share_of_gzipped_json_lines_reads_on_the_other_side() {
        let (_dir, engine) = lake();
        let original = plan(&engine, "SELECT * FROM views_raw").await;
        let mut found = Vec::new();
        scans(&original, &mut found);
        for scan in found {
            let input = scan.into_plan();
            let share: Arc<dyn ExecutionPlan> = Arc::new(ScanShareExec::new(
                Arc::clone(&input),
                Assignment {
                    task: 0,
                    tasks: 1,
                    files: vec![],
                    bytes: 0,
                    budget: None,
                },
            ));
            let decoded = round_trip(&engine, &share);
            assert_eq!(rows(&engine, decoded).await, rows(&engine, input).await);
        }
    }

    #[test]
    fn a_node_it_does_not_know_is_refused_by_name() {
        let plan: Arc<dyn ExecutionPlan> = Arc::new(
            datafusion::physical_plan::placeholder_row::PlaceholderRowExec::new(Arc::new(
                datafusion::arrow::datatypes::Schema::empty(),
            )),
        );
        let mut buf = Vec::new();
        let error = MinervaCodec
            .try_encode(
                plan,
                &mut buf,
                &datafusion_proto::physical_plan::DefaultPhysicalProtoConverter {},
            )
            .unwrap_err();
        assert!(error.to_string().contains("PlaceholderRowExec"), "{error}");
    }

    #[test]
    fn a_node_of_another_build_is_refused_with_both_versions() {
        let ctx = datafusion::prelude::SessionContext::new().task_ctx();
        let converter = datafusion_proto::physical_plan::DefaultPhysicalProtoConverter {};
        let node = NodeProto {
            node: Some(Node::Bound(BoundProto { max: 3 })),
            wire: "0.0.1/1".to_string(),
        };
        let error = MinervaCodec
            .try_decode(&node.encode_to_vec(), &[], &ctx, &converter)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("0.0.1/1") && error.contains(WIRE) && error.contains("same build"),
            "{error}"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let ctx = datafusion::prelude::SessionContext::new().task_ctx();
        let converter = datafusion_proto::physical_plan::DefaultPhysicalProtoConverter {};
        for bytes in [&b""[..], b"\x0a\x03abc", b"\xff\xff\xff"] {
            assert!(
                MinervaCodec
                    .try_decode(bytes, &[], &ctx, &converter)
                    .is_err()
            );
        }
    }
}
