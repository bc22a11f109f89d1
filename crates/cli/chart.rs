//! Charts in the terminal: `\chart` and `--format bar`. A result's text columns label the rows
//! and its numeric columns are drawn: as horizontal bars (one per label and column, negative
//! values to the left of the axis), or, for a series over dates or timestamps, as a sparkline
//! per column. Widths are display widths: Korean text takes two columns a character.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::kernels::cast::cast;
use arrow::datatypes::{DataType, Float64Type, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// How to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A line for a date or time series, bars otherwise.
    Auto,
    Bars,
    Line,
}

impl Kind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "" | "auto" => Some(Self::Auto),
            "bar" | "bars" => Some(Self::Bars),
            "line" | "series" | "spark" => Some(Self::Line),
            _ => None,
        }
    }
}

/// Why a result cannot be drawn.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChartError {
    #[error("nothing to chart: run a query first")]
    NoResult,
    #[error(
        "cannot chart this result: it has no numeric column (a chart needs a label column and one or more numeric ones)"
    )]
    NoNumbers,
    #[error("cannot chart this result: {0}")]
    Arrow(String),
}

/// The labels and numeric columns of a result.
struct Data {
    /// The label columns' names, joined.
    label_name: String,
    labels: Vec<String>,
    /// Whether the labels are dates or timestamps in order: a series.
    temporal: bool,
    columns: Vec<(String, Vec<Option<f64>>, Vec<String>)>,
}

fn is_number(ty: &DataType) -> bool {
    ty.is_numeric() || matches!(ty, DataType::Dictionary(_, v) if v.is_numeric())
}

fn is_temporal(ty: &DataType) -> bool {
    ty.is_temporal() || matches!(ty, DataType::Dictionary(_, v) if v.is_temporal())
}

