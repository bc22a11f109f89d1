//! Printing result batches in each output format.

use std::io::Write;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::error::ArrowError;
use arrow::util::display::ArrayFormatter;
use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use futures::{Stream, StreamExt, TryStreamExt};
use minerva_engine::{EngineError, QueryOutput};

use crate::args::OutputFormat;
use crate::settings::Expanded;
use unicode_width::UnicodeWidthStr;

use minerva_engine::display::{format_options, textual};

/// Writes query results to `out` in one format.
pub struct Printer<W: Write> {
    format: OutputFormat,
    out: Remembering<W>,
    /// At most this many rows in a `table`; the rest are counted, not shown.
    max_table_rows: Option<usize>,
    /// How NULL reads in text.
    null: String,
    /// One column per line (psql's `\x`).
    expanded: Expanded,
    /// The terminal's size (rows, columns), when printing to one: `auto` expansion, fitting
    /// wide tables and paging go by it.
    screen: Option<(usize, usize)>,
    /// The pager for results taller or wider than the screen.
    pager: Option<String>,
    /// Rows of the last result kept for `\chart`.
    keep_rows: usize,
    last: Option<(SchemaRef, Vec<RecordBatch>)>,
}

/// Rows of each result the shell keeps to chart.
pub const CHART_ROWS: usize = 10_000;

impl<W: Write> Printer<W> {
    pub fn new(format: OutputFormat, out: W, max_table_rows: Option<usize>) -> Self {
        Self {
            format,
            out: Remembering {
                inner: out,
                last_error: None,
                before_first_write: None,
            },
            max_table_rows,
            null: "NULL".to_string(),
            expanded: Expanded::Off,
            screen: None,
            pager: None,
            keep_rows: 0,
            last: None,
        }
    }

    /// Keeps up to `rows` rows of each result for [`Printer::last`].
    pub fn keep(mut self, rows: usize) -> Self {
        self.keep_rows = rows;
        self
    }

    /// Applies the shell's display settings.
    pub fn configure(
        &mut self,
        format: OutputFormat,
        null: &str,
        expanded: Expanded,
        screen: Option<(usize, usize)>,
        pager: Option<String>,
    ) {
        self.format = format;
        self.null = null.to_string();
        self.expanded = expanded;
        self.screen = screen;
        self.pager = pager;
    }

    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// The last result's kept rows.
    pub fn last(&self) -> Option<&(SchemaRef, Vec<RecordBatch>)> {
        self.last.as_ref()
    }

    /// Calls `hook` once, just before the next byte is written (the progress line clears).
    pub fn before_output(&mut self, hook: impl FnOnce() + Send + 'static) {
        self.out.before_first_write = Some(Box::new(hook));
    }

