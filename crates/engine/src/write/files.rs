//! Data files as a write produces them: how a table's files are encoded (format, codec, row
//! group and file sizes, sort order, from its properties), and one file being written to an
//! object store, streamed (Parquet through multipart uploads, text compressed as it goes).

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use minerva_catalog::{Format, Table, parse_byte_size};
use object_store::ObjectStore;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use parquet::arrow::AsyncArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use tokio::io::AsyncWriteExt;

use crate::error::{EngineError, Result, WriteProblem};

/// The table property naming the codec of written files (Athena's CTAS property).
pub(crate) const WRITE_COMPRESSION: &str = "write_compression";
/// The table property ordering written rows: `listing_id, event_time`.
pub(crate) const SORTED_BY: &str = "sorted_by";
/// The table property bounding a written file's size (`128MiB`).
pub(crate) const TARGET_FILE_SIZE: &str = "target_file_size";
/// The table property bounding a Parquet row group's rows.
pub(crate) const ROW_GROUP_ROWS: &str = "row_group_rows";

const DEFAULT_FILE_BYTES: u64 = 128 << 20;
const DEFAULT_ROW_GROUP_ROWS: usize = 1 << 20;

/// A codec for written files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    Zstd,
    Snappy,
    Gzip,
    None,
}

impl Codec {
    /// Athena's spelling (`ZSTD`, `SNAPPY`, `GZIP`, `NONE`; `UNCOMPRESSED` too).
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "ZSTD" => Some(Self::Zstd),
            "SNAPPY" => Some(Self::Snappy),
            "GZIP" => Some(Self::Gzip),
            "NONE" | "UNCOMPRESSED" => Some(Self::None),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Zstd => "ZSTD",
            Self::Snappy => "SNAPPY",
            Self::Gzip => "GZIP",
            Self::None => "NONE",
        }
    }
}

/// How a table's files are written.
#[derive(Debug, Clone)]
pub(crate) struct Encoding {
    pub(crate) format: Format,
    pub(crate) codec: Codec,
    pub(crate) file_bytes: u64,
    pub(crate) row_group_rows: usize,
    /// Data columns the rows are sorted by within each partition.
    pub(crate) sorted_by: Vec<String>,
    /// Text files: the field delimiter.
    pub(crate) delimiter: u8,
}

impl Encoding {
    /// The encoding `table`'s properties ask for: ZSTD Parquet (GZIP text) unless
    /// `write_compression` says otherwise, 128 MiB files, 1 Mi-row row groups.
    pub(crate) fn of(table: &Table) -> Result<Self> {
        let target = || format!("table '{}'", table.qualified_name());
        let bad = |property: &str, value: &str, expected| EngineError::Write {
            target: target(),
            problem: WriteProblem::BadProperty {
                property: property.to_string(),
                value: format!("'{value}'"),
                expected,
            },
        };
        let properties = table.properties();
        let codec = match ["write_compression", "parquet.compression", "compression"]
            .iter()
            .find_map(|k| properties.get(*k).map(|v| (*k, v)))
        {
            Some((key, value)) => {
                Codec::parse(value).ok_or_else(|| bad(key, value, "ZSTD, SNAPPY, GZIP or NONE"))?
            }
            None if table.format() == Format::Parquet => Codec::Zstd,
            None => Codec::Gzip,
        };
        if codec == Codec::Snappy && table.format() != Format::Parquet {
            return Err(bad(
                WRITE_COMPRESSION,
                "SNAPPY",
                "GZIP, ZSTD or NONE for text files",
            ));
        }
        let file_bytes = match properties.get(TARGET_FILE_SIZE) {
            Some(v) => parse_byte_size(v)
                .ok()
                .filter(|b| *b > 0)
                .ok_or_else(|| bad(TARGET_FILE_SIZE, v, "a size such as '128MiB'"))?,
            None => DEFAULT_FILE_BYTES,
        };
        let row_group_rows = match properties.get(ROW_GROUP_ROWS) {
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| bad(ROW_GROUP_ROWS, v, "a positive number of rows"))?,
            None => DEFAULT_ROW_GROUP_ROWS,
        };
        let sorted_by = properties
            .get(SORTED_BY)
            .map(|v| {
                v.split(',')
                    .map(|c| c.trim().to_lowercase())
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            format: table.format(),
            codec,
            file_bytes,
            row_group_rows,
            sorted_by,
            delimiter: table.csv_delimiter(),
        })
    }

    /// The extension of a written file: `.zstd.parquet`, `.json.gz`, `.csv`.
    pub(crate) fn extension(&self) -> &'static str {
        match (self.format, self.codec) {
            (Format::Parquet, Codec::Zstd) => "zstd.parquet",
            (Format::Parquet, Codec::Snappy) => "snappy.parquet",
            (Format::Parquet, Codec::Gzip) => "gz.parquet",
            (Format::Parquet, _) => "parquet",
            (Format::Json, Codec::Gzip) => "json.gz",
            (Format::Json, Codec::Zstd) => "json.zst",
            (Format::Json, _) => "json",
            (_, Codec::Gzip) => "csv.gz",
            (_, Codec::Zstd) => "csv.zst",
            (_, _) => "csv",
        }
    }
}

