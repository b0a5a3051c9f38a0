//! Round trip: slices of the shared HB_WEST file written out in ERCOT's layouts (daily
//! NP6-905-CD CSVs in a zip, NP4-190-CD, NP4-188-CD, NP6-345-CD) and a daily hashprice file,
//! then imported, give back the same rows bit for bit. The slices hold both DST days and a
//! leap day. Ignored by default (../shared/data sits beside the clone); CI runs it with
//! `--include-ignored`.
use chrono::{LocalResult, TimeZone};
use chrono_tz::US::Central;
use powermix_data::import::{ImportOptions, import, import_to_file};
use powermix_data::{OptionalColumn, RawMarketData, read_parquet};
use powermix_env::time::parse_period;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/ercot/hb_west_2018_2024.parquet"
);

/// ERCOT's labels of a UTC interval start: (MM/DD/YYYY, hour ending, interval 1-4, DSTFlag).
fn ercot_labels(t: i64) -> (String, u32, u32, &'static str) {
    use chrono::Timelike;
    let local = Central.timestamp_millis_opt(t).unwrap();
    let naive = local.naive_local();
    let repeated = match Central.from_local_datetime(&naive) {
        LocalResult::Ambiguous(_, second) => second.timestamp_millis() == t,
        _ => false,
    };
    (
        naive.format("%m/%d/%Y").to_string(),
        naive.hour() + 1,
        naive.minute() / 15 + 1,
        if repeated { "Y" } else { "N" },
    )
}

/// Writes `raw` (one slice) to `dir` in ERCOT's layouts.
fn write_fixtures(raw: &RawMarketData, dir: &Path) {
    let n = raw.len();
    // NP6-905-CD: one CSV per operating day, all in one zip, with a second point.
    let mut days: BTreeMap<String, String> = BTreeMap::new();
    let mut dam =
        String::from("DeliveryDate,HourEnding,SettlementPoint,SettlementPointPrice,DSTFlag\n");
    let mut mcpc = String::from("DeliveryDate,HourEnding,AncillaryType,MCPC,DSTFlag\n");
    let mut load = String::from(
        "OperDay,HourEnding,COAST,EAST,FAR_WEST,NORTH,NORTH_C,SOUTHERN,SOUTH_C,WEST,TOTAL,DSTFlag\n",
    );
    let mut btc: BTreeMap<i64, f64> = BTreeMap::new();
    let col = |c: OptionalColumn, i: usize| raw.column(c)[i];
    for i in 0..n {
        let t = raw.interval_start_ms[i];
        let (date, he, k, flag) = ercot_labels(t);
        let day = days.entry(date.clone()).or_insert_with(|| {
            "DeliveryDate,DeliveryHour,DeliveryInterval,SettlementPointName,SettlementPointType,SettlementPointPrice,DSTFlag\n".to_string()
        });
        let p = raw.rt_price[i];
        writeln!(day, "{date},{he},{k},HB_NORTH,HU,{},{flag}", p + 1.0).unwrap();
        writeln!(day, "{date},{he},{k},HB_WEST,HU,{p},{flag}").unwrap();
        if k == 1 {
            if let Some(v) = col(OptionalColumn::DaPrice, i) {
                writeln!(dam, "{date},{he:02}:00,HB_WEST, {v},{flag}").unwrap();
            }
            for (c, code) in [
                (OptionalColumn::AsRegdn, "REGDN"),
                (OptionalColumn::AsRegup, "REGUP"),
                (OptionalColumn::AsRrs, "RRS"),
                (OptionalColumn::AsEcrs, "ECRS"),
                (OptionalColumn::AsNspin, "NSPIN"),
            ] {
                if let Some(v) = col(c, i) {
                    writeln!(mcpc, "{date},{he:02}:00,{code},{v},{flag}").unwrap();
                }
            }
            if let Some(v) = col(OptionalColumn::SystemLoad, i) {
                writeln!(load, "{date},{he:02}:00,0,0,0,0,0,0,0,0,{v},{flag}").unwrap();
            }
        }
        if let Some(v) = col(OptionalColumn::Hashprice, i) {
            btc.insert(t.div_euclid(86_400_000), v);
        }
    }
    let zip_file = std::fs::File::create(dir.join("NP6-905-CD.zip")).unwrap();
    let mut z = zip::ZipWriter::new(zip_file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (date, text) in &days {
        let name = format!("SPPHLZNP6905_{}.csv", date.replace('/', ""));
        z.start_file(name, opts).unwrap();
        z.write_all(text.as_bytes()).unwrap();
    }
    z.finish().unwrap();
    std::fs::write(dir.join("NP4-190-CD.csv"), dam).unwrap();
    std::fs::write(dir.join("NP4-188-CD.csv"), mcpc).unwrap();
    std::fs::write(dir.join("NP6-345-CD.csv"), load).unwrap();
    let mut hp = String::from("date,hashprice_usd_per_ph_day\n");
    for (day, v) in btc {
        let date = chrono::DateTime::from_timestamp_millis(day * 86_400_000).unwrap();
        writeln!(hp, "{},{v}", date.format("%Y-%m-%d")).unwrap();
    }
    std::fs::write(dir.join("bitcoin_daily.csv"), hp).unwrap();
}

/// Every value of both tables, compared by bits.
fn assert_same_bits(got: &RawMarketData, want: &RawMarketData, what: &str) {
    assert_eq!(got.settlement_point, want.settlement_point, "{what}");
    assert_eq!(got.interval_start_ms, want.interval_start_ms, "{what}");
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&got.rt_price),
        bits(&want.rt_price),
        "{what}: rt_price"
    );
    for c in OptionalColumn::ALL {
        let b = |v: &[Option<f64>]| v.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>();
        assert_eq!(b(got.column(c)), b(want.column(c)), "{what}: {}", c.name());
    }
}

