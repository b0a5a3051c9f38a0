//! The forecasts on the real HB_WEST file: labels (one peak hour per 4CP month), a short fit
//! whose outputs are finite, and the scores' bookkeeping.

use powermix_forecast::price::{self, Target};
use powermix_forecast::{History, Split, fourcp, gate};
use std::path::Path;

#[test]
#[ignore = "needs ../shared/data"]
fn real_hb_west_labels_fit_and_score() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/ercot/hb_west_2018_2024.parquet");
    let h = History::load(&path).unwrap();
    assert_eq!(h.settlement_point(), "HB_WEST");
    for y in 2018..=2024 {
        let rows = fourcp::rows(&h, y..=y);
        let peaks: Vec<_> = rows.iter().filter(|r| r.peak_hour).collect();
        assert_eq!(peaks.len(), 4, "{y}: one peak hour per 4CP month");
        let mut months: Vec<i32> = peaks.iter().map(|r| r.month_key).collect();
        months.dedup();
        assert_eq!(months.len(), 4);
    }
    // Day-ahead prices exist from 2021 only, reserve prices from 2022 (ECRS from 10 June
    // 2023): the gate's reserve rows start there, one per hour of D and product.
    assert!(!h.da_present[1000]);
    let (rt, res) = gate::rows(&h, 2021..=2023);
    assert_eq!(rt.len(), 3 * 8760);
    let first = |p: usize| {
        let r = res.iter().find(|r| r.product == p).unwrap();
        let l = h.market.local[h.market.day_range(r.t).1];
        (l.year, l.month, l.day)
    };
    assert_eq!(first(0), (2022, 1, 2));
    assert_eq!(first(2), (2022, 1, 2));
    assert_eq!(first(1), (2023, 6, 11));
    let split = Split::standard("HB_WEST");
    let (fr, sr) = (fourcp::rows(&h, 2022..=2022), fourcp::rows(&h, 2023..=2023));
    let (m, log) = fourcp::fit_and_select(
        fourcp::Variant::LoadForecast,
        &fr,
        &sr,
        split.clone(),
        25,
        "test",
    );
    assert_eq!(
        log.len(),
        fourcp::candidates(fourcp::Variant::LoadForecast).len()
    );
    let p = fourcp::predict(&m, &sr);
    assert!(
        p.iter()
            .all(|(a, b)| (0.0..=1.0).contains(a) && (0.0..=1.0).contains(b))
    );
    let s = fourcp::score(&sr, &p, &fourcp::THRESHOLDS);
    assert!(s.brier_hour.is_finite() && s.at.iter().all(|a| a.2 == 4));
    let (fr, sr) = (price::rows(&h, 2022..=2022), price::rows(&h, 2023..=2023));
    let (m, _) = price::fit_and_select(Target::Spread, &fr, &sr, split, 25, "test");
    let q = price::predict(&m, &sr);
    assert!(
        q.iter()
            .flatten()
            .all(|h| h[0] <= h[1] && h[1] <= h[2] && h.iter().all(|x| x.is_finite()))
    );
    let s = price::score(
        &sr,
        &q.into_iter().map(Some).collect::<Vec<_>>(),
        Target::Spread,
    );
    assert_eq!(s.rows, sr.len());
    assert!(s.coverage[0] < s.coverage[1] && s.coverage[1] < s.coverage[2]);
}
