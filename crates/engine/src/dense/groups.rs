//! The groups of one dense aggregation: their keys, their counts, how workers' groups merge,
//! and the rows they become.
//!
//! A group is a value of every partition key (constant within a file), a code of every text
//! key (interned strings), and, when there is one, each value of the integer key, which lives
//! in the group's [`Counter`] rather than in the group's key.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, DictionaryArray, Int64Array, UInt64Array,
};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{Int32Type, SchemaRef, UInt64Type};
use arrow::record_batch::RecordBatch;
use datafusion::common::{HashMap, ScalarValue};
use datafusion::error::Result;

use super::cells::{Budget, Counter, IntSet, StateReader, StateWriter, malformed_state};
use super::measures::{
    self, Aggregate, EachRow, Gathered as Answer, Input, Measure, NarrowInts, Numbers, Values,
};

/// Where each output column comes from, in output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd)]
pub(crate) enum Output {
    /// The `i`th partition key.
    Partition(usize),
    /// The `i`th text key.
    Text(usize),
    /// The integer key.
    Integer,
    /// The `i`th aggregate.
    Aggregate(usize),
}

/// One dictionary column of a batch that keys or filters rows: per dictionary entry (the last
/// slot: null), the entry's code in its text key, or [`FAIL`] if a filter rejects it.
pub(crate) struct EntryColumn<'a> {
    pub dict: &'a DictionaryArray<Int32Type>,
    pub entries: &'a [u32],
    /// Which text key the column is, if it is one (it may only filter).
    pub key: Option<usize>,
}

/// An entry value meaning "a filter rejects rows with this entry".
pub(crate) const FAIL: u32 = u32::MAX;

/// The inputs of one batch, already read.
pub(crate) struct BatchInput<'a> {
    pub rows: usize,
    /// Rows that passed the row filter (`None`: all of them).
    pub keep: Option<BooleanBuffer>,
    /// The file's partition keys, interned by [`Groups::partition_id`].
    pub partition: u32,
    /// The text keys and the text-filtered columns.
    pub columns: Vec<EntryColumn<'a>>,
    /// The integer key, and the range its file's statistics promise.
    pub integer: Option<(&'a Int64Array, Option<(i64, i64)>)>,
    /// Each aggregate's input (`None` for `count(*)`).
    pub inputs: Vec<Option<Input<'a>>>,
}

/// The range of an integer column's values in a row group, if its statistics say.
pub(crate) type Range = Option<(i64, i64)>;

/// The rows of a batch to count, and their groups.
enum Rows<'a> {
    /// All rows, in one group.
    All(usize, usize),
    /// The rows whose bit is set, in one group.
    Kept(&'a BooleanBuffer, usize),
    /// Per row, its group, or [`NONE`] / [`FILTERED`].
    Grouped(&'a [u32]),
    /// Per row, its slot (see [`Groups::update_by_slot`]), each slot in [`LANES`] lanes: row
    /// `i`'s cell is `LANES * slot + i % LANES`, so that runs of rows in one slot add up in
    /// independent chains, not one; and the rows of each slot.
    Laned(&'a [u32], &'a [u64]),
}

/// Cells per slot: consecutive rows of one slot go to different cells, so that a row's
/// addition does not wait for the previous row's to be stored.
const LANES: usize = 4;

impl EachRow for Rows<'_> {
    /// Calls `f(row, group)` for every row counted. Generic, so each caller's loop is compiled
    /// on its own with `f` inlined.
    #[inline(always)]
    fn each(&self, mut f: impl FnMut(usize, usize)) {
        match self {
            Rows::All(n, g) => (0..*n).for_each(|i| f(i, *g)),
            Rows::Kept(keep, g) => keep.set_indices().for_each(|i| f(i, *g)),
            Rows::Grouped(_) | Rows::Laned(..) => self.each_in(0, self.len(), f),
        }
    }

    #[inline(always)]
    fn each_in(&self, start: usize, end: usize, mut f: impl FnMut(usize, usize)) {
        match self {
            Rows::All(_, g) => (start..end).for_each(|i| f(i, *g)),
            Rows::Kept(keep, g) => (start..end)
                .filter(|&i| keep.value(i))
                .for_each(|i| f(i, *g)),
            Rows::Grouped(gids) => {
                for (i, &g) in gids[start..end].iter().enumerate() {
                    if g < FILTERED {
                        f(start + i, g as usize);
                    }
                }
            }
            Rows::Laned(slots, _) => {
                for (i, &slot) in slots[start..end].iter().enumerate() {
                    let i = start + i;
                    f(i, LANES * slot as usize + (i % LANES));
                }
            }
        }
    }

    fn laned_slots(&self) -> Option<(&[u32], usize, &[u64])> {
        match self {
            Rows::Laned(slots, rows) => Some((slots, LANES, rows)),
            _ => None,
        }
    }
}

impl Rows<'_> {
    fn len(&self) -> usize {
        match self {
            Rows::All(n, _) => *n,
            Rows::Kept(keep, _) => keep.len(),
            Rows::Grouped(ids) | Rows::Laned(ids, _) => ids.len(),
        }
    }
}

/// An aggregate's counts, one per group.
#[derive(Debug)]
enum Counts {
    Rows,
    Values(Vec<u64>),
    ValuesByKey(Vec<Counter>),
    Distinct(Vec<IntSet>),
    /// A stream of values, and the measure this aggregate takes of it.
    Numbers(Numbers, Measure),
    /// Answered by the stream of an earlier aggregate (see [`measures::shared_streams`]).
    Shared(usize, Measure),
}

/// The values seen in one dictionary key (a text column, or an expression computed per
/// dictionary entry), each with its code.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    codes: HashMap<ScalarValue, u32>,
    values: Vec<ScalarValue>,
}

impl Interner {
    /// The code of `value`, new if it was not seen before. Called once per dictionary entry,
    /// not per row.
    pub(crate) fn code(&mut self, value: ScalarValue, budget: &Budget) -> u32 {
        if let Some(&code) = self.codes.get(&value) {
            return code;
        }
        // Held twice (the map's key and the list), each with its map or list slot.
        budget.grow(2 * value.size() + 8);
        let code = self.values.len() as u32;
        self.values.push(value.clone());
        self.codes.insert(value, code);
        code
    }
}

type GroupKey = (u32, Box<[u32]>);

/// One worker's groups, or all of them once merged.
#[derive(Debug)]
pub(crate) struct Groups {
    partitions: Vec<Vec<ScalarValue>>,
    partition_ids: HashMap<Vec<ScalarValue>, u32>,
    pub(crate) texts: Vec<Interner>,
    keys: Vec<GroupKey>,
    ids: HashMap<GroupKey, u32>,
    /// Rows of each group (without an integer key), counted only where an aggregate asks
    /// for them (`count(*)`): a group exists only once a row of it was counted, so its rows
    /// are not needed to tell that it has some.
    rows: Vec<u64>,
    counts_rows: bool,
    /// Rows of each group per integer key value (with one and an aggregate).
    by_key: Vec<Counter>,
    /// With an integer key and no aggregate (`SELECT DISTINCT …, id`): only which key values
    /// each group has, and whether a null one, as a bitmap (a 32nd of a counter's memory).
    present: Vec<(IntSet, bool)>,
    keys_only: bool,
    counts: Vec<Counts>,
    integer_key: bool,
    budget: Arc<Budget>,
}

/// A group id meaning "not known yet".
const NONE: u32 = u32::MAX;
/// A group id meaning "filtered out".
const FILTERED: u32 = u32::MAX - 1;

