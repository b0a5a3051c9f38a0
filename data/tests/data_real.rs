//! The shared real data file loads, validates and matches the figures its README states.
//! Ignored by default (../shared/data sits beside the clone, not in it); CI runs it with
//! `cargo test --workspace -- --include-ignored`.
use powermix_data::stats::yearly_stats;
use powermix_data::{FillRules, MarketData, OptionalColumn, read_parquet};
use std::path::Path;

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/ercot/hb_west_2018_2024.parquet"
);

fn close(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, README says {want} (±{tol})"
    );
}

#[test]
#[ignore = "needs ../shared/data"]
fn real_file_matches_readme_figures() {
    let path = Path::new(FILE);
    assert!(
        path.exists(),
        "{FILE} is missing: this test needs ../shared/data beside the clone"
    );
    let raw = read_parquet(path).unwrap();
    assert_eq!(raw.len(), 245_472);
    assert_eq!(raw.settlement_point, "HB_WEST");

    let stats = yearly_stats(&raw);
    let years: Vec<i32> = stats.iter().map(|s| s.year).collect();
    assert_eq!(years, (2018..=2024).collect::<Vec<_>>());
    // year, rows, [mean, median, max, min, % < 0, % > 100, % > 1000] (README table)
    let readme: [(i32, usize, [f64; 7]); 7] = [
        (
            2018,
            35040,
            [27.92, 20.47, 5803.0, -18.0, 5.39, 1.42, 0.117],
        ),
        (
            2019,
            35040,
            [34.60, 18.77, 9035.0, -27.0, 3.79, 2.18, 0.303],
        ),
        (
            2020,
            35136,
            [19.42, 16.02, 2219.0, -32.0, 8.01, 1.39, 0.057],
        ),
        (
            2021,
            35040,
            [145.74, 23.32, 9310.0, -32.0, 9.31, 3.66, 1.841],
        ),
        (
            2022,
            35040,
            [57.45, 42.40, 5500.0, -251.0, 12.02, 5.38, 0.382],
        ),
        (
            2023,
            35040,
            [49.45, 21.64, 5334.0, -31.0, 8.57, 4.01, 0.682],
        ),
        (
            2024,
            35136,
            [27.45, 19.90, 4981.0, -32.0, 9.95, 2.29, 0.091],
        ),
    ];
    for (s, (year, rows, r)) in stats.iter().zip(readme) {
        let y = s.year;
        assert_eq!((s.year, s.rows), (year, rows));
        close(&format!("{y} mean"), s.rt_mean, r[0], 0.01);
        close(&format!("{y} median"), s.rt_median, r[1], 0.01);
        close(&format!("{y} max"), s.rt_max, r[2], 1.0);
        close(&format!("{y} min"), s.rt_min, r[3], 1.0);
        close(&format!("{y} % < 0"), s.pct_negative, r[4], 0.01);
        close(&format!("{y} % > 100"), s.pct_above_100, r[5], 0.01);
        close(&format!("{y} % > 1000"), s.pct_above_1000, r[6], 0.001);
    }
    // Coverage facts: day-ahead from 2021, reserves from 2022, load gap late 2021.
    let cov = |y: i32, c: OptionalColumn| stats[(y - 2018) as usize].coverage[c.name()];
    assert_eq!(cov(2020, OptionalColumn::DaPrice), 0.0);
    assert_eq!(cov(2022, OptionalColumn::AsRrs), 1.0);
    assert!(cov(2021, OptionalColumn::SystemLoad) < 0.9);

    let (data, report) = MarketData::from_raw(&raw, &FillRules::default()).unwrap();
    assert_eq!(data.len(), raw.len());
    for c in OptionalColumn::ALL {
        let f = report.columns[c.index()];
        assert_eq!(
            f.present + f.carried_forward + f.defaulted,
            raw.len(),
            "{}",
            c.name()
        );
    }
}