    /// The writer, to write around the printer (the shell's `\o`).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out.inner
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
        let stream = stream.map_err(EngineError::from);
        let mut rows = 0u64;
        if schema.fields().is_empty() {
            // A statement without a result (SET): nothing to print, but run it to the end.
            let mut stream = stream;
            while stream.try_next().await?.is_some() {}
            return Ok(0);
        }
        // Keep the first rows for `\chart` as they pass.
        self.last = None;
        let keep = self.keep_rows;
        let kept = Arc::new(Mutex::new((0usize, Vec::new())));
        let mut stream = Box::pin(stream.inspect_ok({
            let kept = Arc::clone(&kept);
            move |batch: &RecordBatch| {
                let mut kept = kept.lock().expect("kept rows lock poisoned");
                if kept.0 < keep {
                    let take = batch.num_rows().min(keep - kept.0);
                    kept.0 += take;
                    kept.1.push(batch.slice(0, take));
                }
            }
        }));
        let printed = self.print_formats(&schema, &mut stream, &mut rows).await;
        if keep > 0 {
            let batches = std::mem::take(&mut kept.lock().expect("kept rows lock poisoned").1);
            self.last = Some((schema, batches));
        }
        printed?;
        self.out.flush()?;
        Ok(rows)
    }

    async fn print_formats(
        &mut self,
        schema: &SchemaRef,
        mut stream: &mut (impl Stream<Item = Result<RecordBatch, EngineError>> + Unpin),
        rows: &mut u64,
    ) -> Result<()> {
        let schema = Arc::clone(schema);
        match self.format {
            OutputFormat::Bar => {
                let mut batches = Vec::new();
                while let Some(batch) = stream.try_next().await? {
                    *rows += batch.num_rows() as u64;
                    batches.push(batch);
                }
                let width = self.screen.map_or(80, |(_, cols)| cols);
                let chart = crate::chart::draw(&schema, &batches, crate::chart::Kind::Auto, width)?;
                self.out.write_all(chart.as_bytes())?;
            }
            OutputFormat::Parquet => {
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                    .build();
                let mut writer =
                    parquet::arrow::ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props))?;
                while let Some(batch) = stream.try_next().await? {
                    *rows += batch.num_rows() as u64;
                    writer.write(&batch)?;
                    // Hand on what the writer has finished, so memory stays one row group.
                    let done = std::mem::take(writer.inner_mut());
                    self.out.write_all(&done)?;
                }
                let rest = writer.into_inner()?;
                self.out.write_all(&rest)?;
            }
            OutputFormat::Table | OutputFormat::Markdown => {
                let limit = self.max_table_rows.unwrap_or(usize::MAX);
                let mut shown = Vec::new();
                let mut kept = 0usize;
                while let Some(batch) = stream.try_next().await? {
                    *rows += batch.num_rows() as u64;
                    if kept < limit {
                        let take = batch.num_rows().min(limit - kept);
                        kept += take;
                        shown.push(batch.slice(0, take));
                    }
                }
                let mut text = if self.format == OutputFormat::Table {
                    self.table(&schema, &shown)?
                } else {
                    self.markdown(&schema, &shown)?
                };
                if kept < *rows as usize {
                    text.push_str(&format!(
                        "… {} more rows ({kept} of {rows} shown: add LIMIT, or \\o FILE for all)\n",
                        *rows - kept as u64
                    ));
                }
                self.emit(&text)?;
            }
            OutputFormat::Csv | OutputFormat::Tsv => {
                let delimiter = if self.format == OutputFormat::Csv {
                    b','
                } else {
                    b'\t'
                };
                let mut header = Vec::new();
                crate::csv::Encoder::new(delimiter).write_header(&schema, &mut header)?;
                // A statement that fails before its first row prints nothing, not a lone header.
                let mut header = Some(header);
                *rows = write_encoded(
                    &mut stream,
                    &mut self.out,
                    move |batch| {
                        let mut text = Vec::new();
                        crate::csv::Encoder::new(delimiter).write(&textual(batch)?, &mut text)?;
                        Ok(text)
                    },
                    |out, _| match header.take() {
                        Some(header) => out.write_all(&header),
                        None => Ok(()),
                    },
                )
                .await?;
                if let Some(header) = header {
                    self.out.write_all(&header)?;
                }
            }
            OutputFormat::Json => {
                // One array: each batch's rows are encoded as an array alone, then joined.
                self.out.write_all(b"[")?;
                *rows = write_encoded(
                    &mut stream,
                    &mut self.out,
                    |batch| {
                        let mut text = json::<arrow::json::writer::JsonArray>(batch)?;
                        // The rows alone, without the array's brackets.
                        text.pop();
                        text.drain(..1);
                        Ok(text)
                    },
                    |out, first| if first { Ok(()) } else { out.write_all(b",") },
                )
                .await?;
                self.out.write_all(b"]\n")?;
            }
            OutputFormat::Ndjson => {
                *rows = write_encoded(
                    &mut stream,
                    &mut self.out,
                    json::<arrow::json::writer::LineDelimited>,
                    |_, _| Ok(()),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Writes a rendered result: through the pager when it is taller or wider than the screen.
    fn emit(&mut self, text: &str) -> Result<()> {
        if let (Some(pager), Some((height, width))) = (&self.pager, self.screen) {
            let lines = text.lines().count();
            let widest = text.lines().map(UnicodeWidthStr::width).max().unwrap_or(0);
            if lines + 2 > height || widest > width {
                let pager = pager.clone();
                // The pager takes the terminal: the progress line goes first.
                if let Some(hook) = self.out.before_first_write.take() {
                    hook();
                }
                if crate::pager::page(&pager, text).is_ok() {
                    return Ok(());
                }
                // A pager that cannot start: print as if there were none.
            }
        }
        self.out.write_all(text.as_bytes())?;
        Ok(())
    }

    fn table(&self, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<String> {
        let cells = cells(batches, &self.null)?;
        let table = render_table(schema, &cells, None);
        let too_wide = |text: &str| {
            self.screen.is_some_and(|(_, width)| {
                text.lines().map(UnicodeWidthStr::width).max().unwrap_or(0) > width
            })
        };
        let expanded = match self.expanded {
            Expanded::On => true,
            Expanded::Off => false,
            Expanded::Auto => too_wide(&table),
        };
        if expanded {
            return Ok(render_expanded(schema, &cells));
        }
        // Wider than the terminal and no pager to scroll it sideways: wrap the cells to fit.
        if self.pager.is_none()
            && too_wide(&table)
            && let Some((_, width)) = self.screen
        {
            return Ok(render_table(schema, &cells, Some(width)));
        }
        Ok(table)
    }

    fn markdown(&self, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<String> {
        let escape = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        let mut text = String::new();
        let names: Vec<String> = schema.fields().iter().map(|f| escape(f.name())).collect();
        text.push_str(&format!("| {} |\n", names.join(" | ")));
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
        text.push_str(&format!("| {} |\n", rules.join(" | ")));
        for row in cells(batches, &self.null)? {
            let row: Vec<String> = row.iter().map(|c| escape(c)).collect();
            text.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        Ok(text)
    }
}

/// The table with borders, numbers right-aligned; wrapped to `width` columns if given.
pub fn render_table(schema: &SchemaRef, cells: &[Vec<String>], width: Option<usize>) -> String {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .apply_modifier(comfy_table::modifiers::UTF8_ROUND_CORNERS)
        .set_header(schema.fields().iter().map(|f| f.name().as_str()));
    match width {
        Some(width) => {
            table
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(u16::try_from(width).unwrap_or(u16::MAX));
        }
        None => {
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    for row in cells {
        table.add_row(row);
    }
    for (i, field) in schema.fields().iter().enumerate() {
        if is_numeric(field.data_type())
            && let Some(column) = table.column_mut(i)
        {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    format!("{table}\n")
}

/// psql's expanded display: a header per record, then `column | value` lines.
pub fn render_expanded(schema: &SchemaRef, cells: &[Vec<String>]) -> String {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let name_width = names.iter().map(|n| n.width()).max().unwrap_or(0);
    let value_width = cells
        .iter()
        .flatten()
        .flat_map(|v| v.lines().map(UnicodeWidthStr::width))
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    if cells.is_empty() {
        text.push_str("(0 rows)\n");
    }
    for (i, row) in cells.iter().enumerate() {
        let header = format!("-[ RECORD {} ]", i + 1);
        let rule = (name_width + value_width + 3).saturating_sub(header.width());
        text.push_str(&format!("{header}{}\n", "-".repeat(rule)));
        for (name, value) in names.iter().zip(row) {
            let pad = " ".repeat(name_width - name.width());
            let mut lines = value.lines();
            let first = lines.next().unwrap_or("");
            text.push_str(format!("{name}{pad} | {first}").trim_end());
            text.push('\n');
            for more in lines {
                text.push_str(format!("{} | {more}", " ".repeat(name_width)).trim_end());
                text.push('\n');
            }
        }
    }
    text
}

/// A writer that remembers the kind of its last I/O error: arrow's CSV writer reports I/O errors
/// as text (`CsvError(String)`), which would hide a closed pipe from the caller.
struct Remembering<W> {
    inner: W,
    last_error: Option<std::io::ErrorKind>,
    /// Called once before the first byte (the shell's progress line clears).
    before_first_write: Option<Box<dyn FnOnce() + Send>>,
}

impl<W: Write> Write for Remembering<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(hook) = self.before_first_write.take() {
            hook();
        }
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

/// A batch as JSON in `F`'s form (an array, or a line per row), nulls written out.
fn json<F: arrow::json::writer::JsonFormat>(batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
    let mut text = Vec::new();
    let mut writer = arrow::json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, F>(&mut text);
    writer.write(batch)?;
    writer.finish()?;
    drop(writer);
    Ok(text)
}

/// Encodes the batches of `stream` with `encode` on the blocking thread pool, two per core
/// at once, and writes their text to `out` in the stream's order, `before` called
/// ahead of each batch's text (`true` for the first); returns the number of rows. The output is
/// what encoding one batch after another would write, but the text of big results is made on
/// every core while the scan goes on, and memory stays a few batches. Without a Tokio runtime
/// (unit tests) each batch is encoded in turn.
async fn write_encoded(
    stream: &mut (impl Stream<Item = Result<RecordBatch, EngineError>> + Unpin),
    out: &mut impl Write,
    encode: impl Fn(&RecordBatch) -> Result<Vec<u8>, ArrowError> + Send + Sync + 'static,
    mut before: impl FnMut(&mut dyn Write, bool) -> std::io::Result<()>,
) -> Result<u64> {
    let encode = Arc::new(encode);
    let runtime = tokio::runtime::Handle::try_current().ok();
    // Two batches per core: every core has one to encode while the writer writes.
    let at_once = 2 * std::thread::available_parallelism().map_or(2, |n| n.get());
    // In order, errors too: the rows before a failure are printed, then it.
    let mut encoded = stream
        .map(|batch| {
            let encode = Arc::clone(&encode);
            let runtime = runtime.clone();
            async move {
                let batch = batch?;
                let rows = batch.num_rows() as u64;
                let text = match runtime {
                    Some(runtime) => runtime
                        .spawn_blocking(move || encode(&batch))
                        .await
                        .map_err(|e| anyhow::anyhow!("encoding the rows failed: {e}"))??,
                    None => encode(&batch)?,
                };
                Ok::<_, anyhow::Error>((rows, text))
            }
        })
        .buffered(at_once);
    let mut rows = 0;
    while let Some((n, text)) = encoded.try_next().await? {
        if n == 0 {
            continue;
        }
        before(out, rows == 0)?;
        rows += n;
        out.write_all(&text)?;
    }
    Ok(rows)
}

/// Every row of `batches` as display strings, NULL as `null`.
pub fn cells(batches: &[RecordBatch], null: &str) -> Result<Vec<Vec<String>>> {
    let options = format_options().with_null(null);
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

    /// Rows in several batches (some empty, text needing escapes, nulls, timestamps).
    fn batches() -> (SchemaRef, Vec<RecordBatch>) {
        use arrow::array::{StringArray, TimestampMicrosecondArray};
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
            Field::new(
                "t",
                DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None),
                true,
            ),
        ]));
        let batch = |from: i64, rows: i64| {
            let n = (from..from + rows).map(|i| (i % 7 != 3).then_some(i));
            let s = (from..from + rows).map(|i| match i % 4 {
                0 => None,
                1 => Some(format!("a,\"b\"\n{i}")),
                2 => Some(String::new()),
                _ => Some(format!("ü{i}")),
            });
            let t = (from..from + rows).map(|i| Some(1_705_276_800_000_000 + i * 3_600_000_123));
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int64Array::from_iter(n)),
                    Arc::new(StringArray::from_iter(s)),
                    Arc::new(TimestampMicrosecondArray::from_iter(t)),
                ],
            )
            .unwrap()
        };
        let batches = vec![
            batch(0, 0),
            batch(0, 5),
            batch(5, 0),
            batch(5, 1),
            batch(6, 300),
        ];
        (schema, batches)
    }

    fn print_batches(format: OutputFormat, on_runtime: bool) -> String {
        let (schema, batches) = batches();
        let stream = futures::stream::iter(batches.into_iter().map(Ok));
        let output = QueryOutput::new(
            Arc::clone(&schema),
            Box::pin(RecordBatchStreamAdapter::new(schema, stream)),
        );
        let mut out = Vec::new();
        let mut printer = Printer::new(format, &mut out, None);
        let print = printer.print(output);
        let rows = if on_runtime {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .unwrap()
                .block_on(print)
        } else {
            futures::executor::block_on(print)
        };
        assert_eq!(rows.unwrap(), 306);
        String::from_utf8(out).unwrap()
    }

    /// Batches encoded at once on several threads print what one writer writes batch after
    /// batch: CSV and TSV (header once), JSON (one array), NDJSON.
    #[test]
    fn batches_encoded_in_parallel_print_as_one_writer_writes_them() {
        let (schema, batches) = batches();
        let mut csv = Vec::new();
        let mut encoder = crate::csv::Encoder::new(b',');
        encoder.write_header(&schema, &mut csv).unwrap();
        for batch in &batches {
            encoder.write(&textual(batch).unwrap(), &mut csv).unwrap();
        }
        let mut json = Vec::new();
        let mut writer = arrow::json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow::json::writer::JsonArray>(&mut json);
        let mut ndjson = Vec::new();
        let mut lines = arrow::json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow::json::writer::LineDelimited>(&mut ndjson);
        for batch in &batches {
            writer.write(batch).unwrap();
            lines.write(batch).unwrap();
        }
        writer.finish().unwrap();
        lines.finish().unwrap();
        drop((writer, lines));
        json.push(b'\n');
        for on_runtime in [false, true] {
            let csv = String::from_utf8(csv.clone()).unwrap();
            assert_eq!(print_batches(OutputFormat::Csv, on_runtime), csv);
            assert!(csv.contains("\"a,\"\"b\"\"\n1\""), "{csv}");
            assert_eq!(
                print_batches(OutputFormat::Json, on_runtime),
                String::from_utf8(json.clone()).unwrap()
            );
            assert_eq!(
                print_batches(OutputFormat::Ndjson, on_runtime),
                String::from_utf8(ndjson.clone()).unwrap()
            );
        }
        // A failure after some rows: those rows are printed, then the error.
        let failing = futures::stream::iter(batches.clone().into_iter().map(Ok).chain([Err(
            datafusion::error::DataFusionError::Execution("disk on fire".into()),
        )]));
        let output = QueryOutput::new(
            Arc::clone(&schema),
            Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&schema), failing)),
        );
        let mut out = Vec::new();
        let mut printer = Printer::new(OutputFormat::Ndjson, &mut out, None);
        let printed = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap()
            .block_on(printer.print(output));
        assert!(printed.unwrap_err().to_string().contains("disk on fire"));
        assert_eq!(out, ndjson);
        let tsv = print_batches(OutputFormat::Tsv, true);
        assert!(tsv.starts_with("n\ts\tt\n0\t\t2024-01-15"), "{tsv}");
    }

    #[test]
    fn the_shell_table_shows_a_capped_number_of_rows_and_counts_the_rest() {
        let (rows, text) = printed(OutputFormat::Table, Some(2), vec![10, 20, 30, 40, 50]);
        assert_eq!(rows, 5);
        assert!(
            text.contains("│ 10 │") && text.contains("│ 20 │") && !text.contains("30"),
            "{text}"
        );
        assert!(
            text.ends_with("… 3 more rows (2 of 5 shown: add LIMIT, or \\o FILE for all)\n"),
            "{text}"
        );
    }

    #[test]
    fn expanded_and_fitted_tables() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("region", DataType::Utf8, true),
            Field::new("views", DataType::Int64, false),
            Field::new("note", DataType::Utf8, true),
        ]));
        let cells = vec![
            vec![
                "서울 강남구".to_string(),
                "1200".to_string(),
                "a note long enough that a narrow terminal must wrap it".to_string(),
            ],
            vec![
                "NULL".to_string(),
                "3".to_string(),
                "two\nlines".to_string(),
            ],
        ];
        insta::assert_snapshot!("expanded", render_expanded(&schema, &cells));
        let fitted = render_table(&schema, &cells, Some(40));
        assert!(fitted.lines().all(|l| l.width() <= 40), "{fitted}");
        insta::assert_snapshot!("fitted", fitted);
        assert_eq!(render_expanded(&schema, &[]), "(0 rows)\n");
    }

    fn printed_on_screen(
        expanded: Expanded,
        screen: (usize, usize),
        pager: Option<&str>,
        values: Vec<i64>,
    ) -> String {
        let mut out = Vec::new();
        let mut printer = Printer::new(OutputFormat::Table, &mut out, None);
        printer.configure(
            OutputFormat::Table,
            "NULL",
            expanded,
            Some(screen),
            pager.map(str::to_string),
        );
        futures::executor::block_on(printer.print(output_of(values))).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn auto_expands_only_what_does_not_fit_and_an_unrunnable_pager_prints_instead() {
        let wide = printed_on_screen(Expanded::Auto, (50, 5), None, vec![1_234_567]);
        assert!(wide.starts_with("-[ RECORD 1 ]"), "{wide}");
        let fits = printed_on_screen(Expanded::Auto, (50, 80), None, vec![1_234_567]);
        assert!(fits.contains("│ 1234567 │"), "{fits}");
        // 60 rows on a screen of 50, and a pager the shell cannot find: printed as it is.
        let tall = printed_on_screen(
            Expanded::Off,
            (50, 80),
            Some("no-such-pager-for-minerva"),
            (0..60).collect(),
        );
        assert!(tall.contains("│ 59 │"), "{tall}");
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