impl Groups {
    pub(crate) fn new(
        text_keys: usize,
        integer_key: bool,
        aggregates: &[Aggregate],
        budget: Arc<Budget>,
    ) -> Self {
        let mut counts: Vec<Counts> = Vec::with_capacity(aggregates.len());
        let shared = if integer_key {
            vec![None; aggregates.len()]
        } else {
            measures::shared_streams(aggregates)
        };
        for (aggregate, leader) in aggregates.iter().zip(shared) {
            let measure = aggregate.measure;
            if let Some(leader) = leader
                && let Counts::Numbers(numbers, _) = &mut counts[leader]
            {
                numbers.answer(measure);
            }
            counts.push(match (measure, integer_key, leader) {
                (_, _, Some(leader)) => Counts::Shared(leader, measure),
                _ if aggregate.counts_rows() => Counts::Rows,
                (Measure::Count, false, _) => Counts::Values(Vec::new()),
                (Measure::Count, true, _) => Counts::ValuesByKey(Vec::new()),
                (Measure::Distinct, ..) => Counts::Distinct(Vec::new()),
                _ => {
                    let mut numbers = Numbers::new(&aggregate.domain);
                    numbers.answer(measure);
                    Counts::Numbers(numbers, measure)
                }
            });
        }
        Self {
            partitions: Vec::new(),
            partition_ids: HashMap::default(),
            texts: (0..text_keys).map(|_| Interner::default()).collect(),
            keys: Vec::new(),
            ids: HashMap::default(),
            rows: Vec::new(),
            by_key: Vec::new(),
            present: Vec::new(),
            keys_only: integer_key && aggregates.is_empty(),
            counts,
            integer_key,
            counts_rows: integer_key || aggregates.iter().any(Aggregate::counts_rows),
            budget,
        }
    }

    /// The id of a file's partition key values.
    pub(crate) fn partition_id(&mut self, values: Vec<ScalarValue>) -> u32 {
        if let Some(&id) = self.partition_ids.get(&values) {
            return id;
        }
        let id = self.partitions.len() as u32;
        self.partitions.push(values.clone());
        self.partition_ids.insert(values, id);
        id
    }

    fn group(&mut self, partition: u32, codes: &[u32]) -> u32 {
        if let Some(&id) = self.ids.get(&(partition, Box::from(codes))) {
            return id;
        }
        // A group's slots in the key list and map and in each count, with the lists' and map's
        // slack (they double as they grow). Refused, the query fails at its next check.
        self.budget.grow(self.group_bytes(codes.len()));
        let id = self.keys.len() as u32;
        let key: GroupKey = (partition, codes.into());
        self.keys.push(key.clone());
        self.ids.insert(key, id);
        if self.keys_only {
            self.present.push(Default::default());
        } else if self.integer_key {
            self.by_key.push(Counter::default());
        } else {
            self.rows.push(0);
        }
        for counts in &mut self.counts {
            match counts {
                Counts::Rows | Counts::Shared(..) => {}
                Counts::Values(v) => v.push(0),
                Counts::ValuesByKey(v) => v.push(Counter::default()),
                Counts::Distinct(v) => v.push(IntSet::default()),
                Counts::Numbers(n, _) => n.push(),
            }
        }
        id
    }

    /// Bytes one more group of `codes` text codes takes, slack included.
    fn group_bytes(&self, codes: usize) -> usize {
        let key = std::mem::size_of::<GroupKey>() + 4 * codes;
        let count = |counts: &Counts| match counts {
            Counts::Rows | Counts::Shared(..) => 0,
            Counts::Values(_) => 8,
            Counts::ValuesByKey(_) => std::mem::size_of::<Counter>(),
            Counts::Distinct(_) => std::mem::size_of::<IntSet>(),
            Counts::Numbers(..) => Numbers::group_bytes(),
        };
        let rows = if self.keys_only {
            std::mem::size_of::<(IntSet, bool)>()
        } else if self.integer_key {
            std::mem::size_of::<Counter>()
        } else {
            8
        };
        2 * (2 * key + 8 + rows + self.counts.iter().map(count).sum::<usize>())
    }

    /// The memory budget the groups grow in.
    pub(crate) fn budget(&self) -> &Arc<Budget> {
        &self.budget
    }

    /// Adds `rows` rows to the group of `partition` with no text or integer key: what a
    /// `count(*)` learns from a row group's metadata alone.
    pub(crate) fn add_rows(&mut self, partition: u32, rows: u64) {
        if rows > 0 {
            let g = self.group(partition, &[]) as usize;
            self.rows[g] += rows;
        }
    }

    /// Counts one batch.
    ///
    /// Long by design: the dense path's per-row loop, in one body so that each key kind gets
    /// a loop of its own without a call per row.
    pub(crate) fn update(&mut self, input: &BatchInput<'_>, combos: &mut Combos) {
        if !input.columns.is_empty() {
            combos.prepare(input);
            if self.update_by_slot(input, combos) {
                return;
            }
        }
        let mut gids: Vec<u32> = Vec::new();
        let rows = if input.columns.is_empty() {
            let kept = input
                .keep
                .as_ref()
                .map_or(input.rows, BooleanBuffer::count_set_bits);
            if kept == 0 {
                return;
            }
            // No dictionary columns: one group for the whole batch.
            let g = self.group(input.partition, &[]) as usize;
            match &input.keep {
                None => Rows::All(input.rows, g),
                Some(keep) => Rows::Kept(keep, g),
            }
        } else {
            gids = self.group_ids(input, combos);
            Rows::Grouped(&gids)
        };

        let budget = Arc::clone(&self.budget);
        let integer = input.integer;
        match input.integer {
            Some((keys, hint)) if self.keys_only => {
                let values = keys.values();
                let present = &mut self.present;
                match keys.nulls() {
                    None => rows.each(
                        #[inline(always)]
                        |i, g| present[g].0.insert(values[i], hint, &budget),
                    ),
                    Some(nulls) => rows.each(
                        #[inline(always)]
                        |i, g| {
                            if nulls.is_null(i) {
                                present[g].1 = true;
                            } else {
                                present[g].0.insert(values[i], hint, &budget);
                            }
                        },
                    ),
                }
            }
            Some((keys, hint)) => {
                let values = keys.values();
                let by_key = &mut self.by_key;
                match keys.nulls() {
                    None => rows.each(
                        #[inline(always)]
                        |i, g| by_key[g].add(values[i], hint, &budget),
                    ),
                    Some(nulls) => rows.each(
                        #[inline(always)]
                        |i, g| {
                            if nulls.is_null(i) {
                                by_key[g].nulls += 1;
                            } else {
                                by_key[g].add(values[i], hint, &budget);
                            }
                        },
                    ),
                }
            }
            None => match rows {
                Rows::All(n, g) => self.rows[g] += n as u64,
                Rows::Kept(keep, g) => self.rows[g] += keep.count_set_bits() as u64,
                Rows::Grouped(_) | Rows::Laned(..) if !self.counts_rows => {}
                Rows::Grouped(_) | Rows::Laned(..) => {
                    let counts = &mut self.rows;
                    rows.each(
                        #[inline(always)]
                        |_, g| counts[g] += 1,
                    );
                }
            },
        }
        let columns = &input.columns;
        for (counts, input) in self.counts.iter_mut().zip(&input.inputs) {
            let Some(input) = input else {
                continue;
            };
            // A condition per dictionary entry, here taken row by row.
            let by_row;
            let input = match input.entries {
                None => input,
                Some((column, mask)) => {
                    by_row = Input {
                        matched: Some(entry_rows(&columns[column], mask)),
                        entries: None,
                        then: input.then,
                        otherwise: input.otherwise,
                        hint: input.hint,
                    };
                    &by_row
                }
            };
            match counts {
                Counts::Rows | Counts::Shared(..) => {}
                Counts::Values(values) => match (&input.matched, &input.then) {
                    // count(*) FILTER (WHERE …), count_if(…): the matched rows.
                    (Some(matched), measures::Values::Int(_) | measures::Values::Float(_))
                        if matches!(input.otherwise, measures::Values::Null) =>
                    {
                        rows.each(
                            #[inline(always)]
                            |i, g| values[g] += u64::from(matched.value(i)),
                        )
                    }
                    // count(x): the rows where x is not null.
                    (None, measures::Values::Any(array)) => match array.nulls() {
                        None => rows.each(
                            #[inline(always)]
                            |_, g| values[g] += 1,
                        ),
                        Some(nulls) => rows.each(
                            #[inline(always)]
                            |i, g| values[g] += u64::from(nulls.is_valid(i)),
                        ),
                    },
                    _ => rows.each(
                        #[inline(always)]
                        |i, g| values[g] += u64::from(input.counts(i)),
                    ),
                },
                Counts::ValuesByKey(values) => {
                    let (keys, key_hint) = integer.expect("counted by an integer key");
                    rows.each(
                        #[inline(always)]
                        |i, g| {
                            if input.counts(i) {
                                if keys.is_null(i) {
                                    values[g].nulls += 1;
                                } else {
                                    values[g].add(keys.value(i), key_hint, &budget);
                                }
                            }
                        },
                    );
                }
                Counts::Distinct(sets) => rows.each(
                    #[inline(always)]
                    |i, g| {
                        if let Some(value) = input.distinct_value(i) {
                            sets[g].insert(value, input.hint, &budget);
                        }
                    },
                ),
                Counts::Numbers(numbers, _) => numbers.update(input, &rows),
            }
        }
        if !gids.is_empty() {
            combos.gids = gids;
        }
    }

