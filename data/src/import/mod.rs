//! `data import`: a market file in powermix's schema for one settlement point and period,
//! assembled from a folder of files downloaded from ERCOT (single CSVs, or the zips ERCOT
//! serves them in), exported by gridstatus (CSV or parquet), and a daily bitcoin file.
//!
//! Every value is placed by its exact UTC interval start (the `clock` module handles hour ending
//! "24:00", the repeated fall-back hour and the skipped spring-forward hour). Real-time prices
//! must cover the period without a gap; the optional columns keep nulls where no file has a
//! value (the loader fills them by the site's fill rules, and the import report says how
//! many). A repeat within a file, a conflicting value between files, an unknown layout, a
//! settlement point no file holds, a gap: each is an error naming file, row, column and value,
//! and nothing is written. Real-time reserve prices (NP6-331-CD, since 5 Dec 2025) are carried
//! as the optional columns `rt_as_regup`, `rt_as_regdn`, `rt_as_rrs`, `rt_as_ecrs`,
//! `rt_as_nspin` when a file has them.
mod bitcoin;
mod clock;
mod ercot;
mod gridstatus;
mod store;

pub use bitcoin::hashprice;

use crate::parquet_io::{Codec, write_parquet_full};
use powermix_env::data::{
    DataError, FillReport, FillRules, MarketData, OptionalColumn, RawMarketData, validate,
};
use powermix_env::time::{INTERVAL_MS, format_utc, local_time, parse_period};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use store::{Product, Source, Store, Target};

/// A file layout the importer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// ERCOT real-time settlement point prices, 15-minute (NP6-905-CD; yearly NP6-785-ER).
    ErcotRtSpp,
    /// ERCOT day-ahead settlement point prices, hourly (NP4-190-CD; yearly NP4-180-ER).
    ErcotDamSpp,
    /// ERCOT day-ahead ancillary service clearing prices, one row per product (NP4-188-CD).
    ErcotDamAs,
    /// ERCOT day-ahead ancillary service clearing prices, one column per product (NP4-181-ER).
    ErcotDamAsWide,
    /// ERCOT real-time clearing prices for capacity, 15-minute (NP6-331-CD).
    ErcotRtAs,
    /// ERCOT actual system load by weather zone, hourly (NP6-345-CD).
    ErcotLoad,
    /// gridstatus `Ercot().get_spp(...)` export.
    GridstatusSpp,
    /// gridstatus `Ercot().get_as_prices(...)` export.
    GridstatusAs,
    /// gridstatus `Ercot().get_load(...)` export.
    GridstatusLoad,
    /// Daily bitcoin price and difficulty, or hashprice.
    Bitcoin,
}

impl Layout {
    /// The report or call the layout comes from.
    pub fn report(self) -> &'static str {
        match self {
            Layout::ErcotRtSpp => "NP6-905-CD",
            Layout::ErcotDamSpp => "NP4-190-CD",
            Layout::ErcotDamAs => "NP4-188-CD",
            Layout::ErcotDamAsWide => "NP4-181-ER",
            Layout::ErcotRtAs => "NP6-331-CD",
            Layout::ErcotLoad => "NP6-345-CD",
            Layout::GridstatusSpp => "gridstatus get_spp",
            Layout::GridstatusAs => "gridstatus get_as_prices",
            Layout::GridstatusLoad => "gridstatus get_load",
            Layout::Bitcoin => "daily bitcoin",
        }
    }

    /// What the layout holds.
    pub fn describe(self) -> &'static str {
        match self {
            Layout::ErcotRtSpp | Layout::GridstatusSpp => "settlement point prices",
            Layout::ErcotDamSpp => "day-ahead settlement point prices",
            Layout::ErcotDamAs | Layout::ErcotDamAsWide | Layout::GridstatusAs => {
                "ancillary service clearing prices"
            }
            Layout::ErcotRtAs => "real-time ancillary service clearing prices",
            Layout::ErcotLoad | Layout::GridstatusLoad => "system load",
            Layout::Bitcoin => "hashprice",
        }
    }
}

/// A CSV or parquet header: the names as written and normalised (lower case, letters and
/// digits only), so "Delivery Date", "DeliveryDate" and "delivery_date" match.
pub(crate) struct Header {
    raw: Vec<String>,
    norm: Vec<String>,
}

impl Header {
    pub(crate) fn new(raw: Vec<String>) -> Header {
        let norm = raw
            .iter()
            .map(|n| {
                n.chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .map(|c| c.to_ascii_lowercase())
                    .collect()
            })
            .collect();
        Header { raw, norm }
    }

