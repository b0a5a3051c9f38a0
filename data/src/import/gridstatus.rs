//! Exports of gridstatus's ERCOT data frames, as CSV (`df.to_csv`) or parquet
//! (`df.to_parquet`): `Ercot().get_spp(...)` (columns `Interval Start`, `Interval End`,
//! `Location`, `Location Type`, `Market`, `SPP`; 15-minute rows for `REAL_TIME_15_MIN`,
//! hourly for `DAY_AHEAD_HOURLY`), `get_as_prices(...)` (`Interval Start`, `Interval End`,
//! `Market`, `Non-Spinning Reserves`, `Regulation Down`, `Regulation Up`, `Responsive
//! Reserves`, `ERCOT Contingency Reserve Service`, hourly) and `get_load(...)` (`Interval
//! Start`, `Interval End`, `Load`). Column lists as asserted by gridstatus's own tests
//! (gridstatus/tests/source_specific/test_ercot.py, `_check_as_prices`, `test_get_as_prices`,
//! `test_get_load_by_weather_zone`). Times are tz-aware (US/Central offsets in CSV, a time
//! zone on the parquet column); a time without an offset is refused, never guessed.
use super::store::{Product, Store, Target};
use super::{Header, Layout, bad_value, csv_error, row_error};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use powermix_env::data::DataError;
use powermix_env::time::INTERVAL_MS;

use super::clock::HOUR_MS;

/// gridstatus's reserve columns (normalised names) and the product each holds.
const AS_COLUMNS: [(&str, Product); 5] = [
    ("regulationup", Product::RegUp),
    ("regulationdown", Product::RegDn),
    ("responsivereserves", Product::Rrs),
    ("ercotcontingencyreserveservice", Product::Ecrs),
    ("nonspinningreserves", Product::Nspin),
];

/// One column of a gridstatus table.
enum Col {
    /// CSV text, parsed on access.
    Raw(Vec<String>),
    /// UTC milliseconds (parquet timestamps with a time zone).
    Time(Vec<Option<i64>>),
    /// Parquet strings.
    Text(Vec<Option<String>>),
    /// Parquet numbers.
    Num(Vec<Option<f64>>),
    /// A parquet column of a type nothing here reads (its type, for the error).
    Other(String),
}

/// A gridstatus data frame, read whole.
pub(crate) struct Table {
    pub(crate) header: Header,
    cols: Vec<Col>,
    rows: usize,
}

impl Table {
    /// Reads a CSV export.
    pub(crate) fn from_csv(
        file: &str,
        header: Header,
        rdr: &mut csv::Reader<&[u8]>,
    ) -> Result<Table, DataError> {
        let mut cols: Vec<Vec<String>> = vec![Vec::new(); header.len()];
        let mut rec = csv::StringRecord::new();
        let mut rows = 0;
        loop {
            match rdr.read_record(&mut rec) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(csv_error(file, rows, e)),
            }
            for (c, out) in cols.iter_mut().enumerate() {
                out.push(rec.get(c).unwrap_or_default().trim().to_string());
            }
            rows += 1;
        }
        Ok(Table {
            header,
            cols: cols.into_iter().map(Col::Raw).collect(),
            rows,
        })
    }

    /// Reads a parquet export.
    pub(crate) fn from_parquet(file: &str, bytes: bytes::Bytes) -> Result<Table, DataError> {
        let err = |m: String| DataError::new(file, m);
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .map_err(|e| err(format!("not a readable parquet file: {e}")))?;
        let schema = builder.schema().clone();
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let header = Header::new(names);
        let mut cols: Vec<Col> = schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Timestamp(_, Some(_)) => Col::Time(Vec::new()),
                DataType::Float64 | DataType::Float32 | DataType::Int64 | DataType::Int32 => {
                    Col::Num(Vec::new())
                }
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Col::Text(Vec::new()),
                DataType::Dictionary(_, v)
                    if matches!(**v, DataType::Utf8 | DataType::LargeUtf8) =>
                {
                    Col::Text(Vec::new())
                }
                other => Col::Other(other.to_string()),
            })
            .collect();
        let reader = builder
            .build()
            .map_err(|e| err(format!("cannot read: {e}")))?;
        let mut rows = 0;
        for batch in reader {
            let batch = batch.map_err(|e| err(format!("cannot read: {e}")))?;
            for (c, col) in cols.iter_mut().enumerate() {
                append(col, batch.column(c));
            }
            rows += batch.num_rows();
        }
        Ok(Table { header, cols, rows })
    }

    fn time(&self, file: &str, c: usize, r: usize) -> Result<i64, DataError> {
        let name = self.header.name(c);
        match &self.cols[c] {
            Col::Time(v) => v[r].ok_or_else(|| bad_value(file, r, name, "null", "a time")),
            Col::Raw(v) => parse_time(&v[r])
                .ok_or_else(|| bad_value(file, r, name, &v[r], "a time with a UTC offset")),
            Col::Other(t) => Err(bad_value(file, r, name, t, "a time zone-aware timestamp")),
            _ => Err(bad_value(
                file,
                r,
                name,
                "non-time column",
                "a time zone-aware timestamp",
            )),
        }
    }

    fn text(&self, c: usize, r: usize) -> &str {
        match &self.cols[c] {
            Col::Raw(v) => &v[r],
            Col::Text(v) => v[r].as_deref().unwrap_or(""),
            _ => "",
        }
    }

    fn num(&self, file: &str, c: usize, r: usize) -> Result<Option<f64>, DataError> {
        let name = self.header.name(c);
        match &self.cols[c] {
            Col::Num(v) => Ok(v[r].filter(|x| !x.is_nan())),
            Col::Raw(v) if v[r].is_empty() || v[r] == "NaN" || v[r] == "nan" => Ok(None),
            Col::Raw(v) => v[r]
                .parse()
                .map(Some)
                .map_err(|_| bad_value(file, r, name, &v[r], "a number")),
            Col::Other(t) => Err(bad_value(file, r, name, t, "a number column")),
            _ => Err(bad_value(file, r, name, "text column", "a number column")),
        }
    }
}

