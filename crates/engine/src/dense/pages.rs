//! `bigint` column chunks decoded from their pages straight into arrays.
//!
//! The Parquet reader decodes a nullable, dictionary-encoded `INT64` column in passes: the
//! non-null values gathered from the dictionary into a zeroed buffer, then moved back to their
//! rows (`pad_nulls`), the validity decoded beside. A measure column (`sum(price)`) is read
//! whole for every row it aggregates, so here a batch's definition levels are read first, then
//! all its values in one run of gathers (a repeated dictionary index is one fill; bit-packed
//! indices are unpacked eight at a time by a loop compiled for their width), then the values are
//! placed at their rows a byte of levels (eight rows) at once, without a branch per row. The
//! array is
//! the one the reader would give (values, nulls), which `dense::pages::tests` check across
//! encodings, page versions, page sizes and batch sizes.
//!
//! Only chunks whose encodings are PLAIN, dictionary or RLE levels are decoded here
//! ([`Int64Pages::decodes`]); anything else is left to the reader.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{BooleanBufferBuilder, Int64Array};
use arrow::buffer::{NullBuffer, ScalarBuffer};
use arrow::util::bit_chunk_iterator::UnalignedBitChunk;
use bytes::{Buf, Bytes};
use parquet::basic::{Encoding, Type as PhysicalType};
use parquet::column::page::{Page, PageReader};
use parquet::errors::ParquetError;
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::serialized_reader::SerializedPageReader;

/// Why a column chunk's pages cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PageError {
    /// The pages cannot be read (a page header, decompression).
    #[error("column '{column}': {source}")]
    Parquet {
        /// The column.
        column: String,
        /// The reader's error.
        #[source]
        source: ParquetError,
    },
    /// The pages contradict themselves or their metadata.
    #[error("column '{column}': corrupt pages: {problem}")]
    Corrupt {
        /// The column.
        column: String,
        /// What does not add up.
        problem: &'static str,
    },
    /// A page is encoded in a way the chunk's metadata did not list.
    #[error(
        "column '{column}': a page encoded as {encoding}, which its chunk's metadata did not announce for its values or levels"
    )]
    Unlisted {
        /// The column.
        column: String,
        /// The page's encoding.
        encoding: Encoding,
    },
}

/// A column chunk's bytes, read at the file offsets its metadata gives.
struct ChunkBytes {
    start: u64,
    bytes: Bytes,
}

impl ChunkBytes {
    fn slice(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let from = start
            .checked_sub(self.start)
            .and_then(|from| usize::try_from(from).ok())
            .filter(|from| from.saturating_add(length) <= self.bytes.len())
            .ok_or_else(|| {
                ParquetError::EOF(format!(
                    "bytes {start}..{} lie outside the column chunk",
                    start.saturating_add(length as u64)
                ))
            })?;
        Ok(self.bytes.slice(from..from + length))
    }
}

impl Length for ChunkBytes {
    fn len(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }
}

impl ChunkReader for ChunkBytes {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let rest = self.len().saturating_sub(start) as usize;
        Ok(self.slice(start, rest)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.slice(start, length)
    }
}

/// One `INT64` column chunk (not repeated, at most one definition level), read batch by batch.
pub(crate) struct Int64Pages {
    column: String,
    pages: SerializedPageReader<ChunkBytes>,
    nullable: bool,
    dictionary: Option<Vec<i64>>,
    page: Option<DataPage>,
    /// The values of a run of definition levels with nulls, before they are placed.
    dense: Vec<i64>,
}

/// The data page being read: its definition levels (if the column is nullable), its values,
/// and how many levels (rows) are left.
struct DataPage {
    levels: Option<Hybrid>,
    values: Values,
    left: usize,
}

impl Int64Pages {
    /// Whether chunks of this column can be read here: `INT64`, not repeated, at most one
    /// definition level, and pages encoded only as PLAIN or dictionary values with RLE levels.
    // BIT_PACKED is deprecated for writing; files still list it.
    #[allow(deprecated)]
    pub(crate) fn decodes(chunk: &ColumnChunkMetaData) -> bool {
        let descr = chunk.column_descr();
        descr.physical_type() == PhysicalType::INT64
            && descr.max_rep_level() == 0
            && descr.max_def_level() <= 1
            && chunk.encodings().all(|encoding| match encoding {
                Encoding::PLAIN
                | Encoding::PLAIN_DICTIONARY
                | Encoding::RLE_DICTIONARY
                | Encoding::RLE => true,
                // Old writers list it for repetition levels they never write; a nullable
                // column's definition levels could be so encoded.
                Encoding::BIT_PACKED => descr.max_def_level() == 0,
                _ => false,
            })
    }

