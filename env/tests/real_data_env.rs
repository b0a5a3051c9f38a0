//! The env on real ERCOT data from ../shared/data (skipped with a note when absent).

use powermix_env::data::load_market_data;
use powermix_env::env::{Env, Window};
use powermix_env::time::parse_period;
use powermix_env::{ACTION_DIM, Market, SiteConfig};
use std::path::Path;
use std::sync::Arc;

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/ercot/hb_west_2018_2024.parquet"
);

fn real_market() -> Option<Arc<Market>> {
    if !Path::new(FILE).exists() {
        eprintln!("note: {FILE} not found; real-data env test skipped");
        return None;
    }
    let cfg = SiteConfig::default_site();
    let (data, report) =
        load_market_data(Path::new(FILE), &cfg.data_fill).expect("shared data loads");
    // The load gap of Oct-Dec 2021 and the hashprice gap of early 2020 are filled and counted.
    assert!(
        report.summary().contains("system_load_mw"),
        "{}",
        report.summary()
    );
    Some(Arc::new(Market::new(data, cfg)))
}

#[test]
fn uri_is_an_emergency_and_summer_months_have_four_cp_peaks() {
    let Some(m) = real_market() else { return };
    let (s, e) = parse_period("2021-02-15..2021-02-19").unwrap();
    let (i, j) = (m.data.index_at(s), m.data.index_at(e));
    assert!(
        m.emergency[i..j].iter().all(|&x| x),
        "Uri days are emergencies"
    );
    let (s, e) = parse_period("2024-03-01..2024-04-01").unwrap();
    let calm = m.emergency[m.data.index_at(s)..m.data.index_at(e)]
        .iter()
        .filter(|&&x| x)
        .count();
    assert_eq!(calm, 0, "no emergency in March 2024");
    // Each 4CP month of each year carries exactly one peak's weight, on a weekday afternoon.
    for year in 2018..=2024 {
        for month in 6..=9 {
            let (s, e) =
                parse_period(&format!("{year}-{month:02}-01..{year}-{:02}-01", month + 1)).unwrap();
            let (i, j) = (m.data.index_at(s), m.data.index_at(e));
            let w: f64 = m.four_cp_weight[i..j].iter().sum();
            assert!((w - 1.0).abs() < 1e-9, "{year}-{month}: weight {w}");
            let peak = (i..j).find(|&t| m.four_cp_weight[t] > 0.0).unwrap();
            let l = m.local[peak];
            assert!(
                (13..=19).contains(&l.hour),
                "{year}-{month} peak at local hour {}",
                l.hour
            );
        }
    }
    assert_eq!(m.four_cp_weight.iter().sum::<f64>(), 28.0);
}

#[test]
fn a_week_of_2023_settles_with_the_identity_on_every_step() {
    let Some(m) = real_market() else { return };
    let (s, e) = parse_period("2023-08-07..2023-08-14").unwrap();
    let mut env = Env::new(
        m.clone(),
        Window::Whole {
            start: m.data.index_at(s),
            end: m.data.index_at(e),
        },
        1,
    )
    .unwrap();
    env.reset(Some(1));
    let mut total = 0.0;
    let mut steps = 0;
    loop {
        let r = env.step(&[1.0; ACTION_DIM]).unwrap();
        assert_eq!(
            r.reward,
            r.info.settlement.ledger.lines().iter().sum::<f64>()
        );
        total += r.reward;
        steps += 1;
        if r.truncated || r.terminated {
            break;
        }
    }
    assert_eq!(steps, 7 * 96);
    assert!(
        total.is_finite() && total > 0.0,
        "AI revenue dominates a normal week: {total}"
    );
}