/// Appends one arrow column to its table column.
fn append(col: &mut Col, a: &ArrayRef) {
    match col {
        Col::Time(out) => {
            let DataType::Timestamp(unit, _) = a.data_type() else {
                return;
            };
            let (values, div, mul): (Vec<Option<i64>>, i64, i64) = match unit {
                TimeUnit::Second => (
                    a.as_primitive::<TimestampSecondType>().iter().collect(),
                    1,
                    1000,
                ),
                TimeUnit::Millisecond => (
                    a.as_primitive::<TimestampMillisecondType>()
                        .iter()
                        .collect(),
                    1,
                    1,
                ),
                TimeUnit::Microsecond => (
                    a.as_primitive::<TimestampMicrosecondType>()
                        .iter()
                        .collect(),
                    1000,
                    1,
                ),
                TimeUnit::Nanosecond => (
                    a.as_primitive::<TimestampNanosecondType>().iter().collect(),
                    1_000_000,
                    1,
                ),
            };
            out.extend(
                values
                    .into_iter()
                    .map(|v| v.map(|x| x.div_euclid(div) * mul)),
            );
        }
        Col::Num(out) => match a.data_type() {
            DataType::Float64 => out.extend(a.as_primitive::<Float64Type>().iter()),
            DataType::Float32 => out.extend(
                a.as_primitive::<Float32Type>()
                    .iter()
                    .map(|v| v.map(f64::from)),
            ),
            DataType::Int64 => out.extend(
                a.as_primitive::<Int64Type>()
                    .iter()
                    .map(|v| v.map(|x| x as f64)),
            ),
            DataType::Int32 => out.extend(
                a.as_primitive::<Int32Type>()
                    .iter()
                    .map(|v| v.map(f64::from)),
            ),
            _ => {}
        },
        Col::Text(out) => match a.data_type() {
            DataType::Utf8 => out.extend(a.as_string::<i32>().iter().map(|v| v.map(String::from))),
            DataType::LargeUtf8 => {
                out.extend(a.as_string::<i64>().iter().map(|v| v.map(String::from)))
            }
            DataType::Utf8View => {
                out.extend(a.as_string_view().iter().map(|v| v.map(String::from)))
            }
            DataType::Dictionary(_, _) => {
                let d = a.as_any_dictionary();
                let keys = d.normalized_keys();
                let values: Vec<Option<String>> = match d.values().data_type() {
                    DataType::LargeUtf8 => d
                        .values()
                        .as_string::<i64>()
                        .iter()
                        .map(|v| v.map(String::from))
                        .collect(),
                    _ => d
                        .values()
                        .as_string::<i32>()
                        .iter()
                        .map(|v| v.map(String::from))
                        .collect(),
                };
                out.extend(keys.iter().enumerate().map(|(i, &k)| {
                    if a.is_null(i) {
                        None
                    } else {
                        values[k].clone()
                    }
                }));
            }
            _ => {}
        },
        Col::Raw(_) | Col::Other(_) => {}
    }
}