    /// Reads `chunk` (which [`Int64Pages::decodes`]) from `bytes`, its byte range in the file;
    /// `rows`: the rows of its row group.
    pub(crate) fn new(
        column: &str,
        chunk: &ColumnChunkMetaData,
        bytes: Bytes,
        rows: usize,
    ) -> Result<Self, PageError> {
        let (start, _) = chunk.byte_range();
        let pages =
            SerializedPageReader::new(Arc::new(ChunkBytes { start, bytes }), chunk, rows, None)
                .map_err(|source| PageError::Parquet {
                    column: column.to_string(),
                    source,
                })?;
        Ok(Self {
            column: column.to_string(),
            pages,
            nullable: chunk.column_descr().max_def_level() == 1,
            dictionary: None,
            page: None,
            dense: Vec::new(),
        })
    }

    fn corrupt(&self, problem: &'static str) -> PageError {
        PageError::Corrupt {
            column: self.column.clone(),
            problem,
        }
    }

    /// The next `rows` rows' values.
    pub(crate) fn next_batch(&mut self, rows: usize) -> Result<Int64Array, PageError> {
        let mut values: Vec<i64> = Vec::with_capacity(rows);
        let mut validity = self.nullable.then(|| BooleanBufferBuilder::new(rows));
        while values.len() < rows {
            if self.page.as_ref().is_none_or(|page| page.left == 0) {
                if !self.next_page()? {
                    return Err(self.corrupt("fewer rows than its row group holds"));
                }
                continue;
            }
            let page = self.page.as_mut().expect("checked above");
            let take = (rows - values.len()).min(page.left);
            let dictionary = self.dictionary.as_deref().unwrap_or_default();
            let read = match (&mut page.levels, &mut validity) {
                (Some(levels), Some(validity)) => read_levels(
                    levels,
                    &mut page.values,
                    take,
                    dictionary,
                    &mut values,
                    validity,
                    &mut self.dense,
                ),
                _ => page.values.read(take, dictionary, &mut values),
            };
            read.map_err(|problem| self.corrupt(problem))?;
            let page = self.page.as_mut().expect("checked above");
            page.left -= take;
        }
        let nulls = validity
            .map(|mut v| NullBuffer::new(v.finish()))
            .filter(|nulls| nulls.null_count() > 0);
        Ok(Int64Array::new(ScalarBuffer::from(values), nulls))
    }

    /// Moves to the next data page (reading a dictionary page on the way); false at the end.
    fn next_page(&mut self) -> Result<bool, PageError> {
        loop {
            let page = self
                .pages
                .get_next_page()
                .map_err(|source| PageError::Parquet {
                    column: self.column.clone(),
                    source,
                })?;
            let (buf, num_values, encoding, levels) = match page {
                None => return Ok(false),
                Some(Page::DictionaryPage {
                    buf,
                    num_values,
                    encoding,
                    ..
                }) => {
                    if !matches!(encoding, Encoding::PLAIN | Encoding::PLAIN_DICTIONARY) {
                        return Err(self.unlisted(encoding));
                    }
                    let n = num_values as usize;
                    if buf.len() < n.saturating_mul(8) {
                        return Err(self.corrupt("a dictionary page shorter than its entries"));
                    }
                    self.dictionary = Some(plain(&buf[..n * 8]).collect());
                    continue;
                }
                Some(Page::DataPage {
                    buf,
                    num_values,
                    encoding,
                    def_level_encoding,
                    ..
                }) => {
                    let levels = match self.nullable {
                        false => 0,
                        true if def_level_encoding != Encoding::RLE => {
                            return Err(self.unlisted(def_level_encoding));
                        }
                        true => {
                            let length = buf
                                .get(..4)
                                .map(|b| u32::from_le_bytes(b.try_into().expect("four bytes")))
                                .ok_or_else(|| self.corrupt("a data page cut short"))?;
                            4 + length as usize
                        }
                    };
                    if buf.len() < levels {
                        return Err(self.corrupt("a data page cut short"));
                    }
                    let defs = buf.slice(levels.min(4)..levels);
                    (buf.slice(levels..), num_values, encoding, defs)
                }
                Some(Page::DataPageV2 {
                    buf,
                    num_values,
                    encoding,
                    def_levels_byte_len,
                    rep_levels_byte_len,
                    ..
                }) => {
                    let rep = rep_levels_byte_len as usize;
                    let end = rep + def_levels_byte_len as usize;
                    if buf.len() < end {
                        return Err(self.corrupt("a data page cut short"));
                    }
                    (buf.slice(end..), num_values, encoding, buf.slice(rep..end))
                }
            };
            let values = match encoding {
                Encoding::PLAIN => Values::Plain(buf),
                Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY => {
                    if self.dictionary.is_none() {
                        return Err(self.corrupt("dictionary indices without a dictionary page"));
                    }
                    match buf.first() {
                        // No values (every row null): no bit width either.
                        None => Values::Plain(buf),
                        Some(&width) if width > 32 => {
                            return Err(self.corrupt("dictionary indices wider than 32 bits"));
                        }
                        Some(&width) => Values::Indices(Hybrid::new(buf.slice(1..), width.into())),
                    }
                }
                other => return Err(self.unlisted(other)),
            };
            self.page = Some(DataPage {
                levels: self.nullable.then(|| Hybrid::new(levels, 1)),
                values,
                left: num_values as usize,
            });
            return Ok(true);
        }
    }