/// One file being written.
pub(crate) struct OpenFile {
    location: Path,
    rows: u64,
    kind: Kind,
}

enum Kind {
    Parquet(Box<AsyncArrowWriter<BufWriter>>),
    Text(Box<Text>),
}

struct Text {
    upload: BufWriter,
    encoder: TextEncoder,
    written: u64,
    json: bool,
    delimiter: u8,
}

enum TextEncoder {
    Plain(Vec<u8>),
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl TextEncoder {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Self::Plain(v) => std::io::Write::write_all(v, bytes),
            Self::Gzip(e) => std::io::Write::write_all(e, bytes),
            Self::Zstd(e) => std::io::Write::write_all(e, bytes),
        }
    }

    /// The compressed bytes so far, taken out.
    fn take(&mut self) -> Vec<u8> {
        match self {
            Self::Plain(v) => std::mem::take(v),
            Self::Gzip(e) => std::mem::take(e.get_mut()),
            Self::Zstd(e) => std::mem::take(e.get_mut()),
        }
    }

    fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Self::Plain(v) => Ok(v),
            Self::Gzip(e) => e.finish(),
            Self::Zstd(e) => e.finish(),
        }
    }
}

/// A file written and closed.
#[derive(Debug, Clone)]
pub(crate) struct ClosedFile {
    pub(crate) location: Path,
    pub(crate) bytes: u64,
    pub(crate) rows: u64,
}

impl OpenFile {
    /// Starts a file at `location` whose rows have `schema`.
    pub(crate) fn create(
        store: Arc<dyn ObjectStore>,
        location: Path,
        schema: SchemaRef,
        encoding: &Encoding,
    ) -> Result<Self> {
        let kind = match encoding.format {
            Format::Parquet => {
                let compression = match encoding.codec {
                    Codec::Zstd => Compression::ZSTD(ZstdLevel::default()),
                    Codec::Snappy => Compression::SNAPPY,
                    Codec::Gzip => Compression::GZIP(GzipLevel::default()),
                    Codec::None => Compression::UNCOMPRESSED,
                };
                let sorting: Vec<SortingColumn> = encoding
                    .sorted_by
                    .iter()
                    .filter_map(|name| schema.index_of(name).ok())
                    .map(|i| SortingColumn {
                        column_idx: i as i32,
                        descending: false,
                        nulls_first: false,
                    })
                    .collect();
                let properties = WriterProperties::builder()
                    .set_compression(compression)
                    .set_max_row_group_row_count(Some(encoding.row_group_rows))
                    .set_statistics_enabled(EnabledStatistics::Page)
                    .set_dictionary_enabled(true)
                    .set_sorting_columns((!sorting.is_empty()).then_some(sorting))
                    .set_created_by(format!("minerva {}", env!("CARGO_PKG_VERSION")))
                    .build();
                let writer = BufWriter::new(store, location.clone());
                let writer = AsyncArrowWriter::try_new(writer, schema, Some(properties))
                    .map_err(|e| encode_error(&location, e))?;
                Kind::Parquet(Box::new(writer))
            }
            format => Kind::Text(Box::new(Text {
                upload: BufWriter::new(store, location.clone()),
                encoder: match encoding.codec {
                    Codec::Gzip => TextEncoder::Gzip(flate2::write::GzEncoder::new(
                        Vec::new(),
                        flate2::Compression::default(),
                    )),
                    Codec::Zstd => TextEncoder::Zstd(
                        zstd::stream::write::Encoder::new(Vec::new(), 3)
                            .map_err(|e| encode_error(&location, e))?,
                    ),
                    _ => TextEncoder::Plain(Vec::new()),
                },
                written: 0,
                json: format == Format::Json,
                delimiter: encoding.delimiter,
            })),
        };
        Ok(Self {
            location,
            rows: 0,
            kind,
        })
    }