    pub(crate) fn find(&self, norm: &str) -> Option<usize> {
        self.norm.iter().position(|n| n == norm)
    }

    pub(crate) fn has(&self, norm: &str) -> bool {
        self.find(norm).is_some()
    }

    pub(crate) fn name(&self, i: usize) -> &str {
        &self.raw[i]
    }

    pub(crate) fn len(&self) -> usize {
        self.raw.len()
    }
}

/// An error at data row `row` (zero-based; the CSV line is `row + 2`) of `file`, column
/// `column`, quoting the value and what was expected.
pub(crate) fn bad_value(
    file: &str,
    row: usize,
    column: &str,
    value: &str,
    expected: &str,
) -> DataError {
    row_error(file, row, column, format!("`{value}` is not {expected}"))
}

/// An error at data row `row` of `file`, column `column`.
pub(crate) fn row_error(file: &str, row: usize, column: &str, msg: String) -> DataError {
    DataError::new(file, format!("{msg} (line {})", row + 2))
        .column(column)
        .row(row)
}

/// A CSV that does not parse (ragged row, bad quoting).
pub(crate) fn csv_error(file: &str, row: usize, e: csv::Error) -> DataError {
    DataError::new(file, format!("not a readable CSV: {e}")).row(row)
}

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Folder of downloaded files, searched recursively (`.csv`, `.zip`, `.parquet`; other
    /// files are listed as ignored).
    pub dir: PathBuf,
    /// Settlement point (hub or load zone), e.g. `HB_WEST`, `LZ_HOUSTON`.
    pub settlement_point: String,
    /// Settlement point type to keep where a real-time price file has one (`HU`, `LZ`,
    /// `LZEW`, ...; gridstatus's `Location Type` names map to these codes). ERCOT publishes a
    /// load zone under one name twice, `LZ` and energy-weighted `LZEW`: with None, a point
    /// that comes with two types is an error asking for this choice.
    pub point_type: Option<String>,
    /// `YYYY-MM-DD..YYYY-MM-DD`, US/Central dates, end exclusive.
    pub period: String,
    /// Add `fees_btc_per_block` to the subsidy when computing hashprice (the data README's
    /// hashprice excludes fees; off by default).
    pub include_fees: bool,
    /// A file to leave out of the search (the output, when it is written inside `dir`).
    pub skip: Option<PathBuf>,
}

/// One file read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceReport {
    /// Path (a zip entry as `archive.zip:entry.csv`).
    pub file: String,
    /// The report id or gridstatus call.
    pub report: String,
    /// What it holds.
    pub holds: String,
    /// Data rows read.
    pub rows_read: usize,
    /// Values stored from it (of the settlement point, inside the period).
    pub values_used: usize,
}

/// What an import read and what the table holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    /// The settlement point.
    pub settlement_point: String,
    /// The period, as given.
    pub period: String,
    /// Intervals in the table.
    pub rows: usize,
    /// Every file read, in the order read.
    pub sources: Vec<SourceReport>,
    /// Files in the folder, and entries of its zips, that are not CSV, zip or parquet (an
    /// ERCOT yearly `.xlsx` workbook must be saved as CSV first).
    pub ignored_files: Vec<String>,
    /// Fraction (0 to 1) of rows with a value, per column written.
    pub coverage: BTreeMap<String, f64>,
    /// Rows without a value between a column's first and last value (left null).
    pub holes: BTreeMap<String, usize>,
    /// Values of the settlement point read but outside the period.
    pub outside_period: usize,
    /// Values read twice with the same value from two files (overlapping downloads).
    pub equal_repeats: usize,
    /// Reserve rows of products without a column here (skipped).
    pub unknown_products: usize,
    /// What the loader's default fill rules will fill in this table.
    pub fill: FillReport,
}

impl ImportReport {
    /// A few lines for the terminal.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} {}: {} intervals from {} files\n",
            self.settlement_point,
            self.period,
            self.rows,
            self.sources.len()
        );
        for s in &self.sources {
            out.push_str(&format!(
                "  {} ({}, {}): {} rows, {} values used\n",
                s.file, s.report, s.holds, s.rows_read, s.values_used
            ));
        }
        for f in &self.ignored_files {
            let hint = if f.to_ascii_lowercase().ends_with(".xlsx") {
                " (a workbook: save its sheets as CSV)"
            } else {
                ""
            };
            out.push_str(&format!("  ignored: {f}{hint}\n"));
        }
        out.push_str("coverage:");
        for (c, f) in &self.coverage {
            out.push_str(&format!(" {c} {:.1}%", f * 100.0));
        }
        out.push('\n');
        let holes: Vec<String> = self
            .holes
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        if !holes.is_empty() {
            out.push_str(&format!("holes left null: {}\n", holes.join(", ")));
        }
        out.push_str(&format!(
            "on load with the default fill rules: {}\n",
            self.fill.summary()
        ));
        if self.outside_period + self.equal_repeats + self.unknown_products > 0 {
            out.push_str(&format!(
                "skipped: {} values outside the period, {} repeated with equal values, {} of unknown reserve products\n",
                self.outside_period, self.equal_repeats, self.unknown_products
            ));
        }
        out
    }
}

