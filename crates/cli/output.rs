//! Printing result batches in each output format.

use std::io::Write;

use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::error::ArrowError;
use arrow::util::display::ArrayFormatter;
use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use futures::{Stream, TryStreamExt};
use minerva_engine::{EngineError, QueryOutput};

use crate::args::OutputFormat;

use minerva_engine::display::{format_options, textual};

/// Writes query results to `out` in one format.
pub struct Printer<W: Write> {
    format: OutputFormat,
    out: Remembering<W>,
    /// At most this many rows in a `table`; the rest are counted, not shown.
    max_table_rows: Option<usize>,
}

impl<W: Write> Printer<W> {
    pub fn new(format: OutputFormat, out: W, max_table_rows: Option<usize>) -> Self {
        Self {
            format,
            out: Remembering {
                inner: out,
                last_error: None,
            },
            max_table_rows,
        }
    }

    /// Prints every row of `output` and returns how many there were. A failure to write is
    /// returned as the `io::Error` it was, so a closed pipe can be told from a failed query.
    pub async fn print(&mut self, output: QueryOutput) -> Result<u64> {
        let printed = self.print_rows(output).await;
        match (printed, self.out.last_error.take()) {
            (Err(_), Some(kind)) => Err(std::io::Error::from(kind).into()),
            (printed, _) => printed,
        }
    }

    async fn print_rows(&mut self, output: QueryOutput) -> Result<u64> {
        let QueryOutput { schema, stream, .. } = output;
        // Errors met while rows stream in get the engine's wording, like planning errors.
        let mut stream = stream.map_err(EngineError::from);
        let mut rows = 0u64;
        if schema.fields().is_empty() {
            // A statement without a result (SET): nothing to print, but run it to the end.
            while stream.try_next().await?.is_some() {}
            return Ok(0);
        }
        match self.format {
            OutputFormat::Table | OutputFormat::Markdown => {
                let limit = self.max_table_rows.unwrap_or(usize::MAX);
                let mut shown = Vec::new();
                let mut kept = 0usize;
                while let Some(batch) = stream.try_next().await? {
                    rows += batch.num_rows() as u64;
                    if kept < limit {
                        let take = batch.num_rows().min(limit - kept);
                        kept += take;
                        shown.push(batch.slice(0, take));
                    }
                }
                if self.format == OutputFormat::Table {
                    self.table(&schema, &shown)?;
                    if kept < rows as usize {
                        writeln!(self.out, "({kept} of {rows} rows shown)")?;
                    }
                } else {
                    self.markdown(&schema, &shown)?;
                }
            }
            OutputFormat::Csv | OutputFormat::Tsv => {
                let delimiter = if self.format == OutputFormat::Csv {
                    b','
                } else {
                    b'\t'
                };
                let mut encoder = crate::csv::Encoder::new(delimiter);
                // A statement that fails before its first row prints nothing, not a lone header.
                let first = stream.try_next().await?;
                encoder.write_header(&schema, &mut self.out)?;
                let out = &mut self.out;
                if let Some(batch) = first {
                    rows = batch.num_rows() as u64;
                    encoder.write(&textual(&batch)?, out)?;
                }
                rows += write_batches(&mut stream, |batch| encoder.write(&textual(batch)?, out))
                    .await?;
            }
            OutputFormat::Json => {
                let mut writer = arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, arrow::json::writer::JsonArray>(&mut self.out);
                rows = write_batches(&mut stream, |batch| writer.write(batch)).await?;
                writer.finish()?;
                self.out.write_all(b"\n")?;
            }
            OutputFormat::Ndjson => {
                let mut writer = arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, arrow::json::writer::LineDelimited>(&mut self.out);
                rows = write_batches(&mut stream, |batch| writer.write(batch)).await?;
                writer.finish()?;
            }
        }
        self.out.flush()?;
        Ok(rows)
    }

    /// Writes a line of text (a status or notice) to the same output.
    pub fn line(&mut self, text: &str) -> Result<()> {
        writeln!(self.out, "{text}")?;
        self.out.flush()?;
        Ok(())
    }

