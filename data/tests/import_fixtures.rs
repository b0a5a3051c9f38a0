//! `data import` on fixture files written to ERCOT's and gridstatus's layouts, each with its
//! expected rows written by hand: both DST days of 2024, a leap day, hour ending 24:00, a
//! file that repeats an interval and one that drops one, and the errors bad input gets.
use powermix_data::import::{ImportOptions, Imported, hashprice, import, import_to_file};
use powermix_data::{DataError, OptionalColumn, read_parquet};
use powermix_env::time::format_utc;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh folder for one test.
fn folder(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("powermix-import-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn run(dir: &Path, point: &str, period: &str) -> Result<Imported, DataError> {
    import(&ImportOptions {
        dir: dir.to_path_buf(),
        settlement_point: point.into(),
        period: period.into(),
        include_fees: false,
        point_type: None,
        skip: None,
    })
}

const RT_HEADER: &str = "DeliveryDate,DeliveryHour,DeliveryInterval,SettlementPointName,SettlementPointType,SettlementPointPrice,DSTFlag\n";

/// NP6-905-CD rows of one operating day for HB_WEST and HB_NORTH: every (hour ending,
/// interval) of `hours`, priced `hour * 10 + interval` (+ 0.5 on the repeated hour; HB_NORTH
/// + 1000), in ERCOT's order (by interval, then point).
fn rt_day(date: &str, hours: &[(u32, bool)]) -> String {
    let mut s = String::new();
    for &(h, repeated) in hours {
        for i in 1..=4 {
            let p = f64::from(h * 10 + i) + if repeated { 0.5 } else { 0.0 };
            let flag = if repeated { "Y" } else { "N" };
            s.push_str(&format!(
                "{date},{h},{i},HB_NORTH,HU,{},{flag}\n",
                p + 1000.0
            ));
            s.push_str(&format!("{date},{h},{i},HB_WEST,HU,{p},{flag}\n"));
        }
    }
    s
}

/// (UTC start, rt_price) of the table's rows from `from` (RFC 3339) on, `n` of them.
fn rows_from(t: &Imported, from: &str, n: usize) -> Vec<(String, f64)> {
    let i = t
        .raw
        .interval_start_ms
        .iter()
        .position(|&x| format_utc(x) == from)
        .unwrap_or_else(|| panic!("{from} not in the table"));
    (i..i + n)
        .map(|k| (format_utc(t.raw.interval_start_ms[k]), t.raw.rt_price[k]))
        .collect()
}

fn owned(v: &[(&str, f64)]) -> Vec<(String, f64)> {
    v.iter().map(|(a, b)| (a.to_string(), *b)).collect()
}

#[test]
fn fall_back_day_keeps_both_repeated_hours_in_order() {
    // 2024-11-03: 25 hours; hour ending 02 twice, first CDT (DSTFlag N), then CST (Y).
    let dir = folder("fallback");
    let mut hours: Vec<(u32, bool)> = vec![(1, false), (2, false), (2, true)];
    hours.extend((3..=24).map(|h| (h, false)));
    write(
        &dir,
        "rt.csv",
        &(RT_HEADER.to_string() + &rt_day("11/03/2024", &hours)),
    );
    let t = run(&dir, "HB_WEST", "2024-11-03..2024-11-04").unwrap();
    assert_eq!(t.raw.len(), 100);
    assert_eq!(
        format_utc(t.raw.interval_start_ms[0]),
        "2024-11-03T05:00:00Z"
    );
    let expected = owned(&[
        ("2024-11-03T05:45:00Z", 14.0), // HE01 interval 4, 00:45 CDT
        ("2024-11-03T06:00:00Z", 21.0), // HE02 N: 01:00 CDT
        ("2024-11-03T06:15:00Z", 22.0),
        ("2024-11-03T06:30:00Z", 23.0),
        ("2024-11-03T06:45:00Z", 24.0),
        ("2024-11-03T07:00:00Z", 21.5), // HE02 Y: 01:00 CST, the repeated hour
        ("2024-11-03T07:15:00Z", 22.5),
        ("2024-11-03T07:30:00Z", 23.5),
        ("2024-11-03T07:45:00Z", 24.5),
        ("2024-11-03T08:00:00Z", 31.0), // HE03: 02:00 CST
    ]);
    assert_eq!(rows_from(&t, "2024-11-03T05:45:00Z", 10), expected);
    // The last interval is hour ending 24, interval 4: 23:45 CST = 05:45Z next day.
    assert_eq!(
        rows_from(&t, "2024-11-04T05:45:00Z", 1),
        owned(&[("2024-11-04T05:45:00Z", 244.0)])
    );
    // HB_NORTH's rows were read and left out.
    assert!(t.raw.rt_price.iter().all(|&p| p < 1000.0));
}

#[test]
fn spring_forward_day_has_23_hours_and_no_hour_ending_3() {
    // 2024-03-10: 02:00-03:00 CST never happens; ERCOT publishes no hour ending 03.
    let dir = folder("spring");
    let hours: Vec<(u32, bool)> = (1..=24).filter(|&h| h != 3).map(|h| (h, false)).collect();
    write(
        &dir,
        "rt.csv",
        &(RT_HEADER.to_string() + &rt_day("03/10/2024", &hours)),
    );
    let mut dam =
        String::from("DeliveryDate,HourEnding,SettlementPoint,SettlementPointPrice,DSTFlag\n");
    for h in (1..=24).filter(|&h| h != 3) {
        dam.push_str(&format!("03/10/2024,{h:02}:00,HB_WEST, {}.25,N\n", h));
    }
    write(&dir, "dam.csv", &dam);
    let t = run(&dir, "HB_WEST", "2024-03-10..2024-03-11").unwrap();
    assert_eq!(t.raw.len(), 92);
    let expected = owned(&[
        ("2024-03-10T07:45:00Z", 24.0), // HE02 interval 4: 01:45 CST
        ("2024-03-10T08:00:00Z", 41.0), // HE04 interval 1: 03:00 CDT
    ]);
    assert_eq!(rows_from(&t, "2024-03-10T07:45:00Z", 2), expected);
    let da = t.raw.column(OptionalColumn::DaPrice);
    let at = |utc: &str| {
        let i = t
            .raw
            .interval_start_ms
            .iter()
            .position(|&x| format_utc(x) == utc)
            .unwrap();
        da[i]
    };
    assert_eq!(at("2024-03-10T07:45:00Z"), Some(2.25));
    assert_eq!(at("2024-03-10T08:00:00Z"), Some(4.25));
    assert_eq!(at("2024-03-11T04:45:00Z"), Some(24.25)); // 23:45 CDT, hour ending 24:00

    // A file that has hour ending 03 on that day names the row and the local time.
    write(
        &dir,
        "bad.csv",
        &(RT_HEADER.to_string() + "03/10/2024,3,1,HB_WEST,HU,5.0,N\n"),
    );
    let e = run(&dir, "HB_WEST", "2024-03-10..2024-03-11").unwrap_err();
    assert!(e.file.ends_with("bad.csv"), "{e}");
    assert_eq!(
        (e.column.as_deref(), e.row),
        (Some("DeliveryHour"), Some(0))
    );
    assert!(e.message.contains("does not exist"), "{e}");
}

#[test]
fn leap_day_and_hour_ending_24_with_the_other_columns() {
    let dir = folder("leap");
    let hours: Vec<(u32, bool)> = (1..=24).map(|h| (h, false)).collect();
    write(
        &dir,
        "rt.csv",
        &(RT_HEADER.to_string() + &rt_day("02/29/2024", &hours)),
    );
    // NP4-190-CD: only hour ending 24:00 given; NP4-188-CD: two products of hour 01 and 24.
    write(
        &dir,
        "dam.csv",
        "DeliveryDate,HourEnding,SettlementPoint,SettlementPointPrice,DSTFlag\n02/29/2024,24:00,HB_WEST, 31.5,N\n02/29/2024,24:00,HB_NORTH, 99,N\n",
    );
    write(
        &dir,
        "as.csv",
        "DeliveryDate,HourEnding,AncillaryType,MCPC,DSTFlag\n02/29/2024,01:00,RRS,2.5,N\n02/29/2024,01:00,NSPIN,1.25,N\n02/29/2024,24:00,ECRS,7,N\n02/29/2024,24:00,FFR,9,N\n",
    );
    // NP6-345-CD with TOTAL.
    write(
        &dir,
        "load.csv",
        "OperDay,HourEnding,COAST,EAST,FAR_WEST,NORTH,NORTH_C,SOUTHERN,SOUTH_C,WEST,TOTAL,DSTFlag\n02/29/2024,02:00,1,1,1,1,1,1,1,1,45000.5,N\n",
    );
    // Daily bitcoin: price and difficulty (hashprice computed) on the UTC leap day.
    write(
        &dir,
        "btc.csv",
        "date,price_usd,difficulty\n2024-02-29,61000,79.5e12\n2024-03-01,62000,79.5e12\n",
    );
    let t = run(&dir, "HB_WEST", "2024-02-29..2024-03-01").unwrap();
    assert_eq!(t.raw.len(), 96);
    assert_eq!(
        format_utc(t.raw.interval_start_ms[0]),
        "2024-02-29T06:00:00Z"
    );
    let idx = |utc: &str| {
        t.raw
            .interval_start_ms
            .iter()
            .position(|&x| format_utc(x) == utc)
            .unwrap()
    };
    let col = |c: OptionalColumn, utc: &str| t.raw.column(c)[idx(utc)];
    // Hour ending 24:00 of Feb 29 is 23:00-24:00 CST = 05:00Z-06:00Z on Mar 1.
    assert_eq!(
        col(OptionalColumn::DaPrice, "2024-03-01T05:00:00Z"),
        Some(31.5)
    );
    assert_eq!(
        col(OptionalColumn::DaPrice, "2024-03-01T05:45:00Z"),
        Some(31.5)
    );
    assert_eq!(col(OptionalColumn::DaPrice, "2024-03-01T04:45:00Z"), None);
    assert_eq!(
        col(OptionalColumn::AsRrs, "2024-02-29T06:30:00Z"),
        Some(2.5)
    );
    assert_eq!(
        col(OptionalColumn::AsNspin, "2024-02-29T06:45:00Z"),
        Some(1.25)
    );
    assert_eq!(col(OptionalColumn::AsRrs, "2024-02-29T07:00:00Z"), None);
    assert_eq!(
        col(OptionalColumn::AsEcrs, "2024-03-01T05:15:00Z"),
        Some(7.0)
    );
    assert_eq!(t.report.unknown_products, 1); // FFR has no column
    assert_eq!(
        col(OptionalColumn::SystemLoad, "2024-02-29T07:15:00Z"),
        Some(45000.5)
    );
    assert_eq!(
        col(OptionalColumn::SystemLoad, "2024-02-29T08:00:00Z"),
        None
    );
    // Hashprice changes at UTC midnight: 18:00 CST on Feb 29.
    let feb = hashprice(61000.0, 79.5e12, 3.125 * 2.0);
    let mar = hashprice(62000.0, 79.5e12, 6.25);
    assert_eq!(
        col(OptionalColumn::Hashprice, "2024-02-29T23:45:00Z"),
        Some(feb)
    );
    assert_eq!(
        col(OptionalColumn::Hashprice, "2024-03-01T00:00:00Z"),
        Some(mar)
    );
    // The report counts coverage and what the loader will fill.
    assert_eq!(t.report.coverage["rt_price"], 1.0);
    assert_eq!(t.report.coverage["da_price"], 4.0 / 96.0);
    assert_eq!(t.report.holes["as_rrs"], 0);
    let fill = t.report.fill.columns[OptionalColumn::DaPrice.index()];
    assert_eq!((fill.present, fill.defaulted), (4, 92));
}

#[test]
fn a_repeated_interval_is_an_error_naming_file_row_and_column() {
    let dir = folder("repeat");
    let hours: Vec<(u32, bool)> = (1..=24).map(|h| (h, false)).collect();
    let mut text = RT_HEADER.to_string() + &rt_day("07/04/2024", &hours);
    text.push_str("07/04/2024,5,2,HB_WEST,HU,52,N\n");
    write(&dir, "rt.csv", &text);
    let e = run(&dir, "HB_WEST", "2024-07-04..2024-07-05").unwrap_err();
    assert!(e.file.ends_with("rt.csv"), "{e}");
    assert_eq!(
        (e.column.as_deref(), e.row),
        (Some("SettlementPointPrice"), Some(192))
    );
    assert!(e.message.contains("duplicate"), "{e}");
    assert!(e.message.contains("2024-07-04T09:15:00Z"), "{e}"); // HE05 int 2: 04:15 CDT
    assert!(e.message.contains("first at row 35"), "{e}");
}

#[test]
fn a_dropped_interval_is_a_gap_naming_the_row_before_it() {
    let dir = folder("gap");
    let hours: Vec<(u32, bool)> = (1..=24).map(|h| (h, false)).collect();
    let text: String = (RT_HEADER.to_string() + &rt_day("07/04/2024", &hours))
        .lines()
        .filter(|l| *l != "07/04/2024,10,3,HB_WEST,HU,103,N")
        .map(|l| format!("{l}\n"))
        .collect();
    write(&dir, "rt.csv", &text);
    let out = dir.join("out.parquet");
    let opts = ImportOptions {
        dir: dir.clone(),
        settlement_point: "HB_WEST".into(),
        period: "2024-07-04..2024-07-05".into(),
        include_fees: false,
        point_type: None,
        skip: None,
    };
    let e = import_to_file(&opts, &out).unwrap_err();
    assert!(e.file.ends_with("rt.csv"), "{e}");
    assert_eq!((e.column.as_deref(), e.row), (Some("rt_price"), Some(75))); // HE10 interval 2 of HB_WEST
    assert!(e.message.contains("gap"), "{e}");
    assert!(
        e.message
            .contains("1 intervals, 2024-07-04T14:30:00Z (2024-07-04 09:30 US/Central)"),
        "{e}"
    );
    // Nothing was written, not even a temporary file.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["rt.csv".to_string()]);
}

#[test]
fn bad_input_gets_clear_errors() {
    let dir = folder("bad");
    let hours: Vec<(u32, bool)> = (1..=24).map(|h| (h, false)).collect();
    write(
        &dir,
        "rt.csv",
        &(RT_HEADER.to_string() + &rt_day("07/04/2024", &hours)),
    );
    // A settlement point no file holds: the error lists the ones they hold.
    let e = run(&dir, "HB_EAST", "2024-07-04..2024-07-05").unwrap_err();
    assert!(
        e.message
            .contains("`HB_EAST` is not in the files; they hold: HB_NORTH, HB_WEST"),
        "{e}"
    );
    // A period the files do not cover: a gap at the start, naming the row after it.
    let e = run(&dir, "HB_WEST", "2024-07-03..2024-07-05").unwrap_err();
    assert!(e.message.contains("96 intervals"), "{e}");
    assert!(e.message.contains("before this row"), "{e}");
    // A value that is not a number.
    write(
        &dir,
        "more.csv",
        &(RT_HEADER.to_string() + "07/05/2024,1,1,HB_WEST,HU,abc,N\n"),
    );
    let e = run(&dir, "HB_WEST", "2024-07-04..2024-07-05").unwrap_err();
    assert_eq!(
        (e.column.as_deref(), e.row),
        (Some("SettlementPointPrice"), Some(0))
    );
    assert!(
        e.to_string().contains("`abc` is not a number (line 2)"),
        "{e}"
    );
    std::fs::remove_file(dir.join("more.csv")).unwrap();
    // A price outside the shared rule of what a price can be.
    write(
        &dir,
        "more.csv",
        &(RT_HEADER.to_string() + "07/04/2024,1,1,HB_WEST,HU,931000,N\n"),
    );
    let e = run(&dir, "HB_WEST", "2024-07-04..2024-07-05").unwrap_err();
    assert!(e.file.ends_with("more.csv"), "{e}");
    assert!(
        e.message
            .contains("value 931000: must be a finite price in [-10000, 90000] $/MWh"),
        "{e}"
    );
    write(
        &dir,
        "more.csv",
        "DeliveryDate,HourEnding,AncillaryType,MCPC,DSTFlag\n07/04/2024,01:00,RRS,-1,N\n",
    );
    let e = run(&dir, "HB_WEST", "2024-07-04..2024-07-05").unwrap_err();
    assert_eq!((e.column.as_deref(), e.row), (Some("MCPC"), Some(0)));
    std::fs::remove_file(dir.join("more.csv")).unwrap();
    // DSTFlag Y on an hour that is not repeated.
    write(
        &dir,
        "more.csv",
        &(RT_HEADER.to_string() + "07/05/2024,1,1,HB_WEST,HU,3,Y\n"),
    );
    let e = run(&dir, "HB_WEST", "2024-07-04..2024-07-05").unwrap_err();
    assert!(e.message.contains("not a repeated hour"), "{e}");
    std::fs::remove_file(dir.join("more.csv")).unwrap();
    // A layout nobody knows.
    write(&dir, "notes.csv", "when,what\n2024-07-04,hello\n");
    let e = run(&dir, "HB_WEST", "2024-07-04..2024-07-05").unwrap_err();
    assert!(e.file.ends_with("notes.csv"), "{e}");
    assert!(
        e.message.contains("unknown layout, header `when,what`"),
        "{e}"
    );
    std::fs::remove_file(dir.join("notes.csv")).unwrap();
    // Two files disagreeing on one value.
    write(
        &dir,
        "other.csv",
        &(RT_HEADER.to_string() + "07/04/2024,1,1,HB_WEST,HU,99,N\n"),
    );
    let e = run(&dir, "HB_WEST", "2024-07-04..2024-07-05").unwrap_err();
    assert!(e.message.contains("conflict"), "{e}");
    // The same value twice from two files is an overlapping download: counted, not an error.
    write(
        &dir,
        "other.csv",
        &(RT_HEADER.to_string() + "07/04/2024,1,1,HB_WEST,HU,11,N\n"),
    );
    let t = run(&dir, "HB_WEST", "2024-07-04..2024-07-05").unwrap();
    assert_eq!(t.report.equal_repeats, 1);
    // A malformed period.
    let e = run(&dir, "HB_WEST", "2024-07-04").unwrap_err();
    assert_eq!(e.file, "--period");
}

#[test]
fn zips_read_like_their_csvs_and_provenance_lands_in_the_file() {
    let dir = folder("zip");
    let hours: Vec<(u32, bool)> = (1..=24).map(|h| (h, false)).collect();
    let csv = RT_HEADER.to_string() + &rt_day("01/15/2025", &hours);
    let file =
        std::fs::File::create(dir.join("cdr.00012301.0000000000000000.20250116.NP6-905-CD.zip"))
            .unwrap();
    let mut z = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.start_file(
        "cdr.00012301.0000000000000000.20250116.SPPHLZNP6905_20250115.csv",
        opts,
    )
    .unwrap();
    z.write_all(csv.as_bytes()).unwrap();
    z.start_file("RTM_Prices_2025.xlsx", opts).unwrap();
    z.write_all(b"not read").unwrap();
    z.finish().unwrap();
    write(&dir, "README.txt", "downloaded by hand");
    let out = dir.join("hb_west.parquet");
    let opts = ImportOptions {
        dir: dir.clone(),
        settlement_point: "HB_WEST".into(),
        period: "2025-01-15..2025-01-16".into(),
        include_fees: false,
        point_type: None,
        skip: None,
    };
    let report = import_to_file(&opts, &out).unwrap();
    assert_eq!(report.rows, 96);
    assert_eq!(report.sources.len(), 1);
    assert!(
        report.sources[0]
            .file
            .ends_with(".zip:cdr.00012301.0000000000000000.20250116.SPPHLZNP6905_20250115.csv")
    );
    assert_eq!(report.sources[0].report, "NP6-905-CD");
    assert_eq!(report.sources[0].values_used, 96);
    assert_eq!(report.ignored_files.len(), 2);
    assert!(
        report
            .ignored_files
            .iter()
            .any(|f| f.ends_with(".zip:RTM_Prices_2025.xlsx"))
    );
    assert!(
        report
            .summary()
            .contains("(a workbook: save its sheets as CSV)")
    );
    let back = read_parquet(&out).unwrap();
    assert_eq!(back.settlement_point, "HB_WEST");
    assert_eq!(back.rt_price[..4], [11.0, 12.0, 13.0, 14.0]);
    let meta = file_metadata(&out);
    assert!(meta["source"].contains("NP6-905-CD"), "{meta:?}");
    assert!(
        meta["import_sources"].contains("\"values_used\":96"),
        "{meta:?}"
    );
    assert!(meta["coverage"].contains("\"rt_price\":1.0"), "{meta:?}");
    assert_eq!(meta["period"], "2025-01-15..2025-01-16");
    // Importing again over the same folder skips the output file itself.
    assert_eq!(import_to_file(&opts, &out).unwrap().sources.len(), 1);
}

fn file_metadata(path: &Path) -> std::collections::BTreeMap<String, String> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let r = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    r.metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap()
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn gridstatus_exports_with_offsets_across_the_fall_back() {
    // get_spp: tz-aware Interval Start/End; the repeated 01:00 carries -05:00 then -06:00.
    let dir = folder("gridstatus");
    let mut spp =
        String::from("Time,Interval Start,Interval End,Location,Location Type,Market,SPP\n");
    let day_start = 1_730_610_000_000i64; // 2024-11-03T05:00:00Z, local midnight (CDT)
    for k in 0..100i64 {
        let s = day_start + k * 900_000;
        let (a, b) = (offset_time(s), offset_time(s + 900_000));
        spp.push_str(&format!(
            "{a},{a},{b},HB_WEST,Trading Hub,REAL_TIME_15_MIN,{}\n",
            k as f64 + 0.5
        ));
        spp.push_str(&format!(
            "{a},{a},{b},HB_SOUTH,Trading Hub,REAL_TIME_15_MIN,1\n"
        ));
    }
    write(&dir, "spp.csv", &spp);
    write(
        &dir,
        "as.csv",
        "Time,Interval Start,Interval End,Market,Non-Spinning Reserves,Regulation Down,Regulation Up,Responsive Reserves,ERCOT Contingency Reserve Service\n\
         2024-11-03 01:00:00-06:00,2024-11-03 01:00:00-06:00,2024-11-03 02:00:00-06:00,DAM,1.5,2.5,3.5,4.5,5.5\n",
    );
    write(
        &dir,
        "load.csv",
        "Time,Interval Start,Interval End,Load\n2024-11-03 01:00:00-05:00,2024-11-03 01:00:00-05:00,2024-11-03 01:00:00-06:00,41000\n",
    );
    let t = run(&dir, "HB_WEST", "2024-11-03..2024-11-04").unwrap();
    assert_eq!(t.raw.len(), 100);
    assert_eq!(t.raw.rt_price[4], 4.5); // 06:00Z = 01:00 CDT
    assert_eq!(t.raw.rt_price[8], 8.5); // 07:00Z = 01:00 CST
    let i = 8; // 07:00Z
    assert_eq!(t.raw.column(OptionalColumn::AsNspin)[i], Some(1.5));
    assert_eq!(t.raw.column(OptionalColumn::AsRegdn)[i], Some(2.5));
    assert_eq!(t.raw.column(OptionalColumn::AsRegup)[i], Some(3.5));
    assert_eq!(t.raw.column(OptionalColumn::AsRrs)[i], Some(4.5));
    assert_eq!(t.raw.column(OptionalColumn::AsEcrs)[i], Some(5.5));
    assert_eq!(t.raw.column(OptionalColumn::AsRrs)[7], None);
    assert_eq!(t.raw.column(OptionalColumn::SystemLoad)[4], Some(41000.0));
    assert_eq!(t.raw.column(OptionalColumn::SystemLoad)[8], None);
    // A time without an offset is refused, not guessed.
    write(
        &dir,
        "load.csv",
        "Interval Start,Interval End,Load\n2024-11-03 01:00:00,2024-11-03 02:00:00,41000\n",
    );
    let e = run(&dir, "HB_WEST", "2024-11-03..2024-11-04").unwrap_err();
    assert_eq!(
        (e.column.as_deref(), e.row),
        (Some("Interval Start"), Some(0))
    );
    assert!(e.message.contains("a time with a UTC offset"), "{e}");
}

/// `YYYY-MM-DD HH:MM:SS-05:00` as pandas writes a US/Central time.
fn offset_time(utc_ms: i64) -> String {
    use chrono::TimeZone;
    chrono_tz::US::Central
        .timestamp_millis_opt(utc_ms)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S%:z")
        .to_string()
}

#[test]
fn real_time_reserve_prices_are_carried_as_extra_columns() {
    let dir = folder("rtas");
    let hours: Vec<(u32, bool)> = (1..=24).map(|h| (h, false)).collect();
    write(
        &dir,
        "rt.csv",
        &(RT_HEADER.to_string() + &rt_day("12/06/2025", &hours)),
    );
    write(
        &dir,
        "rtas.csv",
        "DeliveryDate,DeliveryHour,DeliveryInterval,RepeatedHourFlag,ASType,MCPC\n12/06/2025,1,2,N,ECRS,0.29\n12/06/2025,1,2,N,NSPIN,1.15\n",
    );
    let t = run(&dir, "HB_WEST", "2025-12-06..2025-12-07").unwrap();
    let names: Vec<&str> = t.extra.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["rt_as_ecrs", "rt_as_nspin"]);
    // 00:15 CST = 06:15Z, the second row.
    assert_eq!(t.extra[0].1[1], Some(0.29));
    assert_eq!(t.extra[1].1[1], Some(1.15));
    assert_eq!(t.extra[0].1[0], None);
    assert_eq!(t.report.coverage["rt_as_ecrs"], 1.0 / 96.0);
}