    /// Each row's group ([`FILTERED`] if a filter rejects it), through a table indexed by the
    /// combination of the row's dictionary entries: strings are looked up and filters
    /// evaluated once per combination, not per row.
    fn group_ids(&mut self, input: &BatchInput<'_>, combos: &mut Combos) -> Vec<u32> {
        let n = input.rows;
        let slots = slots_of(input, std::mem::take(&mut combos.slots));
        let mut codes = vec![0u32; self.texts.len()];
        // The first row of a combination looks its strings up and checks its filters.
        let mut resolve = |i: usize, groups: &mut Self| {
            for column in &input.columns {
                let entry = if column.dict.keys().is_null(i) {
                    column.entries.len() - 1
                } else {
                    column.dict.keys().value(i) as usize
                };
                let value = column.entries[entry];
                if value == FAIL {
                    return FILTERED;
                }
                if let Some(key) = column.key {
                    codes[key] = value;
                }
            }
            groups.group(input.partition, &codes)
        };
        let mut gids = std::mem::take(&mut combos.gids);
        gids.clear();
        // Rows the row filter drops never make a group: every group has a row.
        let kept = |i: usize| input.keep.as_ref().is_none_or(|keep| keep.value(i));
        if combos.table.is_empty() {
            gids.extend((0..n).map(|i| if kept(i) { resolve(i, self) } else { FILTERED }));
        } else {
            for (i, &slot) in slots.iter().enumerate() {
                if !kept(i) {
                    gids.push(FILTERED);
                    continue;
                }
                let mut g = combos.table[slot as usize];
                if g == NONE {
                    g = resolve(i, self);
                    combos.table[slot as usize] = g;
                }
                gids.push(g);
            }
        }
        combos.slots = slots;
        gids
    }

    /// Counts one batch slot by slot, if every aggregate allows: rows and each stream's values
    /// are added up per combination of dictionary entries (a few thousand at most), then each
    /// combination is folded into its group once, its conditions per entry decided then. The
    /// rows cost a slot and an addition each, whatever the number of conditional aggregates
    /// (`sum(CASE WHEN event_type = 'view' THEN 1 ELSE 0 END)`, …). False: not counted.
    fn update_by_slot(&mut self, input: &BatchInput<'_>, combos: &mut Combos) -> bool {
        let space = combos.table.len();
        if space == 0 || space > MAX_SLOTS || self.integer_key || input.keep.is_some() {
            return false;
        }
        let foldable = self
            .counts
            .iter()
            .zip(&input.inputs)
            .all(|(counts, input)| match (counts, input) {
                (_, None) | (Counts::Rows | Counts::Shared(..), _) => true,
                (_, Some(input)) if input.matched.is_some() => false,
                (Counts::Values(_), Some(input)) => {
                    matches!(input.then, Values::Int(_) | Values::Float(_))
                        && matches!(input.otherwise, Values::Null)
                }
                // Floats would add up in another order than row by row.
                (Counts::Numbers(numbers, _), Some(input)) => {
                    numbers.is_exact()
                        && matches!(
                            input.then,
                            Values::Ints(_) | Values::Decimals(_) | Values::Int(_)
                        )
                        && matches!(input.otherwise, Values::Null | Values::Int(_))
                }
                _ => false,
            });
        if !foldable {
            return false;
        }
        let slots = slots_of(input, std::mem::take(&mut combos.slots));
        let by_slot = &mut combos.by_slot;
        count_slots(&slots, space, &mut by_slot.rows);
        // Each stream's values per slot, whatever the conditions.
        by_slot.numbers.resize_with(self.counts.len(), || None);
        by_slot.narrow.resize_with(self.counts.len(), || None);
        by_slot.narrowed.clear();
        by_slot.narrowed.resize(self.counts.len(), false);
        for ((((counts, input), cells), narrow), narrowed) in self
            .counts
            .iter()
            .zip(&input.inputs)
            .zip(&mut by_slot.numbers)
            .zip(&mut by_slot.narrow)
            .zip(&mut by_slot.narrowed)
        {
            if let (Counts::Numbers(numbers, _), Some(input)) = (counts, input)
                && matches!(input.then, Values::Ints(_) | Values::Decimals(_))
            {
                // Bigints close enough together add up in 64 bits, else in 128.
                if let Values::Ints(array) = input.then {
                    let lanes = narrow.get_or_insert_with(NarrowInts::default);
                    if lanes.prepare(numbers, LANES * space)
                        && lanes.update(array, &Rows::Laned(&slots, &by_slot.rows))
                    {
                        *narrowed = true;
                        continue;
                    }
                }
                if cells.as_ref().is_none_or(|c| c.len() != LANES * space) {
                    *cells = Some(numbers.empty_like(LANES * space));
                }
                let unconditional = Input::every_row(input.then);
                let cells = cells.as_mut().expect("just made");
                cells.update(&unconditional, &Rows::Laned(&slots, &by_slot.rows));
            }
        }
        // Place values of each column's digit in a slot.
        let mut strides = vec![1usize; input.columns.len()];
        for c in (0..input.columns.len().saturating_sub(1)).rev() {
            strides[c] = strides[c + 1] * input.columns[c + 1].entries.len();
        }
        let entry = |slot: usize, c: usize| (slot / strides[c]) % input.columns[c].entries.len();
        for slot in 0..space {
            let rows = std::mem::take(&mut by_slot.rows[slot]);
            if rows == 0 {
                continue;
            }
            let g = self.slot_group(input, &mut combos.table, slot, &entry);
            for (a, (counts, input)) in self.counts.iter_mut().zip(&input.inputs).enumerate() {
                // This batch's values are in the narrow lanes or in the wide cells, not both
                // (the other may be sized for another batch).
                let (cells, lanes) = match by_slot.narrowed[a] {
                    true => (None, by_slot.narrow[a].as_mut()),
                    false => (by_slot.numbers[a].as_mut(), None),
                };
                if g == FILTERED {
                    if let Some(cells) = cells {
                        (LANES * slot..LANES * (slot + 1)).for_each(|l| cells.clear(l));
                    }
                    if let Some(lanes) = lanes {
                        (LANES * slot..LANES * (slot + 1)).for_each(|l| lanes.clear(l));
                    }
                    continue;
                }
                let Some(input) = input else {
                    continue;
                };
                let matched = input
                    .entries
                    .is_none_or(|(column, mask)| mask[entry(slot, column)]);
                let value = if matched { input.then } else { input.otherwise };
                match (counts, value) {
                    (Counts::Values(values), Values::Int(_) | Values::Float(_)) => {
                        values[g as usize] += rows
                    }
                    (Counts::Numbers(numbers, _), Values::Int(v)) => {
                        numbers.add_times(g as usize, v, rows)
                    }
                    (Counts::Numbers(numbers, _), Values::Ints(_) | Values::Decimals(_)) => {
                        if let Some(lanes) = &lanes {
                            for lane in LANES * slot..LANES * (slot + 1) {
                                numbers.absorb_narrow(g as usize, lanes, lane);
                            }
                        } else if let Some(cells) = &cells {
                            for lane in LANES * slot..LANES * (slot + 1) {
                                numbers.absorb(g as usize, cells, lane);
                            }
                        }
                    }
                    _ => {}
                }
                if let Some(cells) = cells {
                    (LANES * slot..LANES * (slot + 1)).for_each(|l| cells.clear(l));
                }
                if let Some(lanes) = lanes {
                    (LANES * slot..LANES * (slot + 1)).for_each(|l| lanes.clear(l));
                }
            }
            if g != FILTERED && self.counts_rows {
                self.rows[g as usize] += rows;
            }
        }
        combos.slots = slots;
        true
    }