    fn table(&mut self, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
        let mut table = Table::new();
        table
            .load_preset(presets::UTF8_FULL_CONDENSED)
            .apply_modifier(comfy_table::modifiers::UTF8_ROUND_CORNERS)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(schema.fields().iter().map(|f| f.name().as_str()));
        for row in cells(batches)? {
            table.add_row(row);
        }
        for (i, field) in schema.fields().iter().enumerate() {
            if is_numeric(field.data_type())
                && let Some(column) = table.column_mut(i)
            {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        writeln!(self.out, "{table}")?;
        Ok(())
    }

    fn markdown(&mut self, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
        let escape = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let names: Vec<String> = schema.fields().iter().map(|f| escape(f.name())).collect();
        writeln!(self.out, "| {} |", names.join(" | "))?;
        let rules: Vec<&str> = schema
            .fields()
            .iter()
            .map(|f| {
                if is_numeric(f.data_type()) {
                    "---:"
                } else {
                    "---"
                }
            })
            .collect();
        writeln!(self.out, "| {} |", rules.join(" | "))?;
        for row in cells(batches)? {
            let row: Vec<String> = row.iter().map(|c| escape(c)).collect();
            writeln!(self.out, "| {} |", row.join(" | "))?;
        }
        Ok(())
    }
}

/// A writer that remembers the kind of its last I/O error: arrow's CSV writer reports I/O errors
/// as text (`CsvError(String)`), which would hide a closed pipe from the caller.
struct Remembering<W> {
    inner: W,
    last_error: Option<std::io::ErrorKind>,
}

impl<W: Write> Write for Remembering<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner
            .write(buf)
            .inspect_err(|e| self.last_error = Some(e.kind()))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner
            .flush()
            .inspect_err(|e| self.last_error = Some(e.kind()))
    }
}

/// Hands every batch of `stream` to `write`, in order; returns the number of rows.
async fn write_batches(
    stream: &mut (impl Stream<Item = Result<RecordBatch, EngineError>> + Unpin),
    mut write: impl FnMut(&RecordBatch) -> Result<(), ArrowError>,
) -> Result<u64> {
    let mut rows = 0;
    while let Some(batch) = stream.try_next().await? {
        rows += batch.num_rows() as u64;
        write(&batch)?;
    }
    Ok(rows)
}

/// Every row of `batches` as display strings.
fn cells(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>> {
    let options = format_options();
    let mut rows = Vec::new();
    for batch in batches {
        let batch = textual(batch)?;
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
    }
    Ok(rows)
}

fn is_numeric(ty: &DataType) -> bool {
    ty.is_numeric() || matches!(ty, DataType::Dictionary(_, v) if v.is_numeric())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{Field, Schema};
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;

    use super::*;

    fn output_of(values: Vec<i64>) -> QueryOutput {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from(values))],
        )
        .unwrap();
        let stream = futures::stream::iter([Ok(batch)]);
        QueryOutput::new(
            Arc::clone(&schema),
            Box::pin(RecordBatchStreamAdapter::new(schema, stream)),
        )
    }

    fn printed(format: OutputFormat, max_rows: Option<usize>, values: Vec<i64>) -> (u64, String) {
        let mut out = Vec::new();
        let rows = futures::executor::block_on(
            Printer::new(format, &mut out, max_rows).print(output_of(values)),
        )
        .unwrap();
        (rows, String::from_utf8(out).unwrap())
    }

    #[test]
    fn the_shell_table_shows_a_capped_number_of_rows_and_counts_the_rest() {
        let (rows, text) = printed(OutputFormat::Table, Some(2), vec![10, 20, 30, 40, 50]);
        assert_eq!(rows, 5);
        assert!(
            text.contains("│ 10 │") && text.contains("│ 20 │") && !text.contains("30"),
            "{text}"
        );
        assert!(text.ends_with("(2 of 5 rows shown)\n"), "{text}");
    }

    #[test]
    fn scripts_print_every_row() {
        let (rows, text) = printed(OutputFormat::Csv, None, vec![1, 2, 3]);
        assert_eq!((rows, text.as_str()), (3, "n\n1\n2\n3\n"));
        let (_, table) = printed(OutputFormat::Table, None, vec![1, 2, 3]);
        assert!(
            table.contains("│ 3 │") && !table.contains("shown"),
            "{table}"
        );
    }
}
