//! The values read so far, keyed by UTC start, one map per output column; duplicates and
//! conflicts are caught here, naming both places.
use super::Layout;
use powermix_env::data::DataError;
use powermix_env::price::PriceKind;
use powermix_env::time::{INTERVAL_MS, format_utc};
use std::collections::{BTreeSet, HashMap};

use super::clock::{DAY_MS, HOUR_MS};

/// A reserve product, in the schema's column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Product {
    RegUp,
    RegDn,
    Rrs,
    Ecrs,
    Nspin,
}

impl Product {
    pub(crate) const ALL: [Product; 5] = [
        Product::RegUp,
        Product::RegDn,
        Product::Rrs,
        Product::Ecrs,
        Product::Nspin,
    ];

    /// ERCOT's `AncillaryType` / `ASType` code.
    pub(crate) fn from_code(code: &str) -> Option<Product> {
        match code.trim() {
            "REGUP" => Some(Product::RegUp),
            "REGDN" => Some(Product::RegDn),
            "RRS" => Some(Product::Rrs),
            "ECRS" => Some(Product::Ecrs),
            "NSPIN" | "NSRS" => Some(Product::Nspin),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The schema's day-ahead column name.
    pub(crate) fn dam_name(self) -> &'static str {
        ["as_regup", "as_regdn", "as_rrs", "as_ecrs", "as_nspin"][self.index()]
    }

    /// The real-time column name (optional columns carried since real-time co-optimisation).
    pub(crate) fn rt_name(self) -> &'static str {
        [
            "rt_as_regup",
            "rt_as_regdn",
            "rt_as_rrs",
            "rt_as_ecrs",
            "rt_as_nspin",
        ][self.index()]
    }
}

/// An output column the importer fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Rt,
    Da,
    DamAs(Product),
    Load,
    Hashprice,
    RtAs(Product),
}

/// Number of [`Target`]s.
pub(crate) const TARGETS: usize = 14;

impl Target {
    pub(crate) fn index(self) -> usize {
        match self {
            Target::Rt => 0,
            Target::Da => 1,
            Target::DamAs(p) => 2 + p.index(),
            Target::Load => 7,
            Target::Hashprice => 8,
            Target::RtAs(p) => 9 + p.index(),
        }
    }

    /// Length of one value's period: 15 minutes, an hour or a (UTC) day.
    pub(crate) fn step_ms(self) -> i64 {
        match self {
            Target::Rt | Target::RtAs(_) => INTERVAL_MS,
            Target::Da | Target::DamAs(_) | Target::Load => HOUR_MS,
            Target::Hashprice => DAY_MS,
        }
    }

    /// The kind of price the column holds (the shared rule of `powermix_env::price`), or
    /// None for load and hashprice.
    pub(crate) fn price_kind(self) -> Option<PriceKind> {
        match self {
            Target::Rt | Target::Da => Some(PriceKind::Energy),
            Target::DamAs(_) | Target::RtAs(_) => Some(PriceKind::Reserve),
            Target::Load | Target::Hashprice => None,
        }
    }

    /// Name of the output column.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Target::Rt => "rt_price",
            Target::Da => "da_price",
            Target::DamAs(p) => p.dam_name(),
            Target::Load => "system_load_mw",
            Target::Hashprice => "hashprice_usd_per_ph_day",
            Target::RtAs(p) => p.rt_name(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Cell {
    pub(crate) value: f64,
    pub(crate) source: u32,
    pub(crate) row: u32,
}

/// One file read (a zip entry counts as a file).
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) file: String,
    pub(crate) layout: Layout,
    pub(crate) rows_read: usize,
    pub(crate) rows_used: usize,
}

/// Everything read, for one settlement point and period.
pub(crate) struct Store {
    pub(crate) point: String,
    pub(crate) start_ms: i64,
    pub(crate) end_ms: i64,
    pub(crate) columns: Vec<HashMap<i64, Cell>>,
    pub(crate) sources: Vec<Source>,
    /// Settlement point names seen in price files (at most 200 kept), for the error that
    /// says the requested one is absent.
    pub(crate) points_seen: BTreeSet<String>,
    /// Rows of the requested point whose time lies outside the period.
    pub(crate) outside_period: usize,
    /// Rows repeated with the same value by another file (overlapping downloads).
    pub(crate) equal_repeats: usize,
    /// Rows of a reserve product this schema has no column for.
    pub(crate) unknown_products: usize,
    /// A price file held a row of the settlement point (in the period or not).
    pub(crate) point_found: bool,
    /// Files and zip entries not read (not CSV, zip or parquet).
    pub(crate) ignored: Vec<String>,
    /// The settlement point type asked for, if any.
    pub(crate) point_type: Option<String>,
    /// The first settlement point type seen for the point: (type, file, row).
    pub(crate) type_seen: Option<(String, String, usize)>,
}