    fn unlisted(&self, encoding: Encoding) -> PageError {
        PageError::Unlisted {
            column: self.column.clone(),
            encoding,
        }
    }
}

/// Reads `take` rows of a nullable column: their definition levels into `validity` first,
/// then all their values in one run of gathers (`dense`), then each placed at its row.
fn read_levels(
    levels: &mut Hybrid,
    values: &mut Values,
    take: usize,
    dictionary: &[i64],
    out: &mut Vec<i64>,
    validity: &mut BooleanBufferBuilder,
    dense: &mut Vec<i64>,
) -> Result<(), &'static str> {
    let start = validity.len();
    let mut valid = 0;
    let mut left = take;
    while left > 0 {
        let run = levels
            .next(left)?
            .ok_or("fewer definition levels than rows")?;
        match run {
            Run::Repeat(1, n) => {
                validity.append_n(n, true);
                valid += n;
                left -= n;
            }
            Run::Repeat(0, n) => {
                validity.append_n(n, false);
                left -= n;
            }
            Run::Repeat(..) => return Err("a definition level above the column's maximum"),
            Run::Packed { at, first, len } => {
                // One bit per level: the packed bytes are the validity bitmap.
                let bits = &levels.data[at..];
                validity.append_packed_range(first..first + len, bits);
                valid += UnalignedBitChunk::new(bits, first, len).count_ones();
                left -= len;
            }
        }
    }
    if valid == take {
        return values.read(take, dictionary, out);
    }
    dense.clear();
    values.read(valid, dictionary, dense)?;
    place(validity.as_slice(), start..start + take, dense, out);
    Ok(())
}

/// A data page's values.
enum Values {
    /// Little-endian `i64`s, one per non-null row.
    Plain(Bytes),
    /// Indices into the chunk's dictionary, one per non-null row.
    Indices(Hybrid),
}