/// ERCOT's settlement point type code of a gridstatus `Location Type` name (gridstatus's
/// `LOCATION_TYPE_*` constants in gridstatus/ercot.py), or the name itself.
fn type_code(name: &str) -> &str {
    match name {
        "Trading Hub" => "HU",
        "Load Zone" => "LZ",
        "Load Zone Energy Weighted" => "LZEW",
        "Load Zone DC Tie" => "LZ_DC",
        "Load Zone DC Tie Energy Weighted" => "LZ_DCEW",
        "Resource Node" => "RN",
        other => other,
    }
}

/// A pandas-written time with its UTC offset (`2024-01-01 00:00:00-06:00`, or RFC 3339).
fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%:z")
        .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The gridstatus layout of a header, if it is one.
pub(crate) fn detect(h: &Header) -> Option<Layout> {
    if !(h.has("intervalstart") && h.has("intervalend")) {
        return None;
    }
    if h.has("location") && h.has("spp") {
        Some(Layout::GridstatusSpp)
    } else if AS_COLUMNS.iter().any(|(n, _)| h.has(n)) {
        Some(Layout::GridstatusAs)
    } else if h.has("load") || h.has("systemtotal") {
        Some(Layout::GridstatusLoad)
    } else {
        None
    }
}

/// Stores a gridstatus table's rows.
pub(crate) fn read(
    store: &mut Store,
    source: usize,
    layout: Layout,
    t: &Table,
) -> Result<(), DataError> {
    let file = store.sources[source].file.clone();
    let h = &t.header;
    let (is, ie) = (
        h.find("intervalstart").expect("detected"),
        h.find("intervalend").expect("detected"),
    );
    store.sources[source].rows_read += t.rows;
    let mut last_other = String::new();
    for r in 0..t.rows {
        let start = t.time(&file, is, r)?;
        let end = t.time(&file, ie, r)?;
        let step = end - start;
        let wrong_step = |expected: &str| {
            row_error(
                &file,
                r,
                h.name(ie),
                format!(
                    "an interval of {} minutes; expected {expected}",
                    step as f64 / 60_000.0
                ),
            )
        };
        match layout {
            Layout::GridstatusSpp => {
                let loc_i = h.find("location").expect("detected");
                let loc = t.text(loc_i, r).trim();
                if loc != store.point {
                    if loc != last_other {
                        last_other = loc.to_string();
                        store.saw_point(loc);
                    }
                    continue;
                }
                store.point_found = true;
                if let Some(ti) = h.find("locationtype") {
                    let ty = type_code(t.text(ti, r).trim());
                    if !store.keep_type(ty, source, r, h.name(ti))? {
                        continue;
                    }
                }
                let target = match step {
                    INTERVAL_MS => Target::Rt,
                    HOUR_MS => Target::Da,
                    _ => return Err(wrong_step("15 (real time) or 60 (day ahead)")),
                };
                let i = h.find("spp").expect("detected");
                if let Some(v) = t.num(&file, i, r)? {
                    store.put(target, start, v, source, r, h.name(i))?;
                }
            }
            Layout::GridstatusAs => {
                for (name, p) in AS_COLUMNS {
                    let Some(i) = h.find(name) else { continue };
                    let target = match step {
                        HOUR_MS => Target::DamAs(p),
                        INTERVAL_MS => Target::RtAs(p),
                        _ => return Err(wrong_step("60 (day ahead) or 15 (real time)")),
                    };
                    if let Some(v) = t.num(&file, i, r)? {
                        store.put(target, start, v, source, r, h.name(i))?;
                    }
                }
            }
            Layout::GridstatusLoad => {
                if step != HOUR_MS {
                    return Err(wrong_step("60 (hourly load)"));
                }
                let i = h
                    .find("load")
                    .or_else(|| h.find("systemtotal"))
                    .expect("detected");
                if let Some(v) = t.num(&file, i, r)? {
                    store.put(Target::Load, start, v, source, r, h.name(i))?;
                }
            }
            _ => unreachable!("not a gridstatus layout"),
        }
    }
    Ok(())
}