fn extract(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Data, ChartError> {
    let arrow = |e: arrow::error::ArrowError| ChartError::Arrow(e.to_string());
    let fields = schema.fields();
    let numeric: Vec<usize> = (0..fields.len())
        .filter(|&i| is_number(fields[i].data_type()))
        .collect();
    if numeric.is_empty() {
        return Err(ChartError::NoNumbers);
    }
    let label_columns: Vec<usize> = (0..fields.len()).filter(|i| !numeric.contains(i)).collect();
    let temporal = label_columns.len() == 1 && is_temporal(fields[label_columns[0]].data_type());
    let options = FormatOptions::default()
        .with_null("NULL")
        .with_timestamp_format(Some(minerva_engine::display::TIMESTAMP_FORMAT));
    let mut labels = Vec::new();
    let mut columns: Vec<(String, Vec<Option<f64>>, Vec<String>)> = numeric
        .iter()
        .map(|&i| (fields[i].name().clone(), Vec::new(), Vec::new()))
        .collect();
    for batch in batches {
        let formatters = label_columns
            .iter()
            .map(|&i| ArrayFormatter::try_new(batch.column(i).as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(arrow)?;
        for row in 0..batch.num_rows() {
            labels.push(if formatters.is_empty() {
                (labels.len() + 1).to_string()
            } else {
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect::<Vec<_>>()
                    .join(" · ")
            });
        }
        for (slot, &i) in numeric.iter().enumerate() {
            let column = batch.column(i);
            let values = cast(column, &DataType::Float64).map_err(arrow)?;
            let values = values.as_primitive::<Float64Type>();
            let shown = ArrayFormatter::try_new(column.as_ref(), &options).map_err(arrow)?;
            for row in 0..batch.num_rows() {
                columns[slot]
                    .1
                    .push((!values.is_null(row)).then(|| values.value(row)));
                columns[slot].2.push(shown.value(row).to_string());
            }
        }
    }
    let label_name = label_columns
        .iter()
        .map(|&i| fields[i].name().as_str())
        .collect::<Vec<_>>()
        .join(" · ");
    Ok(Data {
        label_name,
        labels,
        temporal,
        columns,
    })
}

/// Draws `batches` in at most `width` terminal columns.
pub fn draw(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    kind: Kind,
    width: usize,
) -> Result<String, ChartError> {
    let data = extract(schema, batches)?;
    let line = match kind {
        Kind::Auto => data.temporal && data.labels.len() > 1,
        Kind::Bars => false,
        Kind::Line => true,
    };
    Ok(if line {
        sparklines(&data, width)
    } else {
        bars(&data, width)
    })
}

/// `text` cut to `width` display columns (with `…`) and padded to it.
fn fit(text: &str, width: usize) -> String {
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    if text.width() <= width {
        let pad = width - text.width();
        return format!("{text}{}", " ".repeat(pad));
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    used += 1;
    format!("{out}{}", " ".repeat(width.saturating_sub(used)))
}

/// A bar of `cells` (fractional: eighths of a cell are drawn) growing right.
fn bar_right(cells: f64) -> String {
    const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = (cells * 8.0).round() as usize;
    let mut bar = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        bar.push(EIGHTHS[eighths % 8]);
    }
    bar
}

fn bars(data: &Data, width: usize) -> String {
    const MAX_LABEL: usize = 30;
    let several = data.columns.len() > 1;
    let label_width = data
        .labels
        .iter()
        .map(|l| l.width())
        .chain(
            several
                .then(|| data.columns.iter().map(|c| c.0.width() + 2))
                .into_iter()
                .flatten(),
        )
        .max()
        .unwrap_or(0)
        .min(MAX_LABEL);
    let value_width = data
        .columns
        .iter()
        .flat_map(|c| c.2.iter().map(|v| v.width()))
        .max()
        .unwrap_or(0);
    let all = || {
        data.columns
            .iter()
            .flat_map(|c| c.1.iter().flatten().copied())
    };
    let most = all().fold(0.0f64, f64::max);
    let least = all().fold(0.0f64, f64::min);
    let span = most - least;
    // Label, a space, the bar area, a space, the value.
    let area = width.saturating_sub(label_width + value_width + 2).max(10);
    let scale = if span > 0.0 { area as f64 / span } else { 0.0 };
    let left = (-least * scale).round() as usize;
    let mut out = String::new();
    let names: Vec<&str> = data.columns.iter().map(|c| c.0.as_str()).collect();
    let title = format!("{} by {}", names.join(", "), data.label_name);
    out.push_str(title.trim_end_matches(" by "));
    out.push('\n');
    for (row, label) in data.labels.iter().enumerate() {
        for (name, values, shown) in &data.columns {
            let label = if several {
                // The label once, then the columns indented under it.
                if name == &data.columns[0].0 {
                    out.push_str(&fit(label, label_width));
                    out.push('\n');
                }
                fit(&format!("  {name}"), label_width)
            } else {
                fit(label, label_width)
            };
            let drawn = match values[row] {
                None => " ".repeat(area),
                Some(v) if v < 0.0 => {
                    // Whole cells only: the partial blocks are drawn from the left.
                    let bar = "█".repeat(((-v * scale).round() as usize).max(1));
                    let pad = left.saturating_sub(bar.chars().count());
                    format!(
                        "{}{}│{}",
                        " ".repeat(pad),
                        bar,
                        " ".repeat(area.saturating_sub(left + 1))
                    )
                }
                Some(v) => {
                    let bar = bar_right(v * scale);
                    let axis = if least < 0.0 {
                        format!("{}│", " ".repeat(left))
                    } else {
                        String::new()
                    };
                    let used = axis.chars().count() + bar.chars().count();
                    format!("{axis}{bar}{}", " ".repeat(area.saturating_sub(used)))
                }
            };
            out.push_str(&format!(
                "{label} {drawn} {:>value_width$}\n",
                shown[row],
                value_width = value_width
            ));
        }
    }
    // No trailing spaces: terminals and snapshots do not need them.
    out.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn sparklines(data: &Data, width: usize) -> String {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let name_width = data.columns.iter().map(|c| c.0.width()).max().unwrap_or(0);
    let points = data.labels.len();
    let area = width.saturating_sub(name_width + 2).clamp(8, points.max(8));
    let mut out = format!(
        "{} by {} ({} points, {} … {})\n",
        data.columns
            .iter()
            .map(|c| c.0.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        data.label_name,
        points,
        data.labels.first().map(String::as_str).unwrap_or(""),
        data.labels.last().map(String::as_str).unwrap_or("")
    );
    for (name, values, _) in &data.columns {
        // More points than cells: each cell shows the mean of its points.
        let cells = area.min(points);
        let mut means = Vec::with_capacity(cells);
        for cell in 0..cells {
            let from = cell * points / cells;
            let to = ((cell + 1) * points / cells).max(from + 1);
            let known: Vec<f64> = values[from..to].iter().flatten().copied().collect();
            means.push((!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64));
        }
        let known = means.iter().flatten().copied();
        let low = known.clone().fold(f64::INFINITY, f64::min);
        let high = known.fold(f64::NEG_INFINITY, f64::max);
        let line: String = means
            .iter()
            .map(|m| match m {
                None => ' ',
                Some(_) if high <= low => LEVELS[3],
                Some(v) => LEVELS[(((v - low) / (high - low)) * 7.0).round() as usize],
            })
            .collect();
        let number = |v: f64| {
            if v.fract() == 0.0 && v.abs() < 1e15 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        };
        let range = if low.is_finite() {
            format!("  min {}  max {}", number(low), number(high))
        } else {
            "  (all NULL)".to_string()
        };
        out.push_str(&format!("{} {line}{range}\n", fit(name, name_width)));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Date32Array, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    fn result(labels: Vec<Option<&str>>, values: Vec<Option<i64>>) -> (SchemaRef, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("region", DataType::Utf8, true),
            Field::new("views", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from(labels)),
                Arc::new(Int64Array::from(values)),
            ],
        )
        .unwrap();
        (schema, batch)
    }

    #[test]
    fn bars_with_korean_labels_nulls_and_long_names() {
        let (schema, batch) = result(
            vec![
                Some("서울 강남구"),
                Some("부산 해운대구"),
                None,
                Some("a label much longer than thirty display columns"),
                Some("제주"),
            ],
            vec![Some(1200), Some(800), Some(300), Some(50), None],
        );
        insta::assert_snapshot!(draw(&schema, &[batch], Kind::Auto, 60).unwrap());
    }

    #[test]
    fn bars_with_negative_values_have_an_axis() {
        let (schema, batch) = result(
            vec![Some("gain"), Some("loss"), Some("flat")],
            vec![Some(30), Some(-10), Some(0)],
        );
        insta::assert_snapshot!(draw(&schema, &[batch], Kind::Bars, 50).unwrap());
    }

    #[test]
    fn a_date_series_is_a_sparkline_and_several_columns_are_grouped() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("week", DataType::Date32, false),
            Field::new("views", DataType::Int64, true),
            Field::new("share", DataType::Float64, true),
        ]));
        let weeks: Vec<i32> = (0..10).map(|w| 19723 + 7 * w).collect();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Date32Array::from(weeks)),
                Arc::new(Int64Array::from(vec![
                    Some(5),
                    Some(9),
                    Some(14),
                    None,
                    Some(20),
                    Some(18),
                    Some(25),
                    Some(31),
                    Some(28),
                    Some(40),
                ])),
                Arc::new(Float64Array::from(vec![0.5; 10])),
            ],
        )
        .unwrap();
        insta::assert_snapshot!(
            "series",
            draw(&schema, std::slice::from_ref(&batch), Kind::Auto, 60).unwrap()
        );
        insta::assert_snapshot!(
            "series_as_bars",
            draw(&schema, &[batch.slice(0, 3)], Kind::Bars, 50).unwrap()
        );
    }

    #[test]
    fn a_result_without_numbers_is_refused() {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, true)]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(StringArray::from(vec!["x"]))],
        )
        .unwrap();
        assert_eq!(
            draw(&schema, &[batch], Kind::Auto, 40),
            Err(ChartError::NoNumbers)
        );
    }

    #[test]
    fn labels_are_cut_and_padded_by_display_width() {
        assert_eq!(fit("서울", 6), "서울  ");
        assert_eq!(fit("서울특별시", 6), "서울… ");
        assert_eq!(fit("abcdefgh", 5), "abcd…");
    }
}