impl Values {
    /// Appends the next `n` values to `out`.
    fn read(
        &mut self,
        n: usize,
        dictionary: &[i64],
        out: &mut Vec<i64>,
    ) -> Result<(), &'static str> {
        match self {
            Values::Plain(bytes) => {
                let size = n.checked_mul(8).filter(|&size| size <= bytes.len());
                let size = size.ok_or("fewer values than non-null rows")?;
                out.extend(plain(&bytes[..size]));
                bytes.advance(size);
            }
            Values::Indices(hybrid) => {
                let mut left = n;
                while left > 0 {
                    match hybrid
                        .next(left)?
                        .ok_or("fewer values than non-null rows")?
                    {
                        Run::Repeat(index, m) => {
                            let value = dictionary.get(index as usize).ok_or(PAST_DICTIONARY)?;
                            out.resize(out.len() + m, *value);
                            left -= m;
                        }
                        Run::Packed { at, first, len } => {
                            let data = &hybrid.data[at..];
                            gather(data, first..first + len, hybrid.width, dictionary, out)?;
                            left -= len;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

const PAST_DICTIONARY: &str = "a dictionary index past the dictionary's end";

/// Little-endian `i64`s.
fn plain(bytes: &[u8]) -> impl Iterator<Item = i64> + '_ {
    bytes
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().expect("eight bytes")))
}

/// A piece of a hybrid run: a value repeated `n` times, or `len` bit-packed values from the
/// `first`-th of the run whose bits start at byte `at`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Run {
    Repeat(u32, usize),
    Packed { at: usize, first: usize, len: usize },
}

/// Parquet's RLE / bit-packing hybrid encoding, read run by run.
struct Hybrid {
    data: Bytes,
    width: u32,
    pos: usize,
    /// What is left of the current run.
    run: Run,
}

impl Hybrid {
    fn new(data: Bytes, width: u32) -> Self {
        Self {
            data,
            width,
            pos: 0,
            run: Run::Repeat(0, 0),
        }
    }

    /// The next piece of at most `max` values; `None` at the end of the data.
    fn next(&mut self, max: usize) -> Result<Option<Run>, &'static str> {
        loop {
            match &mut self.run {
                Run::Repeat(value, left) if *left > 0 => {
                    let n = (*left).min(max);
                    *left -= n;
                    return Ok(Some(Run::Repeat(*value, n)));
                }
                Run::Packed { at, first, len } if *len > 0 => {
                    let n = (*len).min(max);
                    let piece = Run::Packed {
                        at: *at,
                        first: *first,
                        len: n,
                    };
                    *first += n;
                    *len -= n;
                    return Ok(Some(piece));
                }
                _ => {}
            }
            if self.pos >= self.data.len() {
                return Ok(None);
            }
            let header = self.varint()?;
            let count = usize::try_from(header >> 1).map_err(|_| RUN_TOO_LONG)?;
            let width = self.width as usize;
            if header & 1 == 1 {
                // Groups of eight values, `width` bytes each.
                let values = count.checked_mul(8).ok_or(RUN_TOO_LONG)?;
                let bytes = count.checked_mul(width).ok_or(RUN_TOO_LONG)?;
                let at = self.pos;
                let here = self.data.len() - at;
                // The last run may stop short of its padding: only whole values count.
                let len = match width {
                    0 => values,
                    _ => values.min(here * 8 / width),
                };
                self.pos = at + bytes.min(here);
                self.run = Run::Packed { at, first: 0, len };
            } else {
                let size = width.div_ceil(8);
                let bytes = self
                    .data
                    .get(self.pos..self.pos + size)
                    .ok_or("an RLE run cut short")?;
                let value = bytes
                    .iter()
                    .rev()
                    .fold(0u32, |v, &b| (v << 8) | u32::from(b));
                self.pos += size;
                self.run = Run::Repeat(value, count);
            }
        }
    }

    /// An unsigned LEB128 number.
    fn varint(&mut self) -> Result<u64, &'static str> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.data.get(self.pos).ok_or("a run header cut short")?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(RUN_TOO_LONG)
    }
}

const RUN_TOO_LONG: &str = "a run header past 64 bits";

/// Appends the values at rows `rows` of a run of definition levels (`bits`: one bit per row,
/// set where the row has a value), `dense` holding those values in order; a null row gets 0.
/// Whole bytes of levels are placed eight rows at once: copied where all eight rows have
/// values, zeros where none has, else selected without a branch per row (runs between nulls
/// are short, so a branch per row would be mispredicted often).
fn place(bits: &[u8], rows: Range<usize>, dense: &[i64], out: &mut Vec<i64>) {
    let mut next = 0;
    let mut bit = rows.start;
    let one = |bit: usize, next: &mut usize, out: &mut Vec<i64>| {
        if bits[bit / 8] >> (bit % 8) & 1 == 1 {
            out.push(dense[*next]);
            *next += 1;
        } else {
            out.push(0);
        }
    };
    while bit < rows.end && !bit.is_multiple_of(8) {
        one(bit, &mut next, out);
        bit += 1;
    }
    let whole = (rows.end - bit) / 8;
    for &byte in &bits[bit / 8..bit / 8 + whole] {
        match byte {
            0xff => {
                out.extend_from_slice(&dense[next..next + 8]);
                next += 8;
            }
            0 => out.extend_from_slice(&[0; 8]),
            _ => {
                // `byte` has fewer than eight bits set, so `dense[next..]` holds at least one
                // value and every index read below lies in it; a null row's read is masked.
                let last = dense.len() - 1;
                let mut values = [0i64; 8];
                for (k, value) in values.iter_mut().enumerate() {
                    let set = u64::from(byte >> k & 1);
                    *value = dense[next.min(last)] & (set as i64).wrapping_neg();
                    next += set as usize;
                }
                out.extend_from_slice(&values);
            }
        }
    }
    bit += whole * 8;
    while bit < rows.end {
        one(bit, &mut next, out);
        bit += 1;
    }
}