    /// Appends `batch` (the file's columns only).
    pub(crate) async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        match &mut self.kind {
            Kind::Parquet(writer) => writer
                .write(batch)
                .await
                .map_err(|e| write_error(&self.location, e)),
            Kind::Text(text_file) => {
                let Text {
                    upload,
                    encoder,
                    written,
                    json,
                    delimiter,
                } = text_file.as_mut();
                let mut text = Vec::new();
                if *json {
                    let mut writer = arrow::json::LineDelimitedWriter::new(&mut text);
                    writer
                        .write(batch)
                        .and_then(|()| writer.finish())
                        .map_err(|e| encode_error(&self.location, e))?;
                } else {
                    let mut writer = arrow::csv::WriterBuilder::new()
                        .with_header(false)
                        .with_delimiter(*delimiter)
                        .build(&mut text);
                    writer
                        .write(batch)
                        .map_err(|e| encode_error(&self.location, e))?;
                }
                encoder
                    .write(&text)
                    .map_err(|e| encode_error(&self.location, e))?;
                let compressed = encoder.take();
                *written += compressed.len() as u64;
                upload
                    .write_all(&compressed)
                    .await
                    .map_err(|e| io_error(&self.location, e))
            }
        }
    }

    /// Bytes the file holds so far (written, and buffered for its next row group).
    pub(crate) fn size(&self) -> u64 {
        match &self.kind {
            Kind::Parquet(writer) => (writer.bytes_written() + writer.in_progress_size()) as u64,
            Kind::Text(text) => text.written,
        }
    }

    /// Finishes the file: its footer written, its upload completed.
    pub(crate) async fn close(self) -> Result<ClosedFile> {
        let location = self.location;
        let bytes = match self.kind {
            Kind::Parquet(mut writer) => {
                writer
                    .finish()
                    .await
                    .map_err(|e| write_error(&location, e))?;
                writer.bytes_written() as u64
            }
            Kind::Text(text) => {
                let Text {
                    mut upload,
                    encoder,
                    written,
                    ..
                } = *text;
                let rest = encoder.finish().map_err(|e| encode_error(&location, e))?;
                upload
                    .write_all(&rest)
                    .await
                    .map_err(|e| io_error(&location, e))?;
                upload
                    .shutdown()
                    .await
                    .map_err(|e| io_error(&location, e))?;
                written + rest.len() as u64
            }
        };
        Ok(ClosedFile {
            location,
            bytes,
            rows: self.rows,
        })
    }

    /// Gives the file up: a multipart upload in progress is aborted; what was written stays
    /// uncommitted (and a later write's clean-up deletes it).
    pub(crate) async fn abandon(self) {
        if let Kind::Text(mut text) = self.kind {
            let _ = text.upload.abort().await;
        }
    }
}

fn encode_error(location: &Path, error: impl std::fmt::Display) -> EngineError {
    EngineError::Write {
        target: format!("'{location}'"),
        problem: WriteProblem::Encode {
            object: location.to_string(),
            message: error.to_string(),
        },
    }
}

/// A Parquet writer's failure: the store's, when it was the store.
fn write_error(location: &Path, error: parquet::errors::ParquetError) -> EngineError {
    match error {
        parquet::errors::ParquetError::External(inner) => {
            match inner.downcast::<object_store::Error>() {
                Ok(store) => put_error(location, &store),
                Err(other) => encode_error(location, other),
            }
        }
        other => encode_error(location, other),
    }
}

fn io_error(location: &Path, error: std::io::Error) -> EngineError {
    match error
        .get_ref()
        .and_then(|e| e.downcast_ref::<object_store::Error>())
    {
        Some(store) => put_error(location, store),
        None => encode_error(location, error),
    }
}

pub(crate) fn put_error(location: &Path, error: &object_store::Error) -> EngineError {
    EngineError::Write {
        target: format!("'{location}'"),
        problem: WriteProblem::Put {
            object: location.to_string(),
            failure: Box::new(minerva_store::Failure::of(error)),
        },
    }
}