#[test]
fn gridstatus_parquet_exports_read_like_their_csvs() {
    // As `df.to_parquet()` writes a get_spp frame: tz-aware nanosecond times, the location
    // as a pandas category (an arrow dictionary), and a second point.
    use arrow_array::{
        ArrayRef, DictionaryArray, Float64Array, RecordBatch, StringArray,
        TimestampNanosecondArray, types::Int8Type,
    };
    use std::sync::Arc;
    let dir = folder("gsparquet");
    let start = 1_735_797_600_000i64; // 2025-01-02T06:00:00Z, local midnight (CST)
    let mut starts = Vec::new();
    let mut locations = Vec::new();
    let mut prices = Vec::new();
    for k in 0..96i64 {
        for (j, loc) in ["HB_WEST", "LZ_WEST"].iter().enumerate() {
            starts.push((start + k * 900_000) * 1_000_000);
            locations.push(*loc);
            prices.push(k as f64 * 2.0 + j as f64 * 1000.0);
        }
    }
    let ends: Vec<i64> = starts.iter().map(|s| s + 900_000_000_000).collect();
    let tz = "US/Central";
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "Interval Start",
            Arc::new(TimestampNanosecondArray::from(starts).with_timezone(tz)),
        ),
        (
            "Interval End",
            Arc::new(TimestampNanosecondArray::from(ends).with_timezone(tz)),
        ),
        (
            "Location",
            Arc::new(locations.into_iter().collect::<DictionaryArray<Int8Type>>()),
        ),
        (
            "Market",
            Arc::new(StringArray::from(vec!["REAL_TIME_15_MIN"; 192])),
        ),
        ("SPP", Arc::new(Float64Array::from(prices))),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = std::fs::File::create(dir.join("spp.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let t = run(&dir, "HB_WEST", "2025-01-02..2025-01-03").unwrap();
    assert_eq!(t.raw.len(), 96);
    assert_eq!(
        format_utc(t.raw.interval_start_ms[0]),
        "2025-01-02T06:00:00Z"
    );
    assert_eq!(t.raw.rt_price[0..3], [0.0, 2.0, 4.0]);
    assert_eq!(t.raw.rt_price[95], 190.0);
    assert_eq!(t.report.sources[0].report, "gridstatus get_spp");
    let t = run(&dir, "LZ_WEST", "2025-01-02..2025-01-03").unwrap();
    assert_eq!(t.raw.rt_price[1], 1002.0);
}

#[test]
fn yearly_archive_layouts_zone_sums_and_fees() {
    let dir = folder("archives");
    // NP6-785-ER saved as CSV: spaced names and `Repeated Hour Flag`.
    let mut rt = String::from(
        "Delivery Date,Delivery Hour,Delivery Interval,Repeated Hour Flag,Settlement Point Name,Settlement Point Type,Settlement Point Price\n",
    );
    for h in 1..=24 {
        for i in 1..=4 {
            rt.push_str(&format!(
                "08/01/2023,{h},{i},N,HB_SOUTH,HU,{}\n",
                h * 100 + i
            ));
        }
    }
    write(&dir, "rtm_2023.csv", &rt);
    // NP4-181-ER saved as CSV: one column per product, ECRS absent in this file.
    write(
        &dir,
        "dam_as_2023.csv",
        "Delivery Date,Hour Ending,Repeated Hour Flag,REGDN,REGUP,RRS,NSPIN\n08/01/2023,17:00,N,1,2,300.5,40\n",
    );
    // NP6-345-CD without TOTAL: the eight weather zones are summed.
    write(
        &dir,
        "load.csv",
        "OperDay,HourEnding,COAST,EAST,FAR_WEST,NORTH,NORTH_C,SOUTHERN,SOUTH_C,WEST,DSTFlag\n08/01/2023,17:00,20000,2500,7000,1500,25000,7500,14000,2000.5,N\n",
    );
    write(
        &dir,
        "btc.csv",
        "date,price_usd,difficulty,fees_btc_per_block\n2023-08-01,29200,52.1e12,0.25\n",
    );
    let mut opts = ImportOptions {
        dir: dir.clone(),
        settlement_point: "HB_SOUTH".into(),
        period: "2023-08-01..2023-08-02".into(),
        include_fees: false,
        point_type: None,
        skip: None,
    };
    let t = import(&opts).unwrap();
    // Hour ending 17 of Aug 1 starts 16:00 CDT = 21:00Z, the 65th interval.
    let i = 64;
    assert_eq!(
        format_utc(t.raw.interval_start_ms[i]),
        "2023-08-01T21:00:00Z"
    );
    assert_eq!(t.raw.rt_price[i], 1701.0);
    assert_eq!(t.raw.column(OptionalColumn::AsRegdn)[i], Some(1.0));
    assert_eq!(t.raw.column(OptionalColumn::AsRegup)[i], Some(2.0));
    assert_eq!(t.raw.column(OptionalColumn::AsRrs)[i + 3], Some(300.5));
    assert_eq!(t.raw.column(OptionalColumn::AsNspin)[i], Some(40.0));
    assert_eq!(t.raw.column(OptionalColumn::AsEcrs)[i], None);
    assert_eq!(t.raw.column(OptionalColumn::SystemLoad)[i], Some(79500.5));
    let rtm = t
        .report
        .sources
        .iter()
        .find(|s| s.file.ends_with("rtm_2023.csv"))
        .unwrap();
    assert_eq!(rtm.report, "NP6-905-CD"); // the yearly archive reads as its daily report
    // Hashprice on the UTC day: subsidy only, then with fees.
    let hp = t.raw.column(OptionalColumn::Hashprice)[0].unwrap();
    assert_eq!(hp, hashprice(29200.0, 52.1e12, 6.25));
    opts.include_fees = true;
    let t = import(&opts).unwrap();
    let hp = t.raw.column(OptionalColumn::Hashprice)[0].unwrap();
    assert_eq!(hp, hashprice(29200.0, 52.1e12, 6.5));
}

#[test]
fn a_load_zone_listed_as_lz_and_lzew_needs_a_point_type() {
    // NP6-905-CD lists each load zone twice per interval under one name: LZ and LZEW.
    let dir = folder("lzew");
    let mut text = RT_HEADER.to_string();
    for h in 1..=24 {
        for i in 1..=4 {
            text.push_str(&format!(
                "09/01/2024,{h},{i},LZ_WEST,LZ,{}.25,N\n",
                h * 10 + i
            ));
            text.push_str(&format!(
                "09/01/2024,{h},{i},LZ_WEST,LZEW,{}.75,N\n",
                h * 10 + i
            ));
        }
    }
    write(&dir, "rt.csv", &text);
    let e = run(&dir, "LZ_WEST", "2024-09-01..2024-09-02").unwrap_err();
    assert_eq!(
        (e.column.as_deref(), e.row),
        (Some("SettlementPointType"), Some(1))
    );
    assert!(e.message.contains("type `LZEW` here and `LZ`"), "{e}");
    assert!(e.message.contains("--point-type"), "{e}");
    let mut opts = ImportOptions {
        dir: dir.clone(),
        settlement_point: "LZ_WEST".into(),
        period: "2024-09-01..2024-09-02".into(),
        include_fees: false,
        point_type: Some("LZEW".into()),
        skip: None,
    };
    let t = import(&opts).unwrap();
    assert_eq!(t.raw.rt_price[..2], [11.75, 12.75]);
    opts.point_type = Some("LZ".into());
    assert_eq!(import(&opts).unwrap().raw.rt_price[0], 11.25);
}
