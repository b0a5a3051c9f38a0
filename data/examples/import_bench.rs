//! Speed of `data import` on a year of 15-minute prices from unzipped CSV: a generated local
//! year (2024, seed 7) written as 366 daily NP6-905-CD files, first with HB_WEST alone, then
//! with all 15 hubs and load zones (ERCOT's hub-and-zone files), each imported for HB_WEST
//! three times; prints the best and the median wall time.
//!
//! `cargo run --release -p powermix-data --example import_bench`
use powermix_data::import::{ImportOptions, import};
use powermix_data::synth::generate_year;
use std::fmt::Write as _;
use std::time::Instant;

const POINTS: [&str; 15] = [
    "HB_BUSAVG",
    "HB_HOUSTON",
    "HB_HUBAVG",
    "HB_NORTH",
    "HB_PAN",
    "HB_SOUTH",
    "HB_WEST",
    "LZ_AEN",
    "LZ_CPS",
    "LZ_HOUSTON",
    "LZ_LCRA",
    "LZ_NORTH",
    "LZ_RAYBN",
    "LZ_SOUTH",
    "LZ_WEST",
];

fn main() {
    let year = generate_year(2024, 7);
    for points in [&POINTS[6..7], &POINTS[..]] {
        let dir = std::env::temp_dir().join(format!(
            "powermix-import-bench-{}-{}",
            std::process::id(),
            points.len()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut files = std::collections::BTreeMap::<String, String>::new();
        for (i, &t) in year.interval_start_ms.iter().enumerate() {
            let (date, he, k, flag) = labels(t);
            let text = files.entry(date.clone()).or_insert_with(|| {
                "DeliveryDate,DeliveryHour,DeliveryInterval,SettlementPointName,SettlementPointType,SettlementPointPrice,DSTFlag\n".into()
            });
            for (j, p) in points.iter().enumerate() {
                let kind = if p.starts_with("HB") { "HU" } else { "LZ" };
                let price = year.rt_price[i] + j as f64 * 0.01;
                writeln!(text, "{date},{he},{k},{p},{kind},{price:.2},{flag}").unwrap();
            }
        }
        let mut bytes = 0;
        for (date, text) in &files {
            bytes += text.len();
            std::fs::write(dir.join(format!("rt_{}.csv", date.replace('/', "_"))), text).unwrap();
        }
        let opts = ImportOptions {
            dir: dir.clone(),
            settlement_point: "HB_WEST".into(),
            period: "2024-01-01..2025-01-01".into(),
            include_fees: false,
            point_type: None,
            skip: None,
        };
        let mut times = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let t = import(&opts).expect("the generated files import");
            times.push(started.elapsed().as_secs_f64());
            assert_eq!(t.raw.len(), 35_136);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "import_year_seconds: {} points, {} files, {:.1} MB of CSV, {} rows: best {:.3} s, median {:.3} s",
            points.len(),
            files.len(),
            bytes as f64 / 1e6,
            year.len() * points.len(),
            times[0],
            times[1]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// ERCOT's labels of a UTC interval start: (MM/DD/YYYY, hour ending, interval, DSTFlag).
fn labels(t: i64) -> (String, u32, u32, &'static str) {
    use chrono::{LocalResult, TimeZone, Timelike};
    use chrono_tz::US::Central;
    let naive = Central.timestamp_millis_opt(t).unwrap().naive_local();
    let repeated = matches!(Central.from_local_datetime(&naive),
        LocalResult::Ambiguous(_, b) if b.timestamp_millis() == t);
    (
        naive.format("%m/%d/%Y").to_string(),
        naive.hour() + 1,
        naive.minute() / 15 + 1,
        if repeated { "Y" } else { "N" },
    )
}