/// An imported table: the schema's columns, the real-time reserve columns found, and the
/// report.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The schema's columns.
    pub raw: RawMarketData,
    /// Optional columns beyond the schema's (real-time reserve prices), by name.
    pub extra: Vec<(String, Vec<Option<f64>>)>,
    /// What was read.
    pub report: ImportReport,
}

/// Reads every file under `opts.dir` and assembles the table (nothing is written).
pub fn import(opts: &ImportOptions) -> Result<Imported, DataError> {
    let (start, end) =
        parse_period(&opts.period).map_err(|e| DataError::new("--period", e.to_string()))?;
    let mut store = Store::new(&opts.settlement_point, start, end);
    store.point_type = opts.point_type.clone();
    let files = list_files(&opts.dir)?;
    let skip = opts.skip.as_ref().and_then(|p| p.canonicalize().ok());
    for path in files {
        if skip.is_some() && path.canonicalize().ok() == skip {
            continue;
        }
        let name = path.display().to_string();
        let ext = extension(&name);
        match ext.as_str() {
            "csv" | "zip" | "parquet" => {
                let bytes = std::fs::read(&path)
                    .map_err(|e| DataError::new(&name, format!("cannot read: {e}")))?;
                read_any(&mut store, &name, &ext, bytes, opts)?;
            }
            _ => store.ignored.push(name),
        }
    }
    assemble(store, opts)
}

/// Imports and writes the table to `out` (zstd parquet, through a temporary file and a
/// rename), with its provenance in the file metadata: `source`, `import_sources` (JSON: each
/// file, its report id and the rows used), `coverage` (JSON: fraction per column), `period`.
pub fn import_to_file(opts: &ImportOptions, out: &Path) -> Result<ImportReport, DataError> {
    let mut opts = opts.clone();
    opts.skip = Some(out.to_path_buf());
    let imported = import(&opts)?;
    write_imported(&imported, out)?;
    Ok(imported.report)
}

/// Writes an imported table with its provenance (see [`import_to_file`]).
pub fn write_imported(imported: &Imported, out: &Path) -> Result<(), DataError> {
    let r = &imported.report;
    let mut reports: Vec<String> = Vec::new();
    for s in &r.sources {
        let item = format!("{} ({})", s.report, s.holds);
        if !reports.contains(&item) {
            reports.push(item);
        }
    }
    let metadata = vec![
        (
            "source".to_string(),
            format!("powermix data import: {}", reports.join("; ")),
        ),
        (
            "import_sources".to_string(),
            serde_json::to_string(&r.sources).unwrap_or_default(),
        ),
        (
            "coverage".to_string(),
            serde_json::to_string(&r.coverage).unwrap_or_default(),
        ),
        ("period".to_string(), r.period.clone()),
    ];
    let extra: Vec<(&str, &[Option<f64>])> = imported
        .extra
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    write_parquet_full(&imported.raw, &extra, &metadata, out, Codec::Zstd)
}

