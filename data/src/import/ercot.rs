//! ERCOT's published CSV layouts (the files inside the zips of the MIS report archive and of
//! the Public API), one reader per report. Columns are matched by name with case, spaces and
//! underscores ignored, so the yearly archives' "Delivery Date" reads like "DeliveryDate".
//!
//! Layouts, checked against ERCOT's report files (MIS report type ids in brackets):
//! - NP6-905-CD [12301] real-time settlement point prices, 15-minute:
//!   `DeliveryDate,DeliveryHour,DeliveryInterval,SettlementPointName,SettlementPointType,
//!   SettlementPointPrice,DSTFlag`. The yearly archive NP6-785-ER, saved as CSV, has the same
//!   columns with `Repeated Hour Flag` for `DSTFlag`.
//! - NP4-190-CD [12331] day-ahead settlement point prices, hourly:
//!   `DeliveryDate,HourEnding,SettlementPoint,SettlementPointPrice,DSTFlag` (hour ending
//!   `01:00` to `24:00`); the yearly NP4-180-ER likewise with `Repeated Hour Flag`.
//! - NP4-188-CD [12329] day-ahead ancillary service clearing prices (MCPC), hourly, long:
//!   `DeliveryDate,HourEnding,AncillaryType,MCPC,DSTFlag` (REGUP, REGDN, RRS, ECRS, NSPIN).
//!   The yearly NP4-181-ER saved as CSV is wide: `Delivery Date, Hour Ending, Repeated Hour
//!   Flag` then one column per product.
//! - NP6-331-CD [24898] real-time clearing prices for capacity, 15-minute (since real-time
//!   co-optimisation, 5 Dec 2025): `DeliveryDate,DeliveryHour,DeliveryInterval,
//!   RepeatedHourFlag,ASType,MCPC`.
//! - NP6-345-CD [13101] actual system load by weather zone, hourly: `OperDay,HourEnding,
//!   COAST,EAST,FAR_WEST,NORTH,NORTH_C,SOUTHERN,SOUTH_C,WEST,TOTAL,DSTFlag`; the load is
//!   `TOTAL`, or the sum of the eight zones when a file has no `TOTAL`.
//!
//! Sources of the headers above: ERCOT MIS report listings and files as quoted in public
//! ERCOT data notes (e.g. battalion-energy/power_market_pipeline's file-structure notes:
//! "DAMSPNP4190", "DAMCPCNP4188"; RTID 24898 and 13101 headers as downloaded), and the
//! column handling of gridstatus/gridstatus (`gridstatus/ercot.py`).
use super::clock::{hour_ending_to_utc_ms, parse_date, parse_flag, parse_hour_ending};
use super::store::{Product, Store, Target};
use super::{Header, Layout, bad_value, csv_error, row_error};
use powermix_env::data::DataError;

/// Weather zone columns of NP6-345-CD, summed when a file has no `TOTAL`.
const WEATHER_ZONES: [&str; 8] = [
    "coast", "east", "farwest", "north", "northc", "southern", "southc", "west",
];

