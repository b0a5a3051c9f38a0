//! The env on real ERCOT data from ../shared/data. Ignored by default (the folder sits
//! beside the clone, not in it); CI runs them with `cargo test --workspace -- --include-ignored`.

use powermix_data::load_market_data;
use powermix_env::env::{Env, Window};
use powermix_env::time::parse_period;
use powermix_env::{ACTION_DIM, Market, SiteConfig};
use std::path::Path;
use std::sync::Arc;

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/ercot/hb_west_2018_2024.parquet"
);

fn real_market() -> Arc<Market> {
    assert!(
        Path::new(FILE).exists(),
        "{FILE} is missing: these tests need ../shared/data beside the clone"
    );
    let cfg = SiteConfig::default_site();
    let (data, report) =
        load_market_data(Path::new(FILE), &cfg.data_fill).expect("shared data loads");
    // The load gap of Oct-Dec 2021 and the hashprice gap of early 2020 are filled and counted.
    assert!(
        report.summary().contains("system_load_mw"),
        "{}",
        report.summary()
    );
    Arc::new(Market::new(data, cfg))
}

#[test]
#[ignore = "needs ../shared/data"]
fn emergencies_come_from_notices_and_summer_months_have_four_cp_peaks() {
    let m = real_market();
    let h = m.hindsight();
    // Uri's rotating outages: firm load shed in force from 01:25 on 15 Feb to late 17 Feb,
    // not on the calm days around it.
    let (s, e) = parse_period("2021-02-15..2021-02-18").unwrap();
    let (i, j) = (m.index_at(s), m.index_at(e));
    let shed = h.in_force[i..j].iter().filter(|x| x.load_shed).count();
    assert!(shed >= 2 * 96 + 80, "{shed} load-shed intervals");
    let (s, e) = parse_period("2021-02-01..2021-02-14").unwrap();
    assert!(
        h.in_force[m.index_at(s)..m.index_at(e)]
            .iter()
            .all(|x| !x.active())
    );
    // 2023: the EEA2 of 6 September is the year's only emergency, though prices reached
    // the cap on other days: a high price is never an emergency.
    let (s, e) = parse_period("2023-01-01..2024-01-01").unwrap();
    let (i, j) = (m.index_at(s), m.index_at(e));
    let days: std::collections::BTreeSet<(u8, u8)> = (i..j)
        .filter(|&t| h.in_force[t].active())
        .map(|t| (m.local[t].month, m.local[t].day))
        .collect();
    assert_eq!(days.into_iter().collect::<Vec<_>>(), vec![(9, 6)]);
    assert!(h.data.rt_price[i..j].iter().any(|&p| p > 4500.0));
    let h = m.hindsight();
    // Each 4CP month of each year carries exactly one peak's weight, on a weekday afternoon.
    for year in 2018..=2024 {
        for month in 6..=9 {
            let (s, e) =
                parse_period(&format!("{year}-{month:02}-01..{year}-{:02}-01", month + 1)).unwrap();
            let (i, j) = (m.index_at(s), m.index_at(e));
            let w: f64 = h.four_cp_weight[i..j].iter().sum();
            assert!((w - 1.0).abs() < 1e-9, "{year}-{month}: weight {w}");
            let peak = (i..j).find(|&t| h.four_cp_weight[t] > 0.0).unwrap();
            let l = m.local[peak];
            assert!(
                (13..=19).contains(&l.hour),
                "{year}-{month} peak at local hour {}",
                l.hour
            );
        }
    }
    assert_eq!(h.four_cp_weight.iter().sum::<f64>(), 28.0);
}

#[test]
#[ignore = "needs ../shared/data"]
fn a_week_of_2023_settles_with_the_identity_on_every_step() {
    let m = real_market();
    let (s, e) = parse_period("2023-08-07..2023-08-14").unwrap();
    let mut env = Env::new(
        m.clone(),
        Window::Whole {
            start: m.index_at(s),
            end: m.index_at(e),
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