#[test]
#[ignore = "needs ../shared/data"]
fn ercot_layouts_written_from_the_shared_file_import_back_bit_for_bit() {
    assert!(
        Path::new(FILE).exists(),
        "{FILE} is missing: this test needs ../shared/data beside the clone"
    );
    let all = read_parquet(Path::new(FILE)).unwrap();
    // Fall-back 2021 (day-ahead, no reserves, the load gap), spring-forward 2022 (every
    // column), fall-back 2023 and the 2024 leap day (ECRS too).
    for period in [
        "2021-11-04..2021-11-10",
        "2022-03-11..2022-03-16",
        "2023-11-04..2023-11-06",
        "2024-02-27..2024-03-02",
    ] {
        let (s, e) = parse_period(period).unwrap();
        let (a, b) = (
            all.interval_start_ms.partition_point(|&t| t < s),
            all.interval_start_ms.partition_point(|&t| t < e),
        );
        let mut slice = RawMarketData {
            settlement_point: all.settlement_point.clone(),
            interval_start_ms: all.interval_start_ms[a..b].to_vec(),
            rt_price: all.rt_price[a..b].to_vec(),
            ..RawMarketData::default()
        };
        for c in OptionalColumn::ALL {
            slice.optional[c.index()] = all.column(c)[a..b].to_vec();
        }
        let dir = std::env::temp_dir().join(format!(
            "powermix-roundtrip-{}-{}",
            std::process::id(),
            period.replace("..", "_")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        write_fixtures(&slice, &dir);
        let opts = ImportOptions {
            dir: dir.clone(),
            settlement_point: "HB_WEST".into(),
            period: period.into(),
            include_fees: false,
            point_type: None,
            skip: None,
        };
        let imported = import(&opts).unwrap();
        assert_same_bits(&imported.raw, &slice, period);
        // And through the written file.
        let out = dir.join("out.parquet");
        import_to_file(&opts, &out).unwrap();
        assert_same_bits(&read_parquet(&out).unwrap(), &slice, period);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