/// Reads one CSV of an ERCOT layout into the store.
pub(crate) fn read(
    store: &mut Store,
    source: usize,
    layout: Layout,
    header: &Header,
    rdr: &mut csv::Reader<&[u8]>,
) -> Result<(), DataError> {
    let file = store.sources[source].file.clone();
    let col = |n: &str| header.find(n).expect("layout detection checked the column");
    let flag_col = header
        .find("dstflag")
        .or_else(|| header.find("repeatedhourflag"));
    let mut rec = csv::ByteRecord::new();
    let mut row = 0usize;
    // Column positions per layout.
    let (date_i, hour_i) = match layout {
        Layout::ErcotLoad => (col("operday"), col("hourending")),
        Layout::ErcotRtSpp | Layout::ErcotRtAs => (col("deliverydate"), col("deliveryhour")),
        _ => (col("deliverydate"), col("hourending")),
    };
    let interval_i = header.find("deliveryinterval");
    let point = store.point.clone();
    let point_i = match layout {
        Layout::ErcotRtSpp => Some(col("settlementpointname")),
        Layout::ErcotDamSpp => Some(col("settlementpoint")),
        _ => None,
    };
    let mut last_other: Vec<u8> = Vec::new();
    // NP6-905-CD names a load zone twice per interval (types LZ and LZEW).
    let type_i = match layout {
        Layout::ErcotRtSpp => header.find("settlementpointtype"),
        _ => None,
    };
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(&file, row, e)),
        }
        let this = row;
        row += 1;
        store.sources[source].rows_read += 1;
        let text = |i: usize| -> Result<&str, DataError> {
            let b = rec.get(i).unwrap_or_default();
            std::str::from_utf8(b)
                .map(str::trim)
                .map_err(|_| bad_value(&file, this, header.name(i), "<not UTF-8>", "text"))
        };
        // The settlement point first: most rows of a price file are other points.
        if let Some(i) = point_i {
            let name = rec.get(i).unwrap_or_default().trim_ascii();
            if name != point.as_bytes() {
                if name != last_other.as_slice() {
                    last_other.clear();
                    last_other.extend_from_slice(name);
                    store.saw_point(&String::from_utf8_lossy(name));
                }
                continue;
            }
            store.point_found = true;
            if let Some(ti) = type_i {
                let ty = text(ti)?;
                if !store.keep_type(ty, source, this, header.name(ti))? {
                    continue;
                }
            }
        }
        let date_s = text(date_i)?;
        let date = parse_date(date_s).ok_or_else(|| {
            bad_value(
                &file,
                this,
                header.name(date_i),
                date_s,
                "a date (MM/DD/YYYY)",
            )
        })?;
        let hour_s = text(hour_i)?;
        let hour = parse_hour_ending(hour_s).ok_or_else(|| {
            bad_value(
                &file,
                this,
                header.name(hour_i),
                hour_s,
                "an hour ending 1 to 24",
            )
        })?;
        let interval = match interval_i {
            Some(i) => {
                let s = text(i)?;
                match s.parse::<u32>() {
                    Ok(k @ 1..=4) => k - 1,
                    _ => {
                        return Err(bad_value(
                            &file,
                            this,
                            header.name(i),
                            s,
                            "an interval 1 to 4",
                        ));
                    }
                }
            }
            None => 0,
        };
        let repeated = match flag_col {
            Some(i) => {
                let s = text(i)?;
                parse_flag(s).ok_or_else(|| bad_value(&file, this, header.name(i), s, "Y or N"))?
            }
            None => false,
        };
        let key = hour_ending_to_utc_ms(date, hour, interval, repeated).map_err(|m| {
            row_error(
                &file,
                this,
                header.name(hour_i),
                format!("`{date_s} {hour_s}`: {m}"),
            )
        })?;
        let number = |i: usize| -> Result<Option<f64>, DataError> {
            let s = text(i)?;
            if s.is_empty() {
                return Ok(None);
            }
            s.parse::<f64>()
                .map(Some)
                .map_err(|_| bad_value(&file, this, header.name(i), s, "a number"))
        };
        match layout {
            Layout::ErcotRtSpp | Layout::ErcotDamSpp => {
                let i = col("settlementpointprice");
                let target = if layout == Layout::ErcotRtSpp {
                    Target::Rt
                } else {
                    Target::Da
                };
                if let Some(v) = number(i)? {
                    store.put(target, key, v, source, this, header.name(i))?;
                }
            }
            Layout::ErcotDamAs | Layout::ErcotRtAs => {
                let type_i = header
                    .find("ancillarytype")
                    .or_else(|| header.find("astype"))
                    .expect("layout detection checked the column");
                let Some(product) = Product::from_code(text(type_i)?) else {
                    store.unknown_products += 1;
                    continue;
                };
                let i = col("mcpc");
                let target = if layout == Layout::ErcotDamAs {
                    Target::DamAs(product)
                } else {
                    Target::RtAs(product)
                };
                if let Some(v) = number(i)? {
                    store.put(target, key, v, source, this, header.name(i))?;
                }
            }
            Layout::ErcotDamAsWide => {
                for p in Product::ALL {
                    let code = match p {
                        Product::RegUp => "regup",
                        Product::RegDn => "regdn",
                        Product::Rrs => "rrs",
                        Product::Ecrs => "ecrs",
                        Product::Nspin => "nspin",
                    };
                    if let Some(i) = header.find(code)
                        && let Some(v) = number(i)?
                    {
                        store.put(Target::DamAs(p), key, v, source, this, header.name(i))?;
                    }
                }
            }
            Layout::ErcotLoad => {
                if let Some(i) = header.find("total") {
                    if let Some(v) = number(i)? {
                        store.put(Target::Load, key, v, source, this, header.name(i))?;
                    }
                } else {
                    let mut sum = 0.0;
                    let mut any = false;
                    for z in WEATHER_ZONES {
                        let i = col(z);
                        if let Some(v) = number(i)? {
                            sum += v;
                            any = true;
                        }
                    }
                    if any {
                        store.put(Target::Load, key, sum, source, this, "TOTAL (zones summed)")?;
                    }
                }
            }
            _ => unreachable!("not an ERCOT layout"),
        }
    }
    Ok(())
}

/// The layout of an ERCOT CSV header, if it is one.
pub(crate) fn detect(h: &Header) -> Option<Layout> {
    let flag = h.has("dstflag") || h.has("repeatedhourflag");
    let has = |names: &[&str]| names.iter().all(|n| h.has(n));
    if has(&[
        "deliverydate",
        "deliveryhour",
        "deliveryinterval",
        "settlementpointname",
        "settlementpointprice",
    ]) && flag
    {
        Some(Layout::ErcotRtSpp)
    } else if has(&[
        "deliverydate",
        "hourending",
        "settlementpoint",
        "settlementpointprice",
    ]) && flag
    {
        Some(Layout::ErcotDamSpp)
    } else if has(&["deliverydate", "hourending", "ancillarytype", "mcpc"]) && flag {
        Some(Layout::ErcotDamAs)
    } else if has(&[
        "deliverydate",
        "deliveryhour",
        "deliveryinterval",
        "repeatedhourflag",
        "astype",
        "mcpc",
    ]) {
        Some(Layout::ErcotRtAs)
    } else if has(&["deliverydate", "hourending"])
        && flag
        && ["regup", "regdn", "rrs", "nspin"].iter().any(|n| h.has(n))
    {
        Some(Layout::ErcotDamAsWide)
    } else if has(&["operday", "hourending"])
        && flag
        && (h.has("total") || WEATHER_ZONES.iter().all(|z| h.has(z)))
    {
        Some(Layout::ErcotLoad)
    } else {
        None
    }
}