impl Store {
    pub(crate) fn new(point: &str, start_ms: i64, end_ms: i64) -> Store {
        Store {
            point: point.to_string(),
            start_ms,
            end_ms,
            columns: (0..TARGETS).map(|_| HashMap::new()).collect(),
            sources: Vec::new(),
            points_seen: BTreeSet::new(),
            outside_period: 0,
            equal_repeats: 0,
            unknown_products: 0,
            point_found: false,
            ignored: Vec::new(),
            point_type: None,
            type_seen: None,
        }
    }

    /// Whether a real-time price row of the point with settlement point type `ty` is kept:
    /// only the asked type when one was asked; otherwise every row, as long as the point
    /// comes with one type only (an error names both places when it does not).
    pub(crate) fn keep_type(
        &mut self,
        ty: &str,
        source: usize,
        row: usize,
        column: &str,
    ) -> Result<bool, DataError> {
        if let Some(want) = &self.point_type {
            return Ok(ty == want);
        }
        let file = &self.sources[source].file;
        match &self.type_seen {
            None => {
                self.type_seen = Some((ty.to_string(), file.clone(), row));
                Ok(true)
            }
            Some((first, _, _)) if first == ty => Ok(true),
            Some((first, first_file, first_row)) => Err(DataError::new(
                file.clone(),
                format!(
                    "settlement point `{}` comes as type `{ty}` here and `{first}` in {first_file}, row {first_row}: choose one with --point-type (line {})",
                    self.point,
                    row + 2
                ),
            )
            .column(column)
            .row(row)),
        }
    }

    /// Notes a settlement point name seen in a price file.
    pub(crate) fn saw_point(&mut self, name: &str) {
        if self.points_seen.len() < 200 && !self.points_seen.contains(name) {
            self.points_seen.insert(name.to_string());
        }
    }

    /// Stores `value` for `target` at UTC start `key`, read from `source`'s data row `row`
    /// (zero-based) and `column`. Values outside the period are counted and dropped. A
    /// price outside the shared rule of `powermix_env::price` (the loader's too), a
    /// non-finite load or hashprice, a key off the column's grid, a repeat within one file and a
    /// conflicting value from another file are errors naming file, row, column and value.
    pub(crate) fn put(
        &mut self,
        target: Target,
        key: i64,
        value: f64,
        source: usize,
        row: usize,
        column: &str,
    ) -> Result<(), DataError> {
        let file = &self.sources[source].file;
        let here = |msg: String| {
            DataError::new(file.clone(), format!("{msg} (line {})", row + 2))
                .column(column)
                .row(row)
        };
        match target.price_kind() {
            Some(kind) if !kind.is_valid(value) => {
                return Err(here(format!("value {value}: {}", kind.rule())));
            }
            None if !value.is_finite() => {
                return Err(here(format!("value {value} is not a finite number")));
            }
            _ => {}
        }
        let step = target.step_ms();
        if key.rem_euclid(step) != 0 {
            return Err(here(format!(
                "{} is not on the {}-minute grid of {}",
                format_utc(key),
                step / 60_000,
                target.name()
            )));
        }
        if key >= self.end_ms || key + step <= self.start_ms {
            self.outside_period += 1;
            return Ok(());
        }
        let cell = Cell {
            value,
            source: source as u32,
            row: row as u32,
        };
        match self.columns[target.index()].entry(key) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(cell);
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                let first = *o.get();
                let first_file = &self.sources[first.source as usize].file;
                let same_file = first.source as usize == source;
                if !same_file && first.value.to_bits() == value.to_bits() {
                    self.equal_repeats += 1;
                    return Ok(());
                }
                let what = if same_file {
                    format!(
                        "duplicate: {} {} appears again (first at row {})",
                        target.name(),
                        format_utc(key),
                        first.row
                    )
                } else {
                    format!(
                        "conflict: {} {} is {} here but {} in {first_file}, row {}",
                        target.name(),
                        format_utc(key),
                        value,
                        first.value,
                        first.row
                    )
                };
                return Err(here(what));
            }
        }
        self.sources[source].rows_used += 1;
        Ok(())
    }
}