/// Every file under `dir`, sorted by path.
fn list_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let name = dir.display().to_string();
    if !dir.is_dir() {
        return Err(DataError::new(name, "is not a folder"));
    }
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .map_err(|e| DataError::new(d.display().to_string(), format!("cannot list: {e}")))?;
        for entry in entries {
            let entry = entry.map_err(|e| DataError::new(&name, format!("cannot list: {e}")))?;
            let path = entry.path();
            let file_name = entry.file_name();
            if file_name.to_string_lossy().starts_with('.') {
                continue; // hidden files, and our own temporary outputs
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn extension(name: &str) -> String {
    Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Reads one CSV, zip (every CSV, zip and parquet inside, in name order) or parquet.
fn read_any(
    store: &mut Store,
    name: &str,
    ext: &str,
    bytes: Vec<u8>,
    opts: &ImportOptions,
) -> Result<(), DataError> {
    match ext {
        "csv" => read_csv(store, name, &bytes, opts),
        "parquet" => {
            let table = gridstatus::Table::from_parquet(name, bytes::Bytes::from(bytes))?;
            let layout = gridstatus::detect(&table.header)
                .ok_or_else(|| unknown_layout(name, &table.header))?;
            let source = add_source(store, name, layout);
            gridstatus::read(store, source, layout, &table)
        }
        "zip" => {
            let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
                .map_err(|e| DataError::new(name, format!("not a readable zip: {e}")))?;
            let mut entries: Vec<String> = archive.file_names().map(String::from).collect();
            entries.sort();
            for entry in entries {
                let inner_ext = extension(&entry);
                let inner_name = format!("{name}:{entry}");
                if !matches!(inner_ext.as_str(), "csv" | "zip" | "parquet") {
                    if !entry.ends_with('/') {
                        store.ignored.push(inner_name);
                    }
                    continue;
                }
                let mut f = archive
                    .by_name(&entry)
                    .map_err(|e| DataError::new(&inner_name, format!("cannot unzip: {e}")))?;
                let mut inner = Vec::with_capacity(f.size() as usize);
                f.read_to_end(&mut inner)
                    .map_err(|e| DataError::new(&inner_name, format!("cannot unzip: {e}")))?;
                drop(f);
                read_any(store, &inner_name, &inner_ext, inner, opts)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn unknown_layout(file: &str, header: &Header) -> DataError {
    DataError::new(
        file,
        format!(
            "unknown layout, header `{}`: expected an ERCOT report (NP6-905-CD, NP4-190-CD, NP4-188-CD, NP6-331-CD, NP6-345-CD), a gridstatus export (get_spp, get_as_prices, get_load) or a daily bitcoin file (docs/data-import.md)",
            header.raw.join(",")
        ),
    )
}

fn add_source(store: &mut Store, file: &str, layout: Layout) -> usize {
    store.sources.push(Source {
        file: file.to_string(),
        layout,
        rows_read: 0,
        rows_used: 0,
    });
    store.sources.len() - 1
}

fn read_csv(
    store: &mut Store,
    name: &str,
    bytes: &[u8],
    opts: &ImportOptions,
) -> Result<(), DataError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut rdr = csv::ReaderBuilder::new().from_reader(bytes);
    let header = Header::new(
        rdr.headers()
            .map_err(|e| DataError::new(name, format!("not a readable CSV: {e}")))?
            .iter()
            .map(|s| s.trim().to_string())
            .collect(),
    );
    let layout = ercot::detect(&header)
        .or_else(|| gridstatus::detect(&header))
        .or_else(|| bitcoin::detect(&header))
        .ok_or_else(|| unknown_layout(name, &header))?;
    let source = add_source(store, name, layout);
    match layout {
        Layout::GridstatusSpp | Layout::GridstatusAs | Layout::GridstatusLoad => {
            let table = gridstatus::Table::from_csv(name, header, &mut rdr)?;
            gridstatus::read(store, source, layout, &table)
        }
        Layout::Bitcoin => bitcoin::read(store, source, &header, &mut rdr, opts.include_fees),
        _ => ercot::read(store, source, layout, &header, &mut rdr),
    }
}

/// Local wall time of a UTC instant, for messages.
fn local_label(t: i64) -> String {
    let l = local_time(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} US/Central",
        l.year, l.month, l.day, l.hour, l.minute
    )
}

/// Builds the table from the store: real-time prices complete, the rest as found.
fn assemble(store: Store, opts: &ImportOptions) -> Result<Imported, DataError> {
    let (start, end) = (store.start_ms, store.end_ms);
    let n = ((end - start) / INTERVAL_MS) as usize;
    let rt = &store.columns[Target::Rt.index()];
    let point = &store.point;
    if rt.is_empty() {
        let price_files = store.sources.iter().any(|s| {
            matches!(
                s.layout,
                Layout::ErcotRtSpp | Layout::GridstatusSpp | Layout::ErcotDamSpp
            )
        });
        let dir = opts.dir.display().to_string();
        return Err(if price_files && !store.point_found {
            let seen: Vec<&str> = store
                .points_seen
                .iter()
                .map(String::as_str)
                .take(40)
                .collect();
            DataError::new(
                dir,
                format!(
                    "settlement point `{point}` is not in the files; they hold: {}",
                    seen.join(", ")
                ),
            )
            .column("SettlementPointName")
        } else {
            DataError::new(
                dir,
                format!(
                    "no real-time prices of `{point}` in {}: add NP6-905-CD files or a gridstatus get_spp export covering it",
                    opts.period
                ),
            )
            .column("rt_price")
        });
    }
    let times: Vec<i64> = (0..n as i64).map(|i| start + i * INTERVAL_MS).collect();
    let mut rt_price = Vec::with_capacity(n);
    for (i, &t) in times.iter().enumerate() {
        match rt.get(&t) {
            Some(c) => rt_price.push(c.value),
            None => {
                let missing = times[i..]
                    .iter()
                    .take_while(|t| !rt.contains_key(t))
                    .count();
                let last = t + (missing as i64 - 1) * INTERVAL_MS;
                let what = format!(
                    "gap: no real-time price of `{point}` for {} intervals, {} ({}) to {} ({})",
                    missing,
                    format_utc(t),
                    local_label(t),
                    format_utc(last),
                    local_label(last)
                );
                // Name the row before the gap (or after it, for a gap at the start).
                let near = if i > 0 {
                    rt.get(&(t - INTERVAL_MS))
                } else {
                    rt.get(&(last + INTERVAL_MS))
                };
                return Err(match near {
                    Some(c) => {
                        let side = if i > 0 { "after" } else { "before" };
                        DataError::new(
                            store.sources[c.source as usize].file.clone(),
                            format!("{what}; the {side} this row"),
                        )
                        .column("rt_price")
                        .row(c.row as usize)
                    }
                    None => DataError::new(opts.dir.display().to_string(), what).column("rt_price"),
                });
            }
        }
    }
    let lookup = |target: Target| -> Vec<Option<f64>> {
        let step = target.step_ms();
        let col = &store.columns[target.index()];
        times
            .iter()
            .map(|&t| col.get(&(t - t.rem_euclid(step))).map(|c| c.value))
            .collect()
    };
    let mut optional: [Vec<Option<f64>>; 8] = Default::default();
    for c in OptionalColumn::ALL {
        let target = match c {
            OptionalColumn::DaPrice => Target::Da,
            OptionalColumn::AsRegup => Target::DamAs(Product::RegUp),
            OptionalColumn::AsRegdn => Target::DamAs(Product::RegDn),
            OptionalColumn::AsRrs => Target::DamAs(Product::Rrs),
            OptionalColumn::AsEcrs => Target::DamAs(Product::Ecrs),
            OptionalColumn::AsNspin => Target::DamAs(Product::Nspin),
            OptionalColumn::SystemLoad => Target::Load,
            OptionalColumn::Hashprice => Target::Hashprice,
        };
        optional[c.index()] = lookup(target);
    }
    let extra: Vec<(String, Vec<Option<f64>>)> = Product::ALL
        .iter()
        .filter(|&&p| !store.columns[Target::RtAs(p).index()].is_empty())
        .map(|&p| (p.rt_name().to_string(), lookup(Target::RtAs(p))))
        .collect();
    let raw = RawMarketData {
        settlement_point: point.clone(),
        interval_start_ms: times,
        rt_price,
        optional,
    };
    validate(&raw, &opts.dir.display().to_string())?;
    let (_, fill) = MarketData::from_raw(&raw, &FillRules::default())?;

    let mut coverage = BTreeMap::new();
    let mut holes = BTreeMap::new();
    coverage.insert("rt_price".to_string(), 1.0);
    let columns = OptionalColumn::ALL
        .iter()
        .map(|c| (c.name().to_string(), raw.column(*c)))
        .chain(extra.iter().map(|(name, v)| (name.clone(), v.as_slice())));
    for (name, v) in columns {
        let present = v.iter().filter(|x| x.is_some()).count();
        coverage.insert(name.clone(), present as f64 / n as f64);
        let first = v.iter().position(Option::is_some);
        let last = v.iter().rposition(Option::is_some);
        let inside = match (first, last) {
            (Some(a), Some(b)) => b + 1 - a - present,
            _ => 0,
        };
        holes.insert(name, inside);
    }
    let sources = store
        .sources
        .iter()
        .map(|s| SourceReport {
            file: s.file.clone(),
            report: s.layout.report().to_string(),
            holds: s.layout.describe().to_string(),
            rows_read: s.rows_read,
            values_used: s.rows_used,
        })
        .collect();
    let report = ImportReport {
        settlement_point: point.clone(),
        period: opts.period.clone(),
        rows: n,
        sources,
        ignored_files: store.ignored.clone(),
        coverage,
        holes,
        outside_period: store.outside_period,
        equal_repeats: store.equal_repeats,
        unknown_products: store.unknown_products,
        fill,
    };
    Ok(Imported { raw, extra, report })
}