/// Appends the dictionary's values at the `indices`-th indices of `width` bits packed in
/// `data` (least significant bit first); an error if one lies past the dictionary's end.
/// Whole groups of eight indices are unpacked by a loop compiled for their width.
fn gather(
    data: &[u8],
    indices: Range<usize>,
    width: u32,
    dictionary: &[i64],
    out: &mut Vec<i64>,
) -> Result<(), &'static str> {
    let Some(last) = dictionary.len().checked_sub(1) else {
        return match indices.is_empty() {
            true => Ok(()),
            false => Err(PAST_DICTIONARY),
        };
    };
    if width == 0 {
        out.resize(out.len() + indices.len(), dictionary[0]);
        return Ok(());
    }
    let mut past = false;
    let mut one = |i: usize| {
        let index = unpack_one(data, i, width) as usize;
        past |= index > last;
        dictionary[index.min(last)]
    };
    let mut i = indices.start;
    while i < indices.end && !i.is_multiple_of(8) {
        out.push(one(i));
        i += 1;
    }
    let groups = (indices.end - i) / 8;
    if groups > 0 {
        let at = i / 8 * width as usize;
        let bytes = &data[at..at + groups * width as usize];
        macro_rules! widths {
            ($($w:literal)*) => {
                match width {
                    $($w => past |= gather_groups::<$w>(bytes, dictionary, out),)*
                    _ => unreachable!("widths past 32 bits are rejected with the page"),
                }
            };
        }
        widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
        i += groups * 8;
    }
    let mut one = |i: usize| {
        let index = unpack_one(data, i, width) as usize;
        past |= index > last;
        dictionary[index.min(last)]
    };
    while i < indices.end {
        out.push(one(i));
        i += 1;
    }
    match past {
        true => Err(PAST_DICTIONARY),
        false => Ok(()),
    }
}

/// Appends the dictionary values of each group of eight `W`-bit indices in `bytes` (`W` bytes a
/// group); true if an index lies past the dictionary's end.
#[inline(always)]
fn gather_groups<const W: usize>(bytes: &[u8], dictionary: &[i64], out: &mut Vec<i64>) -> bool {
    let last = dictionary.len() - 1;
    let mut past = false;
    for group in bytes.chunks_exact(W) {
        let group: &[u8; W] = group.try_into().expect("W bytes");
        let mut values = [0i64; 8];
        for (k, value) in values.iter_mut().enumerate() {
            let index = extract::<W>(group, k) as usize;
            past |= index > last;
            *value = dictionary[index.min(last)];
        }
        out.extend_from_slice(&values);
    }
    past
}

/// The `k`-th `W`-bit value of a group of eight.
#[inline(always)]
fn extract<const W: usize>(group: &[u8; W], k: usize) -> u32 {
    let bit = k * W;
    let (byte, shift) = (bit / 8, bit % 8);
    let mut word = 0u64;
    for b in 0..(shift + W).div_ceil(8) {
        word |= u64::from(group[byte + b]) << (8 * b);
    }
    ((word >> shift) & ((1u64 << W) - 1)) as u32
}