    /// The group of a slot (see [`Groups::update_by_slot`]), looked up once per combination
    /// of entries as [`Groups::group_ids`] looks up a row's.
    fn slot_group(
        &mut self,
        input: &BatchInput<'_>,
        table: &mut [u32],
        slot: usize,
        entry: &impl Fn(usize, usize) -> usize,
    ) -> u32 {
        if table[slot] != NONE {
            return table[slot];
        }
        let mut codes = vec![0u32; self.texts.len()];
        let mut g = NONE;
        for (c, column) in input.columns.iter().enumerate() {
            let value = column.entries[entry(slot, c)];
            if value == FAIL {
                g = FILTERED;
                break;
            }
            if let Some(key) = column.key {
                codes[key] = value;
            }
        }
        if g == NONE {
            g = self.group(input.partition, &codes);
        }
        table[slot] = g;
        g
    }

    /// Adds another worker's groups to these.
    pub(crate) fn absorb(&mut self, mut other: Groups) {
        let budget = Arc::clone(&self.budget);
        let mut by_key = std::mem::take(&mut other.by_key).into_iter();
        let mut present = std::mem::take(&mut other.present).into_iter();
        let mut other_counts: Vec<Absorbed> = std::mem::take(&mut other.counts)
            .into_iter()
            .map(|counts| match counts {
                Counts::Rows | Counts::Shared(..) => Absorbed::Rows,
                Counts::Values(v) => Absorbed::Values(v.into_iter()),
                Counts::ValuesByKey(v) => Absorbed::ValuesByKey(v.into_iter()),
                Counts::Distinct(v) => Absorbed::Distinct(v.into_iter()),
                Counts::Numbers(n, _) => Absorbed::Numbers(n),
            })
            .collect();
        for (g, (partition, codes)) in other.keys.iter().enumerate() {
            let partition = self.partition_id(other.partitions[*partition as usize].clone());
            let codes: Vec<u32> = codes
                .iter()
                .zip(&other.texts)
                .zip(&mut self.texts)
                .map(|((&code, theirs), ours)| {
                    ours.code(theirs.values[code as usize].clone(), &budget)
                })
                .collect();
            let ours = self.group(partition, &codes) as usize;
            if self.keys_only {
                let (set, null) = present.next().expect("one set per group");
                self.present[ours].0.absorb(set, &budget);
                self.present[ours].1 |= null;
            } else if self.integer_key {
                let counter = by_key.next().expect("one counter per group");
                self.by_key[ours].absorb(counter, &budget);
            } else {
                self.rows[ours] += other.rows[g];
            }
            for (counts, theirs) in self.counts.iter_mut().zip(&mut other_counts) {
                match (counts, theirs) {
                    (Counts::Rows | Counts::Shared(..), Absorbed::Rows) => {}
                    (Counts::Values(v), Absorbed::Values(values)) => {
                        v[ours] += values.next().unwrap_or(0)
                    }
                    (Counts::ValuesByKey(v), Absorbed::ValuesByKey(values)) => {
                        v[ours].absorb(values.next().unwrap_or_default(), &budget)
                    }
                    (Counts::Distinct(v), Absorbed::Distinct(sets)) => {
                        v[ours].absorb(sets.next().unwrap_or_default(), &budget)
                    }
                    (Counts::Numbers(n, _), Absorbed::Numbers(theirs)) => n.absorb(ours, theirs, g),
                    _ => unreachable!("workers count the same aggregates"),
                }
            }
        }
    }

    /// The groups as states a merge absorbs (see [`Groups::absorb_states`]): one row per group,
    /// in batches of at most `batch_size` rows, laid out as `schema` says — each partition key's
    /// and text key's value, the group's rows, its integer key's counts or set, and each
    /// aggregate's state, as bytes.
    pub(crate) fn into_states(
        self,
        schema: &SchemaRef,
        partition_keys: usize,
        batch_size: usize,
    ) -> Result<Vec<RecordBatch>> {
        let texts = self.texts.len();
        let order: Vec<usize> = (0..self.keys.len()).collect();
        let mut batches = Vec::new();
        for chunk in order.chunks(batch_size.max(1)) {
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
            let typed = |values: Vec<ScalarValue>, c: usize| -> Result<ArrayRef> {
                let array = ScalarValue::iter_to_array(values)?;
                let to = schema.field(c).data_type();
                Ok(if array.data_type() == to {
                    array
                } else {
                    arrow::compute::cast(&array, to)?
                })
            };
            for i in 0..partition_keys {
                let values = (chunk.iter())
                    .map(|&g| self.partitions[self.keys[g].0 as usize][i].clone())
                    .collect();
                columns.push(typed(values, columns.len())?);
            }
            for i in 0..texts {
                let values = (chunk.iter())
                    .map(|&g| self.texts[i].values[self.keys[g].1[i] as usize].clone())
                    .collect();
                columns.push(typed(values, columns.len())?);
            }
            columns.push(Arc::new(
                chunk
                    .iter()
                    .map(|&g| self.rows.get(g).copied())
                    .collect::<UInt64Array>(),
            ));
            let bytes = |f: &dyn Fn(usize, &mut StateWriter) -> bool| -> ArrayRef {
                let mut builder = BinaryBuilder::new();
                for &g in chunk {
                    let mut out = StateWriter::default();
                    if f(g, &mut out) {
                        builder.append_value(&out.0);
                    } else {
                        builder.append_null();
                    }
                }
                Arc::new(builder.finish())
            };
            columns.push(bytes(&|g, out| {
                if self.keys_only {
                    let (set, null) = &self.present[g];
                    set.encode(out);
                    out.u8(u8::from(*null));
                    true
                } else if self.integer_key {
                    self.by_key[g].encode(out);
                    true
                } else {
                    false
                }
            }));
            for counts in &self.counts {
                columns.push(bytes(&|g, out| match counts {
                    Counts::Rows | Counts::Shared(..) => false,
                    Counts::Values(v) => {
                        out.u64(v[g]);
                        true
                    }
                    Counts::ValuesByKey(v) => {
                        v[g].encode(out);
                        true
                    }
                    Counts::Distinct(v) => {
                        v[g].encode(out);
                        true
                    }
                    Counts::Numbers(numbers, _) => {
                        numbers.encode(g, out);
                        true
                    }
                }));
            }
            batches.push(RecordBatch::try_new(Arc::clone(schema), columns)?);
        }
        Ok(batches)
    }

    /// Adds the groups of states [`Groups::into_states`] wrote (another worker's, the same keys
    /// and aggregates) to these.
    pub(crate) fn absorb_states(
        &mut self,
        batch: &RecordBatch,
        partition_keys: usize,
    ) -> Result<()> {
        let texts = self.texts.len();
        let columns = batch.columns();
        if columns.len() != partition_keys + texts + 2 + self.counts.len() {
            return Err(malformed_state());
        }
        let rows = columns[partition_keys + texts]
            .as_primitive_opt::<UInt64Type>()
            .ok_or_else(malformed_state)?;
        let binary = |c: usize| {
            columns[c]
                .as_binary_opt::<i32>()
                .ok_or_else(malformed_state)
        };
        let integer = binary(partition_keys + texts + 1)?;
        let states = (0..self.counts.len())
            .map(|a| binary(partition_keys + texts + 2 + a))
            .collect::<Result<Vec<_>>>()?;
        let budget = Arc::clone(&self.budget);
        for row in 0..batch.num_rows() {
            let values = (0..partition_keys)
                .map(|i| ScalarValue::try_from_array(&columns[i], row))
                .collect::<Result<Vec<_>>>()?;
            let partition = self.partition_id(values);
            let mut codes = Vec::with_capacity(texts);
            for i in 0..texts {
                let value = ScalarValue::try_from_array(&columns[partition_keys + i], row)?;
                codes.push(self.texts[i].code(value, &budget));
            }
            let g = self.group(partition, &codes) as usize;
            if let Some(count) = self.rows.get_mut(g)
                && rows.is_valid(row)
            {
                *count += rows.value(row);
            }
            if integer.is_valid(row) {
                let mut input = StateReader::new(integer.value(row));
                if self.keys_only {
                    let set = IntSet::decode(&mut input, &budget)?;
                    let null = input.u8()? != 0;
                    self.present[g].0.absorb(set, &budget);
                    self.present[g].1 |= null;
                } else if self.integer_key {
                    let counter = Counter::decode(&mut input, &budget)?;
                    self.by_key[g].absorb(counter, &budget);
                } else {
                    return Err(malformed_state());
                }
                input.finish()?;
            }
            for (counts, state) in self.counts.iter_mut().zip(&states) {
                if state.is_null(row) {
                    continue;
                }
                let mut input = StateReader::new(state.value(row));
                match counts {
                    Counts::Rows | Counts::Shared(..) => return Err(malformed_state()),
                    Counts::Values(v) => v[g] += input.u64()?,
                    Counts::ValuesByKey(v) => {
                        v[g].absorb(Counter::decode(&mut input, &budget)?, &budget)
                    }
                    Counts::Distinct(v) => {
                        v[g].absorb(IntSet::decode(&mut input, &budget)?, &budget)
                    }
                    Counts::Numbers(numbers, _) => numbers.absorb_encoded(g, &mut input)?,
                }
                input.finish()?;
            }
        }
        Ok(())
    }

    /// Whether aggregate `a` is answered by an earlier one's stream: nothing to read for it.
    pub(crate) fn is_shared(&self, a: usize) -> bool {
        matches!(self.counts[a], Counts::Shared(..))
    }

    /// The stream of values aggregate `a` takes its answer from, and its measure.
    fn numbers(&self, a: usize) -> Option<(&Numbers, Measure)> {
        match &self.counts[a] {
            Counts::Numbers(numbers, measure) => Some((numbers, *measure)),
            Counts::Shared(leader, measure) => match &self.counts[*leader] {
                Counts::Numbers(numbers, _) => Some((numbers, *measure)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Fails if an exact sum passed even `i128`.
    fn check_overflow(&self, schema: &SchemaRef, outputs: &[Output]) -> Result<()> {
        for (output, field) in outputs.iter().zip(schema.fields()) {
            if let Output::Aggregate(a) = output
                && let Some((numbers, _)) = self.numbers(*a)
                && numbers.overflowed()
            {
                return Err(arrow::error::ArrowError::ArithmeticOverflow(format!(
                    "{} overflows: the exact sum passes 128 bits",
                    field.name()
                ))
                .into());
            }
        }
        Ok(())
    }

    /// The answer rows, in batches of at most `batch_size` rows, groups in key order.
    /// `global` (no GROUP BY) answers one row even when no row was counted.
    pub(crate) fn into_batches(
        mut self,
        outputs: &[Output],
        schema: &SchemaRef,
        batch_size: usize,
        global: bool,
    ) -> Result<Vec<RecordBatch>> {
        self.check_overflow(schema, outputs)?;
        if global && self.keys.is_empty() {
            self.group(0, &[]);
            self.partitions.push(Vec::new());
        }
        let mut order: Vec<usize> = (0..self.keys.len()).collect();
        let key_of = |g: usize| {
            let (partition, codes) = &self.keys[g];
            let texts: Vec<&ScalarValue> = codes
                .iter()
                .zip(&self.texts)
                .map(|(&code, interner)| &interner.values[code as usize])
                .collect();
            (&self.partitions[*partition as usize], texts)
        };
        order.sort_by(|&a, &b| {
            let (ka, kb) = (key_of(a), key_of(b));
            ka.0.partial_cmp(kb.0)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| ka.1.partial_cmp(&kb.1).unwrap_or(std::cmp::Ordering::Equal))
        });
        let mut batches = Vec::new();
        let mut rows = Gathered::new(outputs);
        for g in order {
            self.gather(
                g,
                outputs,
                schema,
                batch_size,
                global,
                &mut rows,
                &mut batches,
            )?;
        }
        if rows.len > 0 {
            batches.push(rows.finish(outputs, schema)?);
        }
        Ok(batches)
    }

    /// Appends the rows of group `g` to `rows` (one, or one per integer key value), and each
    /// batch of `batch_size` rows, once full, to `batches`: a group of millions of integer keys
    /// becomes many batches, never one array of millions of rows.
    #[allow(clippy::too_many_arguments)]
    fn gather(
        &mut self,
        g: usize,
        outputs: &[Output],
        schema: &SchemaRef,
        batch_size: usize,
        global: bool,
        rows: &mut Gathered,
        batches: &mut Vec<RecordBatch>,
    ) -> Result<()> {
        // The integer key of each output row (if there is a key) and its rows: one count per
        // row; a count past the last key is the null key's.
        let (keys, counts): (Vec<i64>, Vec<i64>) = if self.keys_only {
            // No aggregate reads a count: one row per key value.
            let (set, null_key) = std::mem::take(&mut self.present[g]);
            let keys = set.members();
            let counts = vec![1; keys.len() + usize::from(null_key)];
            (keys, counts)
        } else if self.integer_key {
            let counter = std::mem::take(&mut self.by_key[g]);
            let (keys, mut counts) = counter.columns();
            if counter.nulls > 0 {
                counts.push(counter.nulls as i64);
            }
            (keys, counts)
        } else if self.rows[g] > 0 || global || !self.counts_rows {
            (Vec::new(), vec![self.rows[g] as i64])
        } else {
            (Vec::new(), Vec::new())
        };
        let key = |i: usize| keys.get(i).copied();
        // Counts of a column per integer key: taken once for the group, read chunk by chunk.
        let by_value: Vec<Option<(HashMap<i64, u64>, u64)>> = outputs
            .iter()
            .map(|output| match output {
                Output::Aggregate(a) => match &mut self.counts[*a] {
                    Counts::ValuesByKey(counters) => {
                        let counter = std::mem::take(&mut counters[g]);
                        Some((counter.entries().into_iter().collect(), counter.nulls))
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let total = counts.len();
        let mut start = 0;
        while start < total {
            let end = total.min(start + batch_size.saturating_sub(rows.len).max(1));
            let n = end - start;
            let (partition, codes) = &self.keys[g];
            for ((column, output), by_value) in rows.columns.iter_mut().zip(outputs).zip(&by_value)
            {
                match *output {
                    Output::Partition(i) => {
                        column.repeat(&self.partitions[*partition as usize][i], n)
                    }
                    Output::Text(i) => column.repeat(&self.texts[i].values[codes[i] as usize], n),
                    Output::Integer => column.integers.extend((start..end).map(key)),
                    Output::Aggregate(a) if let Some((numbers, measure)) = self.numbers(a) => {
                        let value = numbers.value(g, measure);
                        match (measure, value) {
                            (Measure::Count, Answer::Int(count)) => column
                                .integers
                                .extend(std::iter::repeat_n(Some(count as i64), n)),
                            _ => column.answers.extend(std::iter::repeat_n(value, n)),
                        }
                    }
                    Output::Aggregate(a) => match &self.counts[a] {
                        Counts::Rows => column
                            .integers
                            .extend(counts[start..end].iter().map(|&c| Some(c))),
                        Counts::Values(v) => column
                            .integers
                            .extend(std::iter::repeat_n(Some(v[g] as i64), n)),
                        Counts::Distinct(sets) => column
                            .integers
                            .extend(std::iter::repeat_n(Some(sets[g].len() as i64), n)),
                        Counts::ValuesByKey(_) => {
                            let (by_value, nulls) =
                                by_value.as_ref().expect("taken above for this output");
                            column.integers.extend((start..end).map(|i| {
                                Some(match key(i) {
                                    Some(v) => by_value.get(&v).copied().unwrap_or(0) as i64,
                                    None => *nulls as i64,
                                })
                            }));
                        }
                        Counts::Numbers(..) | Counts::Shared(..) => {
                            unreachable!("answered by its stream above")
                        }
                    },
                }
            }
            rows.len += n;
            if rows.len >= batch_size {
                batches.push(rows.finish(outputs, schema)?);
            }
            start = end;
        }
        Ok(())
    }
}

/// Rows per slot (`rows`, resized to `space` slots and added to). Consecutive rows of one slot
/// go to different counters, so that an increment does not wait for the previous row's.
fn count_slots(slots: &[u32], space: usize, rows: &mut Vec<u64>) {
    rows.resize(space, 0);
    if space * LANES_OF_COUNTS > slots.len() {
        // Few rows per slot: they seldom follow each other; not worth the counters.
        for &slot in slots {
            rows[slot as usize] += 1;
        }
        return;
    }
    let mut counters = vec![[0u32; LANES_OF_COUNTS]; space];
    for chunk in slots.chunks(u32::MAX as usize) {
        let mut quads = chunk.chunks_exact(LANES_OF_COUNTS);
        for quad in &mut quads {
            for (lane, &slot) in quad.iter().enumerate() {
                counters[slot as usize][lane] += 1;
            }
        }
        for &slot in quads.remainder() {
            counters[slot as usize][0] += 1;
        }
        for (total, lanes) in rows.iter_mut().zip(&mut counters) {
            *total += lanes.iter().map(|&n| u64::from(n)).sum::<u64>();
            *lanes = [0; LANES_OF_COUNTS];
        }
    }
}

/// Counters per slot in [`count_slots`].
const LANES_OF_COUNTS: usize = 4;

/// Each row's slot: the combination of its entries in every entry column, in mixed radix
/// (the last column the least significant digit; nulls in each column's last entry).
/// `slots` is a buffer kept across batches: a fresh one of this size would be fresh pages each
/// time.
fn slots_of(input: &BatchInput<'_>, mut slots: Vec<u32>) -> Vec<u32> {
    slots.clear();
    if input.columns.is_empty() {
        // One combination: no entry column.
        slots.resize(input.rows, 0);
    }
    for (c, column) in input.columns.iter().enumerate() {
        let radix = column.entries.len() as u32;
        let keys = column.dict.keys();
        let entry = |i: usize, key: i32| {
            if keys.is_null(i) {
                radix - 1
            } else {
                key as u32
            }
        };
        // The first column writes the slots (no buffer to zero first), the others add a digit.
        match (c, keys.nulls()) {
            (0, None) => slots.extend(keys.values().iter().map(|&key| key as u32)),
            (0, Some(_)) => {
                slots.extend((keys.values().iter().enumerate()).map(|(i, &key)| entry(i, key)))
            }
            (_, None) => slots
                .iter_mut()
                .zip(keys.values().iter())
                .for_each(|(slot, &key)| *slot = slot.wrapping_mul(radix).wrapping_add(key as u32)),
            (_, Some(_)) => slots
                .iter_mut()
                .zip(keys.values().iter())
                .enumerate()
                .for_each(|(i, (slot, &key))| {
                    *slot = slot.wrapping_mul(radix).wrapping_add(entry(i, key))
                }),
        }
    }
    slots
}

/// The rows of a batch whose entry in `column` passes `mask` (the last slot: null).
fn entry_rows(column: &EntryColumn<'_>, mask: &[bool]) -> BooleanBuffer {
    let keys = column.dict.keys();
    let null = mask.len() - 1;
    let values = keys.values();
    match keys.nulls() {
        None => BooleanBuffer::collect_bool(keys.len(), |i| mask[values[i] as usize]),
        Some(nulls) => BooleanBuffer::collect_bool(keys.len(), |i| {
            mask[if nulls.is_null(i) {
                null
            } else {
                values[i] as usize
            }]
        }),
    }
}

/// Another worker's counts, taken apart group by group as they merge.
enum Absorbed {
    Rows,
    Values(std::vec::IntoIter<u64>),
    ValuesByKey(std::vec::IntoIter<Counter>),
    Distinct(std::vec::IntoIter<IntSet>),
    Numbers(Numbers),
}

/// Output rows being gathered into a batch, column by column.
struct Gathered {
    columns: Vec<GatheredColumn>,
    len: usize,
}

/// One output column's values: keys as runs of one value (a group's key repeats for each of
/// its integer key's rows), counts and integer keys as plain integers, or the answers of a sum,
/// minimum, maximum or mean.
#[derive(Default)]
struct GatheredColumn {
    runs: Vec<(ScalarValue, usize)>,
    integers: Vec<Option<i64>>,
    answers: Vec<Answer>,
}

impl GatheredColumn {
    fn repeat(&mut self, value: &ScalarValue, n: usize) {
        match self.runs.last_mut() {
            Some((last, count)) if last == value => *count += n,
            _ => self.runs.push((value.clone(), n)),
        }
    }

    fn into_array(self, field: &arrow::datatypes::Field) -> Result<ArrayRef> {
        if !self.answers.is_empty() {
            return measures::column_of(&self.answers, field);
        }
        if !self.integers.is_empty() {
            return Ok(Arc::new(Int64Array::from(self.integers)));
        }
        if self.runs.is_empty() {
            return Ok(arrow::array::new_null_array(field.data_type(), 0));
        }
        let arrays = self
            .runs
            .iter()
            .map(|(value, n)| value.to_array_of_size(*n))
            .collect::<Result<Vec<_>>>()?;
        let arrays: Vec<&dyn Array> = arrays.iter().map(|a| a.as_ref()).collect();
        Ok(arrow::compute::concat(&arrays)?)
    }
}

impl Gathered {
    fn new(outputs: &[Output]) -> Self {
        let mut gathered = Self {
            columns: Vec::new(),
            len: 0,
        };
        gathered.reset(outputs);
        gathered
    }

    /// The rows gathered so far as a batch of `schema`; gathering starts over.
    fn finish(&mut self, outputs: &[Output], schema: &SchemaRef) -> Result<RecordBatch> {
        let columns = std::mem::take(&mut self.columns);
        let rows = std::mem::replace(&mut self.len, 0);
        let arrays = columns
            .into_iter()
            .zip(schema.fields())
            .map(|(column, field)| {
                let array = column.into_array(field)?;
                Ok(if array.data_type() == field.data_type() {
                    array
                } else {
                    arrow::compute::cast(&array, field.data_type())?
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.reset(outputs);
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(schema),
            arrays,
            &arrow::array::RecordBatchOptions::new().with_row_count(Some(rows)),
        )?)
    }

    fn reset(&mut self, outputs: &[Output]) {
        self.columns = outputs.iter().map(|_| GatheredColumn::default()).collect();
    }
}

/// The most combinations of dictionary entries tabulated (4 MiB of group ids).
const MAX_COMBOS: usize = 1 << 20;

/// The most combinations of dictionary entries a batch is counted by before its groups (see
/// [`Groups::update_by_slot`]): folding them costs a fraction of a batch's rows.
const MAX_SLOTS: usize = 1 << 14;

/// Per worker: the group of each combination of text-key dictionary entries, valid while the
/// file and the dictionaries stay the same (a column chunk keeps one dictionary).
#[derive(Debug, Default)]
pub(crate) struct Combos {
    partition: u32,
    dictionaries: Vec<ArrayRef>,
    table: Vec<u32>,
    slots: Vec<u32>,
    gids: Vec<u32>,
    by_slot: BySlot,
}

/// A batch's rows and values per slot, emptied as they are folded into groups.
#[derive(Debug, Default)]
struct BySlot {
    rows: Vec<u64>,
    /// Per aggregate with its own stream of column values.
    numbers: Vec<Option<Numbers>>,
    /// The same in 64 bits, for bigints close enough together ([`NarrowInts`]), and whether
    /// each aggregate's values of this batch went there.
    narrow: Vec<Option<NarrowInts>>,
    narrowed: Vec<bool>,
}

impl Combos {
    fn prepare(&mut self, input: &BatchInput<'_>) {
        let same = self.partition == input.partition
            && self.dictionaries.len() == input.columns.len()
            && self
                .dictionaries
                .iter()
                .zip(&input.columns)
                .all(|(cached, column)| same_dictionary(cached, column.dict.values()));
        if same {
            return;
        }
        let slots = input
            .columns
            .iter()
            .try_fold(1usize, |product, column| {
                product.checked_mul(column.entries.len())
            })
            .filter(|&slots| slots <= MAX_COMBOS);
        self.partition = input.partition;
        self.dictionaries = input
            .columns
            .iter()
            .map(|column| Arc::clone(column.dict.values()))
            .collect();
        // Too many combinations to tabulate: every row looks its group up by its codes.
        self.table = vec![NONE; slots.unwrap_or(0)];
    }
}

/// Whether two dictionaries are the same one: the Parquet reader wraps a column chunk's
/// dictionary in a new array for every batch, over the same buffers.
pub(crate) fn same_dictionary(a: &ArrayRef, b: &ArrayRef) -> bool {
    Arc::ptr_eq(a, b) || a.to_data().ptr_eq(&b.to_data())
}

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, StringArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;
    use crate::dense::measures::{Domain, Number, Operand, Values};

    /// `SELECT s, sum(x) … GROUP BY s` over one batch whose rows `keep` passes.
    fn sums_by_text(s: &[&str], x: &[i64], keep: Option<Vec<bool>>) -> Vec<(String, i64)> {
        let aggregates = [Aggregate {
            measure: Measure::Sum,
            domain: Domain::Integer,
            then: Operand::Column("x".to_string()),
            otherwise: Operand::Null,
            condition: None,
        }];
        let budget = Arc::new(Budget::new(1 << 20));
        let mut groups = Groups::new(1, false, &aggregates, Arc::clone(&budget));
        let dict: DictionaryArray<Int32Type> = s.iter().copied().collect();
        let mut entries: Vec<u32> = (0..dict.values().len())
            .map(|i| {
                let value = dict.values().as_string::<i32>().value(i).to_string();
                groups.texts[0].code(ScalarValue::Utf8(Some(value)), &budget)
            })
            .collect();
        entries.push(groups.texts[0].code(ScalarValue::Utf8(None), &budget));
        let x = Int64Array::from(x.to_vec());
        let input = BatchInput {
            rows: s.len(),
            keep: keep.map(BooleanBuffer::from),
            partition: groups.partition_id(Vec::new()),
            columns: vec![EntryColumn {
                dict: &dict,
                entries: &entries,
                key: Some(0),
            }],
            integer: None,
            inputs: vec![Some(Input::every_row(Values::Ints(&x)))],
        };
        groups.update(&input, &mut Combos::default());
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("sum", DataType::Int64, true),
        ]));
        let outputs = [Output::Text(0), Output::Aggregate(0)];
        let batches = groups.into_batches(&outputs, &schema, 1024, false).unwrap();
        batches
            .iter()
            .flat_map(|b| {
                let s: &StringArray = b.column(0).as_string();
                let sum = b.column(1).as_primitive::<Int64Type>();
                (0..b.num_rows())
                    .map(|i| (s.value(i).to_string(), sum.value(i)))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn groups_without_a_row_count_are_those_rows_reached() {
        let all = sums_by_text(&["a", "b", "a", "c"], &[1, 2, 3, 4], None);
        let expected = [("a", 4), ("b", 2), ("c", 4)].map(|(s, n)| (s.to_string(), n));
        assert_eq!(all, expected);
        // Rows the row filter drops make no group, though no count(*) tells which have rows.
        let kept = sums_by_text(
            &["a", "b", "a", "c"],
            &[1, 2, 3, 4],
            Some(vec![true, false, true, false]),
        );
        assert_eq!(kept, [("a".to_string(), 4)]);
    }

    /// `SELECT DISTINCT k` over a million-wide key range keeps a bit per value (125,000 bytes
    /// of arrays at most), not a counter per value (4 MB), and answers every key once.
    #[test]
    fn distinct_integer_keys_take_a_bit_per_value() {
        let start = 1 << 20;
        let budget = Arc::new(Budget::new(start));
        let mut groups = Groups::new(0, true, &[], Arc::clone(&budget));
        let keys = Int64Array::from_iter_values((0..1_000_000).step_by(7).chain([3, 3, 10]));
        let input = BatchInput {
            rows: keys.len(),
            keep: None,
            partition: groups.partition_id(Vec::new()),
            columns: Vec::new(),
            integer: Some((&keys, Some((0, 999_999)))),
            inputs: Vec::new(),
        };
        groups.update(&input, &mut Combos::default());
        let spent = start as i64 - budget.arrays_left();
        assert!(0 < spent && spent <= 125_000, "{spent} bytes of arrays");
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, true)]));
        let batches = groups
            .into_batches(&[Output::Integer], &schema, 8_192, false)
            .unwrap();
        let answer: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        let mut expected: Vec<i64> = (0..1_000_000).step_by(7).chain([3, 10]).collect();
        expected.sort_unstable();
        assert_eq!(answer, expected);
    }

    /// `SELECT k, count(*), count(x) … GROUP BY k` for an integer key with more values than a
    /// batch holds: the answer comes in batches of at most the batch size, every key once,
    /// the null key too.
    #[test]
    fn integer_keys_answer_in_batches_of_the_batch_size() {
        let count = |then| Aggregate {
            measure: Measure::Count,
            domain: Domain::Integer,
            then,
            otherwise: Operand::Null,
            condition: None,
        };
        let aggregates = [
            count(Operand::Constant(Number::Int(1))),
            count(Operand::Column("x".to_string())),
        ];
        let budget = Arc::new(Budget::new(1 << 24));
        let mut groups = Groups::new(0, true, &aggregates, Arc::clone(&budget));
        let n = 5_000;
        let key = |i: usize| (!i.is_multiple_of(7)).then_some((i % 2_500) as i64 * 3);
        let x = |i: usize| i.is_multiple_of(2).then_some(i as i64);
        let keys = Int64Array::from_iter((0..n).map(key));
        let xs = Int64Array::from_iter((0..n).map(x));
        let input = BatchInput {
            rows: n,
            keep: None,
            partition: groups.partition_id(Vec::new()),
            columns: Vec::new(),
            integer: Some((&keys, None)),
            inputs: vec![None, Some(Input::every_row(Values::Any(&xs)))],
        };
        groups.update(&input, &mut Combos::default());
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("rows", DataType::Int64, true),
            Field::new("xs", DataType::Int64, true),
        ]));
        let outputs = [Output::Integer, Output::Aggregate(0), Output::Aggregate(1)];
        let batches = groups
            .into_batches(&outputs, &schema, 1_000, false)
            .unwrap();
        assert!(batches.len() > 2);
        assert!(batches.iter().all(|b| b.num_rows() <= 1_000));
        let mut answer: Vec<(Option<i64>, i64, i64)> = Vec::new();
        for b in &batches {
            let column = |c: usize| b.column(c).as_primitive::<Int64Type>().clone();
            let (k, rows, xs) = (column(0), column(1), column(2));
            for i in 0..b.num_rows() {
                answer.push((
                    k.is_valid(i).then(|| k.value(i)),
                    rows.value(i),
                    xs.value(i),
                ));
            }
        }
        let mut expected: HashMap<Option<i64>, (i64, i64)> = HashMap::default();
        for i in 0..n {
            let cell = expected.entry(key(i)).or_default();
            cell.0 += 1;
            cell.1 += i64::from(x(i).is_some());
        }
        let mut expected: Vec<(Option<i64>, i64, i64)> =
            expected.into_iter().map(|(k, (r, x))| (k, r, x)).collect();
        expected.sort();
        answer.sort();
        assert_eq!(answer, expected);
    }
}

#[cfg(test)]
mod slot_tests {
    use arrow::array::{AsArray, StringArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use datafusion::logical_expr::col;
    use proptest::prelude::*;

    use super::*;
    use crate::dense::measures::{Condition, Domain, Number, Operand, Values};

    /// A row: its key, its condition column's value, and `x` (None: NULL).
    type Row = (Option<u8>, Option<u8>, Option<i64>);

    /// Per key: count_if(c passes), sum(CASE WHEN c THEN x ELSE 0 END),
    /// max(CASE WHEN c THEN x END), sum(x), count(*), as text.
    type Answer = Vec<(Option<String>, Vec<Option<i64>>)>;

    fn aggregates() -> Vec<Aggregate> {
        let text = || Some(Condition::Text("c".to_string(), col("c")));
        let x = || Operand::Column("x".to_string());
        let of = |measure, then, otherwise, condition| Aggregate {
            measure,
            domain: Domain::Integer,
            then,
            otherwise,
            condition,
        };
        vec![
            of(
                Measure::Count,
                Operand::Constant(Number::Int(1)),
                Operand::Null,
                text(),
            ),
            of(Measure::Sum, x(), Operand::Constant(Number::Int(0)), text()),
            of(Measure::Max, x(), Operand::Null, text()),
            of(Measure::Sum, x(), Operand::Null, None),
            of(
                Measure::Count,
                Operand::Constant(Number::Int(1)),
                Operand::Null,
                None,
            ),
        ]
    }

    /// The answer as the dense path counts it, in batches of `batch` rows, slot by slot or
    /// (`by_row`) row by row.
    fn dense(rows: &[Row], mask: &[bool; 4], batch: usize, by_row: bool) -> Answer {
        answer(counted(rows, mask, batch, by_row))
    }

    /// The groups of `rows`, counted as [`dense`] counts them.
    fn counted(rows: &[Row], mask: &[bool; 4], batch: usize, by_row: bool) -> Groups {
        let budget = Arc::new(Budget::new(1 << 20));
        let aggregates = aggregates();
        let mut groups = Groups::new(1, false, &aggregates, Arc::clone(&budget));
        let mut combos = Combos::default();
        let partition = groups.partition_id(Vec::new());
        let name = |v: Option<u8>, prefix: &str| v.map(|v| format!("{prefix}{v}"));
        for chunk in rows.chunks(batch.max(1)) {
            let keys: Vec<Option<String>> = chunk.iter().map(|r| name(r.0, "k")).collect();
            let keys: DictionaryArray<Int32Type> = keys.iter().map(Option::as_deref).collect();
            let conds: Vec<Option<String>> = chunk.iter().map(|r| name(r.1, "c")).collect();
            let conds: DictionaryArray<Int32Type> = conds.iter().map(Option::as_deref).collect();
            let mut key_entries: Vec<u32> = (0..keys.values().len())
                .map(|i| {
                    let value = keys.values().as_string::<i32>().value(i).to_string();
                    groups.texts[0].code(ScalarValue::Utf8(Some(value)), &budget)
                })
                .collect();
            key_entries.push(groups.texts[0].code(ScalarValue::Utf8(None), &budget));
            // Whether each entry of the condition column passes: "c<i>" by mask[i], null by
            // mask[3].
            let mut cond_mask: Vec<bool> = (0..conds.values().len())
                .map(|i| {
                    let value = conds.values().as_string::<i32>().value(i);
                    mask[value[1..].parse::<usize>().unwrap()]
                })
                .collect();
            cond_mask.push(mask[3]);
            let cond_entries = vec![0u32; cond_mask.len()];
            let x = Int64Array::from(chunk.iter().map(|r| r.2).collect::<Vec<_>>());
            let conditional = |then, otherwise| {
                Some(Input {
                    matched: None,
                    entries: Some((1, cond_mask.as_slice())),
                    then,
                    otherwise,
                    hint: None,
                })
            };
            let input = BatchInput {
                rows: chunk.len(),
                // Row mode: a row filter that keeps every row.
                keep: by_row.then(|| BooleanBuffer::new_set(chunk.len())),
                partition,
                columns: vec![
                    EntryColumn {
                        dict: &keys,
                        entries: &key_entries,
                        key: Some(0),
                    },
                    EntryColumn {
                        dict: &conds,
                        entries: &cond_entries,
                        key: None,
                    },
                ],
                integer: None,
                inputs: vec![
                    conditional(Values::Int(1), Values::Null),
                    conditional(Values::Ints(&x), Values::Int(0)),
                    conditional(Values::Ints(&x), Values::Null),
                    Some(Input::every_row(Values::Ints(&x))),
                    None,
                ],
            };
            groups.update(&input, &mut combos);
        }
        groups
    }

    /// The answer of `groups`, sorted.
    fn answer(groups: Groups) -> Answer {
        let mut fields = vec![Field::new("k", DataType::Utf8, true)];
        fields.extend((0..5).map(|a| Field::new(format!("a{a}"), DataType::Int64, true)));
        let schema = Arc::new(Schema::new(fields));
        let mut outputs = vec![Output::Text(0)];
        outputs.extend((0..5).map(Output::Aggregate));
        let batches = groups.into_batches(&outputs, &schema, 1024, false).unwrap();
        let mut answer: Answer = Vec::new();
        for b in &batches {
            let keys: &StringArray = b.column(0).as_string();
            for i in 0..b.num_rows() {
                let values = (1..6)
                    .map(|c| {
                        let column = b.column(c).as_primitive::<Int64Type>();
                        column.is_valid(i).then(|| column.value(i))
                    })
                    .collect();
                answer.push((keys.is_valid(i).then(|| keys.value(i).to_string()), values));
            }
        }
        answer.sort();
        answer
    }

    /// The same answer, counted plainly.
    fn expected(rows: &[Row], mask: &[bool; 4]) -> Answer {
        let mut keys: Vec<Option<u8>> = rows.iter().map(|r| r.0).collect();
        keys.sort();
        keys.dedup();
        let mut answer: Answer = keys
            .into_iter()
            .map(|key| {
                let rows: Vec<&Row> = rows.iter().filter(|r| r.0 == key).collect();
                let passes = |r: &&&Row| mask[r.1.map_or(3, usize::from)];
                let matched: Vec<&&Row> = rows.iter().filter(passes).collect();
                let sum = |values: Vec<i64>| (!values.is_empty()).then(|| values.iter().sum());
                let case_sum: Vec<i64> = rows
                    .iter()
                    .filter_map(|r| if passes(&r) { r.2 } else { Some(0) })
                    .collect();
                let values = vec![
                    Some(matched.len() as i64),
                    sum(case_sum),
                    matched.iter().filter_map(|r| r.2).max(),
                    sum(rows.iter().filter_map(|r| r.2).collect()),
                    Some(rows.len() as i64),
                ];
                (key.map(|k| format!("k{k}")), values)
            })
            .collect();
        answer.sort();
        answer
    }

    /// Up to 60 rows of four keys, three condition values and small values, nulls in each.
    fn rows() -> impl Strategy<Value = Vec<Row>> {
        proptest::collection::vec(
            (
                proptest::option::of(0u8..4),
                proptest::option::of(0u8..3),
                proptest::option::of(-1000i64..1000),
            ),
            1..60,
        )
    }

    proptest! {
        /// Rows per slot, counted in interleaved counters or one by one, are the plain count
        /// added to what the slots held.
        #[test]
        fn slots_are_counted_as_one_by_one(
            space in 1usize..9,
            picks in proptest::collection::vec(any::<u32>(), 0..200),
            before in proptest::collection::vec(0u64..1000, 0..9),
        ) {
            let slots: Vec<u32> = picks.iter().map(|p| p % space as u32).collect();
            let mut expected = before.clone();
            expected.resize(space, 0);
            for &slot in &slots {
                expected[slot as usize] += 1;
            }
            let mut rows = before;
            rows.truncate(space);
            count_slots(&slots, space, &mut rows);
            prop_assert_eq!(rows, expected);
        }

        /// Counting by slot and by row agree with a plain count, across batches whose
        /// dictionaries differ, with nulls in keys, conditions and values.
        #[test]
        fn slots_and_rows_count_alike(
            rows in rows(),
            mask in any::<[bool; 4]>(),
            batch in 1usize..25,
        ) {
            let expected = expected(&rows, &mask);
            prop_assert_eq!(dense(&rows, &mask, batch, false), expected.clone());
            prop_assert_eq!(dense(&rows, &mask, batch, true), expected);
        }

        /// Groups sent as states (a cluster's partials) and absorbed by a merge answer as one
        /// worker counting every row does, wherever the rows are cut between the partials.
        #[test]
        fn states_merge_as_one_worker_counts(
            rows in rows(),
            mask in any::<[bool; 4]>(),
            cut in 0usize..60,
            batch in 1usize..25,
        ) {
            let cut = cut.min(rows.len());
            let mut fields = vec![Field::new("k", DataType::Utf8, true)];
            fields.push(Field::new("rows", DataType::UInt64, true));
            fields.push(Field::new("integer_key", DataType::Binary, true));
            fields.extend((0..5).map(|a| Field::new(format!("a{a}"), DataType::Binary, true)));
            let schema = Arc::new(Schema::new(fields));
            let mut merged = Groups::new(1, false, &aggregates(), Arc::new(Budget::new(1 << 20)));
            for part in [&rows[..cut], &rows[cut..]] {
                let states = counted(part, &mask, batch, false)
                    .into_states(&schema, 0, batch)
                    .unwrap();
                for state in &states {
                    merged.absorb_states(state, 0).unwrap();
                }
            }
            prop_assert_eq!(answer(merged), expected(&rows, &mask));
        }
    }
}