/// The `i`-th value of `width` bits packed in `data`, whose bits lie within `data`.
fn unpack_one(data: &[u8], i: usize, width: u32) -> u32 {
    let width = width as usize;
    let bit = i * width;
    let (byte, shift) = (bit / 8, bit % 8);
    let mut word = 0u64;
    for (b, &v) in data[byte..]
        .iter()
        .take((shift + width).div_ceil(8))
        .enumerate()
    {
        word |= u64::from(v) << (8 * b);
    }
    ((word >> shift) & ((1u64 << width) - 1)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::properties::{WriterProperties, WriterVersion};
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use proptest::prelude::*;

    /// A file of one `INT64` column, written with these properties.
    fn file(values: &[Option<i64>], nullable: bool, props: WriterProperties) -> Bytes {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "x",
            DataType::Int64,
            nullable,
        )]));
        let array = Int64Array::from(values.to_vec());
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(array)]).unwrap();
        let mut out = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut out, schema, Some(props)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        Bytes::from(out)
    }

    /// Each row group read here in batches of `batch` rows, and by the Parquet reader.
    fn both(bytes: &Bytes, batch: usize) -> (Vec<Int64Array>, Vec<Int64Array>) {
        let reader = SerializedFileReader::new(bytes.clone()).unwrap();
        let mut ours = Vec::new();
        for rg in reader.metadata().row_groups() {
            let chunk = rg.column(0);
            assert!(
                Int64Pages::decodes(chunk),
                "{:?}",
                chunk.encodings().collect::<Vec<_>>()
            );
            let (start, length) = chunk.byte_range();
            let range = start as usize..(start + length) as usize;
            let rows = rg.num_rows() as usize;
            let mut pages = Int64Pages::new("x", chunk, bytes.slice(range), rows).unwrap();
            let mut read = 0;
            while read < rows {
                let n = batch.min(rows - read);
                ours.push(pages.next_batch(n).unwrap());
                read += n;
            }
            assert!(pages.next_batch(1).is_err(), "past the row group's rows");
        }
        let theirs = ParquetRecordBatchReaderBuilder::try_new(bytes.clone())
            .unwrap()
            .with_batch_size(batch)
            .build()
            .unwrap()
            .map(|b| {
                b.unwrap()
                    .column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap()
                    .clone()
            })
            .collect();
        (ours, theirs)
    }

    /// What a reader sees: per row, its value or null (values under nulls are free).
    fn seen(arrays: &[Int64Array]) -> Vec<Option<i64>> {
        arrays.iter().flat_map(|a| a.iter()).collect()
    }

    fn props(dictionary: bool, v2: bool, page_rows: usize, dict_bytes: usize) -> WriterProperties {
        WriterProperties::builder()
            .set_dictionary_enabled(dictionary)
            .set_writer_version(if v2 {
                WriterVersion::PARQUET_2_0
            } else {
                WriterVersion::PARQUET_1_0
            })
            .set_data_page_row_count_limit(page_rows)
            .set_write_batch_size(page_rows.min(1024))
            .set_dictionary_page_size_limit(dict_bytes)
            .set_max_row_group_row_count(Some(3000))
            .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
            // Version 2's default for integers (and after a dictionary) is DELTA_BINARY_PACKED.
            .set_encoding(Encoding::PLAIN)
            .build()
    }

    #[test]
    fn hybrid_runs_read_as_written() {
        // A repeated run of 5 threes (width 3), then a bit-packed group of 0..8.
        let mut data = vec![5 << 1, 3, 1 << 1 | 1];
        let mut bits = 0u32;
        for (i, v) in (0..8u32).enumerate() {
            bits |= v << (3 * i);
        }
        data.extend_from_slice(&bits.to_le_bytes()[..3]);
        let mut hybrid = Hybrid::new(Bytes::from(data), 3);
        assert_eq!(hybrid.next(4), Ok(Some(Run::Repeat(3, 4))));
        assert_eq!(hybrid.next(4), Ok(Some(Run::Repeat(3, 1))));
        let Some(Run::Packed { at, first, len }) = hybrid.next(100).unwrap() else {
            panic!("a packed run");
        };
        let dictionary: Vec<i64> = (0..8).map(|i| i * 10).collect();
        let mut out = Vec::new();
        gather(
            &hybrid.data[at..],
            first..first + len,
            3,
            &dictionary,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, dictionary);
        assert_eq!(hybrid.next(1), Ok(None));
    }

    #[test]
    fn bad_pages_are_errors_not_answers() {
        // A run header that never ends.
        assert!(Hybrid::new(Bytes::from(vec![0x80; 11]), 1).next(1).is_err());
        // An RLE run whose value is missing.
        assert!(Hybrid::new(Bytes::from(vec![2 << 1]), 8).next(1).is_err());
        // A dictionary index past the end.
        let mut values = Values::Indices(Hybrid::new(Bytes::from(vec![4 << 1, 7]), 3));
        let mut out = Vec::new();
        assert_eq!(values.read(4, &[1, 2], &mut out), Err(PAST_DICTIONARY));
        // Fewer plain values than rows.
        let mut values = Values::Plain(Bytes::from(vec![0; 12]));
        assert!(values.read(2, &[], &mut out).is_err());
    }

    #[test]
    fn a_chunk_of_other_encodings_is_left_to_the_reader() {
        let props = WriterProperties::builder()
            .set_dictionary_enabled(false)
            .set_encoding(parquet::basic::Encoding::DELTA_BINARY_PACKED)
            .build();
        let bytes = file(&[Some(1), None, Some(3)], true, props);
        let reader = SerializedFileReader::new(bytes).unwrap();
        assert!(!Int64Pages::decodes(
            reader.metadata().row_group(0).column(0)
        ));
    }

    #[test]
    fn all_null_and_required_columns_read_as_the_reader_reads_them() {
        let nulls = vec![None; 5000];
        let (ours, theirs) = both(&file(&nulls, true, props(true, false, 700, 1 << 20)), 1024);
        assert_eq!(seen(&ours), seen(&theirs));
        let values: Vec<Option<i64>> = (0..5000).map(|i| Some(i % 7 - 3)).collect();
        for v2 in [false, true] {
            let bytes = file(&values, false, props(true, v2, 700, 1 << 20));
            let (ours, theirs) = both(&bytes, 999);
            assert_eq!(seen(&ours), seen(&theirs));
            assert!(ours.iter().all(|a| a.nulls().is_none()));
        }
    }

    fn columns() -> impl Strategy<Value = Vec<Option<i64>>> {
        // Few distinct values in runs (dictionaries, RLE), or many (bit-packed, plain fallback).
        let value = prop_oneof![
            3 => (0i64..5).prop_map(|v| v * 1000),
            1 => any::<i64>(),
        ];
        let run =
            (proptest::option::weighted(0.8, value), 1usize..40).prop_map(|(v, n)| vec![v; n]);
        prop::collection::vec(run, 1..300).prop_map(|runs| runs.concat())
    }

    /// `values` packed `width` bits each, least significant bit first.
    fn pack(values: &[u32], width: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; (values.len() * width).div_ceil(8)];
        for (i, &v) in values.iter().enumerate() {
            for b in 0..width {
                if v >> b & 1 == 1 {
                    let bit = i * width + b;
                    bytes[bit / 8] |= 1 << (bit % 8);
                }
            }
        }
        bytes
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Indices of every width gather what they index, from any first index to any last.
        #[test]
        fn packed_indices_gather_their_entries(
            width in 0usize..=32,
            seeds in prop::collection::vec(any::<u32>(), 0..200),
            from in 0usize..200,
            to in 0usize..200,
        ) {
            let mask = if width == 32 { u32::MAX } else { (1u32 << width) - 1 };
            let dictionary: Vec<i64> = (0..300).map(|i| i * 3 - 7).collect();
            let indices: Vec<u32> = seeds.iter().map(|s| (s & mask) % 300).collect();
            let bytes = pack(&indices, width);
            let (from, to) = (from.min(indices.len()), to.min(indices.len()));
            let (from, to) = (from.min(to), from.max(to));
            let mut out = vec![42];
            gather(&bytes, from..to, width as u32, &dictionary, &mut out).unwrap();
            let expected: Vec<i64> = std::iter::once(42)
                .chain(indices[from..to].iter().map(|&i| dictionary[i as usize]))
                .collect();
            prop_assert_eq!(out, expected);
            // Past the dictionary's end: an error.
            if to > from && width > 0 {
                let short = &dictionary[..indices[from..to].iter().max().copied().unwrap() as usize];
                let mut out = Vec::new();
                prop_assert!(gather(&bytes, from..to, width as u32, short, &mut out).is_err());
            }
        }

        #[test]
        fn pages_read_as_the_reader_reads_them(
            values in columns(),
            dictionary in any::<bool>(),
            v2 in any::<bool>(),
            page_rows in prop_oneof![Just(1usize), 7usize..200, Just(20_000)],
            dict_bytes in prop_oneof![Just(64usize), Just(1 << 20)],
            batch in prop_oneof![Just(1usize), 2usize..600, Just(8192)],
        ) {
            let bytes = file(&values, true, props(dictionary, v2, page_rows, dict_bytes));
            let (ours, theirs) = both(&bytes, batch);
            prop_assert_eq!(seen(&ours), seen(&theirs));
        }
    }
}
